#include "engine/range_tombstones.h"

#include <algorithm>
#include <set>

#include "base/coding.h"

namespace lsm4kv::engine {

FragmentedTombstones::FragmentedTombstones(const std::vector<RangeTombstone>& tombstones) {
  std::vector<std::string_view> bounds;
  std::vector<const RangeTombstone*> by_begin, by_end;
  for (const RangeTombstone& t : tombstones) {
    if (!(t.begin < t.end)) continue;
    bounds.push_back(t.begin);
    bounds.push_back(t.end);
    by_begin.push_back(&t);
    by_end.push_back(&t);
  }
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  std::sort(by_begin.begin(), by_begin.end(),
            [](auto* a, auto* b) { return a->begin < b->begin; });
  std::sort(by_end.begin(), by_end.end(), [](auto* a, auto* b) { return a->end < b->end; });

  // Sweep the boundaries left to right keeping the multiset of active seqs.
  std::multiset<SequenceNumber> active;
  size_t bi = 0, ei = 0;
  for (size_t i = 0; i + 1 < bounds.size(); i++) {
    std::string_view at = bounds[i];
    while (ei < by_end.size() && by_end[ei]->end <= at) active.erase(active.find(by_end[ei++]->seq));
    while (bi < by_begin.size() && by_begin[bi]->begin <= at) active.insert(by_begin[bi++]->seq);
    if (active.empty()) continue;
    SequenceNumber seq = *active.rbegin();
    if (!fragments_.empty() && fragments_.back().end == at && fragments_.back().seq == seq) {
      fragments_.back().end = std::string(bounds[i + 1]);
    } else {
      fragments_.push_back({std::string(at), std::string(bounds[i + 1]), seq});
    }
  }
}

FragmentedTombstones FragmentedTombstones::with(const RangeTombstone& t) const {
  FragmentedTombstones out;
  std::vector<RangeTombstone>& o = out.fragments_;
  o.reserve(fragments_.size() + 2);
  // Appends [b, e) with seq, coalescing with an adjacent fragment of the same
  // seq as the constructor does, so that the result is the same.
  auto emit = [&o](std::string_view b, std::string_view e, SequenceNumber seq) {
    if (!(b < e)) return;
    if (!o.empty() && o.back().end == b && o.back().seq == seq) {
      o.back().end = std::string(e);
    } else {
      o.push_back({std::string(b), std::string(e), seq});
    }
  };
  const std::string_view b = t.begin, e = t.end;
  std::string_view rest = b;  // [rest, e): the part of t not emitted yet
  bool overlaps = b < e;
  for (const RangeTombstone& f : fragments_) {
    if (!overlaps || f.end <= b) {
      emit(f.begin, f.end, f.seq);
    } else if (e <= f.begin) {
      emit(rest, e, t.seq);  // the rest of t comes before f
      rest = e;
      emit(f.begin, f.end, f.seq);
    } else {
      std::string_view lo = std::max<std::string_view>(f.begin, b);
      std::string_view hi = std::min<std::string_view>(f.end, e);
      emit(f.begin, lo, f.seq);  // f before t
      emit(rest, f.begin, t.seq);  // t in the gap before f
      emit(lo, hi, std::max(f.seq, t.seq));
      emit(hi, f.end, f.seq);  // f after t
      rest = std::max(rest, hi);
    }
  }
  if (overlaps) emit(rest, e, t.seq);
  return out;
}

SequenceNumber FragmentedTombstones::max_covering_seq(std::string_view key) const {
  // The last fragment whose begin <= key.
  auto it = std::upper_bound(fragments_.begin(), fragments_.end(), key,
                             [](std::string_view k, const RangeTombstone& f) { return k < f.begin; });
  if (it == fragments_.begin()) return 0;
  --it;
  return key < it->end ? it->seq : 0;
}

void FragmentedTombstones::encode_to(std::string* dst) const {
  put_varint64(dst, fragments_.size());
  for (const RangeTombstone& f : fragments_) {
    put_length_prefixed(dst, f.begin);
    put_length_prefixed(dst, f.end);
    put_varint64(dst, f.seq);
  }
}

Status FragmentedTombstones::decode_from(std::string_view in, FragmentedTombstones* out) {
  uint64_t n;
  if (!get_varint64(&in, &n)) return Status::corruption("range tombstones: bad count");
  std::vector<RangeTombstone> frags;
  for (uint64_t i = 0; i < n; i++) {
    std::string_view b, e;
    uint64_t seq;
    if (!get_length_prefixed(&in, &b) || !get_length_prefixed(&in, &e) || !get_varint64(&in, &seq))
      return Status::corruption("range tombstones: truncated fragment");
    if (!(b < e) || (!frags.empty() && b < frags.back().end))
      return Status::corruption("range tombstones: fragments out of order");
    frags.push_back({std::string(b), std::string(e), seq});
  }
  out->fragments_ = std::move(frags);
  return Status::OK();
}

}  // namespace lsm4kv::engine
