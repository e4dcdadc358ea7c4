// TensorLog's garbage collection: executing the planner's choice, the
// collection journal, commit and abort. See tensor_log.h for the protocol.
//
// move_records is a collection of chosen records whose segment stays (no
// segments in its journal): retirement marks the originals dead, and they
// go with the segment when it is collected. Its commit writes those marks
// to DEAD.log after the journal is gone (commit_collection says why).
//
// Segments of the plan without a live record are collected first and alone:
// nothing is copied, so nothing is written and no journal is needed (a crash
// before commit leaves dead segments behind, which the next collection takes
// again). On a full disk that frees space before any copy needs it.
//
// Journal file GC-<id>.pending, written atomically (write_file_atomic) after
// the new copies are durable and before collect() returns:
//   varint64 id, varint64 n, n x varint64 segment id,
//   varint64 m, m x (Location from, Location to),
//   varint64 k, k x Location lost, then u64 XXH3-64 of everything before.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

#include "base/checksum.h"
#include "base/coding.h"
#include "tensorlog/dead_log.h"
#include "tensorlog/tensor_log.h"

namespace lsm4kv::tensorlog {
namespace {

// A collection copies in chunks of about this many bytes: one read of all of
// a chunk's records at once (in parallel through the ring), then one write
// in the copy head's queue. Puts that share that head (one FIFO) queue
// behind one chunk at most, so it is small (64 MiB chunks held puts for up
// to ~1 s in the store demo while a region's pages were copied under load);
// 1 MiB read the demo's 1 MiB pages one at a time. The copies are synced
// once, at the end.
constexpr size_t kCopyChunkBytes = size_t{8} << 20;

std::string encode_journal(const Collection& c) {
  std::string out;
  put_varint64(&out, c.id);
  put_varint64(&out, c.segments.size());
  for (uint64_t s : c.segments) put_varint64(&out, s);
  put_varint64(&out, c.relocations.size());
  for (const Relocation& r : c.relocations) {
    r.from.encode_to(&out);
    r.to.encode_to(&out);
  }
  put_varint64(&out, c.lost.size());
  for (const Location& l : c.lost) l.encode_to(&out);
  put_fixed64(&out, checksum64(out));
  return out;
}

bool decode_journal(std::string_view in, Collection* c) {
  if (in.size() < 8 || checksum64(in.substr(0, in.size() - 8)) !=
                           decode_fixed64(in.data() + in.size() - 8))
    return false;
  in.remove_suffix(8);
  uint64_t n = 0;
  if (!get_varint64(&in, &c->id) || !get_varint64(&in, &n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t s = 0;
    if (!get_varint64(&in, &s)) return false;
    c->segments.push_back(s);
  }
  if (!get_varint64(&in, &n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Relocation r;
    if (!r.from.decode_from(&in) || !r.to.decode_from(&in)) return false;
    c->relocations.push_back(r);
  }
  if (!get_varint64(&in, &n)) return false;
  for (uint64_t i = 0; i < n; ++i) {
    Location l;
    if (!l.decode_from(&in)) return false;
    c->lost.push_back(l);
  }
  return in.empty();
}

}  // namespace

std::string TensorLog::journal_name(uint64_t id) const {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "GC-%016llu.pending", static_cast<unsigned long long>(id));
  return buf;
}

Status TensorLog::load_journals(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    if (!name.starts_with("GC-") || !name.ends_with(".pending")) continue;
    std::string data;
    LSM4KV_RETURN_IF_ERROR(read_file(options_.fs, dir_ + "/" + name, &data));
    Collection c;
    if (!decode_journal(data, &c))
      return Status::corruption(dir_ + "/" + name + ": bad collection journal");
    next_collection_id_ = std::max(next_collection_id_, c.id + 1);
    for (uint64_t s : c.segments) collecting_[s] = true;
    pending_[c.id] = std::move(c);
  }
  return Status::OK();
}

Status TensorLog::check_none_pending_locked() const {
  if (pending_.empty()) return Status::OK();
  return Status::busy("collection " + std::to_string(pending_.begin()->first) +
                      " is pending; commit or abort it first");
}

Status TensorLog::collect(const CollectOptions& options, Collection* out) {
  *out = Collection{};
  LSM4KV_RETURN_IF_ERROR(check_writable("collect"));
  std::vector<ReadExtent> extents;
  {
    std::lock_guard<std::mutex> l(mu_);
    LSM4KV_RETURN_IF_ERROR(check_none_pending_locked());
    std::vector<SegmentSnapshot> snapshot;
    for (const auto& [id, s] : segments_)
      snapshot.push_back({id, s.file_bytes, s.live_bytes, s.dead_bytes,
                          collectable_locked(id, s)});
    std::vector<uint64_t> plan = plan_collection(snapshot, options, segment_size());
    if (plan.empty()) return Status::OK();
    std::vector<uint64_t> dead;
    for (uint64_t id : plan)
      if (segments_.at(id).live_bytes == 0) dead.push_back(id);
    if (!dead.empty()) {
      out->id = next_collection_id_++;
      out->segments = dead;
      for (uint64_t id : dead) {
        collecting_[id] = true;
        out->victim_bytes += segments_.at(id).file_bytes;
      }
      victim_bytes_ += out->victim_bytes;
      pending_[out->id] = *out;
      return Status::OK();
    }
    out->id = next_collection_id_++;
    out->segments = plan;
    for (uint64_t id : plan) {
      collecting_[id] = true;
      const SegmentRecords& s = segments_.at(id);
      out->victim_bytes += s.file_bytes;
      for (const SegmentRecord& r : s.records)
        if (!r.dead) {
          extents.push_back({s.file, {id, r.offset, r.length}});
          out->planned_bytes += allocated_bytes(r.length);
        }
    }
    victim_bytes_ += out->victim_bytes;
    victim_planned_bytes_ += out->planned_bytes;
  }
  return copy_and_journal(extents, out);
}

Status TensorLog::move_records(std::span<const Location> records, Collection* out) {
  *out = Collection{};
  LSM4KV_RETURN_IF_ERROR(check_writable("move_records"));
  std::vector<ReadExtent> extents;
  {
    std::lock_guard<std::mutex> l(mu_);
    LSM4KV_RETURN_IF_ERROR(check_none_pending_locked());
    for (const Location& loc : records) {
      auto it = segments_.find(loc.segment);
      if (it == segments_.end()) continue;  // collected since
      if (!collectable_locked(it->first, it->second))
        return Status::invalid_argument("move_records: segment " + std::to_string(loc.segment) +
                                        " is active or in a collection");
      const size_t i = it->second.records.find(loc.offset);
      if (i == RecordTable::kNone || it->second.records.dead(i)) continue;  // dead since
      extents.push_back({it->second.file, {loc.segment, loc.offset, it->second.records.at(i).length}});
    }
    if (extents.empty()) return Status::OK();
    out->id = next_collection_id_++;
  }
  return copy_and_journal(extents, out);
}

Status TensorLog::copy_and_journal(const std::vector<ReadExtent>& extents, Collection* out) {
  Status s = copy_live(extents, out);
  if (s.ok()) s = write_journal(*out);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    pending_[out->id] = *out;
    return Status::OK();
  }
  // The copies made so far are orphans.
  std::vector<Location> orphans;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t id : out->segments) collecting_.erase(id);
    copying_bytes_ -= out->copied_bytes;
    release_victims_locked(out);
    for (const Relocation& r : out->relocations)
      if (mark_dead_locked(r.to)) orphans.push_back(r.to);
  }
  dead_log_->append(orphans).ignore_error();  // unrecorded orphans are found as unreferenced at open
  *out = Collection{};
  return s;
}

// One chunk of a copy: its extents read into a batch laid out for where the
// copy head's segment is expected to end when the chunk is appended.
struct TensorLog::CopyChunk {
  std::span<const ReadExtent> extents;
  EncodedBatch* batch = nullptr;
  std::vector<bool> good;
  Status status;
};

void TensorLog::read_copy_chunk(CopyChunk* c, uint64_t tail) {
  std::vector<uint64_t> lengths;
  for (const ReadExtent& e : c->extents) lengths.push_back(e.location.length);
  layout_batch(lengths, tail, c->batch);
  c->good.assign(c->extents.size(), false);
  auto visit = [&](size_t i, const char* rec, const Status& io, bool*) {
    RecordHeader h;
    if (!io.ok() || !verify_record(rec, c->extents[i].location, &h).ok()) return;
    char* copy = c->batch->buffer.data() + c->batch->offsets[i];
    std::memcpy(copy, rec, c->extents[i].location.length);
    rebind_record(copy, c->extents[i].location.segment, 0);  // the writer binds it to its new segment
    c->good[i] = true;
  };
  std::unique_ptr<UringReader> reader;
  c->status = acquire_reader(&reader);
  if (!c->status.ok()) return;
  c->status = reader->read(c->extents, visit, nullptr);
  release_reader(std::move(reader));
}

Status TensorLog::copy_live(const std::vector<ReadExtent>& extents, Collection* out) {
  std::lock_guard<std::mutex> copying(copy_mu_);
  // The extents in chunks of about kCopyChunkBytes; chunk k + 1 is read
  // (on a helper thread) while chunk k is appended, into the other batch.
  std::vector<std::span<const ReadExtent>> chunks;
  for (size_t begin = 0; begin < extents.size();) {
    size_t end = begin;
    uint64_t bytes = 0;
    while (end < extents.size() && (end == begin || bytes < kCopyChunkBytes))
      bytes += allocated_bytes(extents[end++].location);
    chunks.emplace_back(extents.data() + begin, end - begin);
    begin = end;
  }
  if (chunks.empty()) return Status::OK();
  SegmentWriter* head = writer(options_.copy_head);
  CopyChunk cur{chunks[0], &copy_batches_[0], {}, Status::OK()}, next;
  read_copy_chunk(&cur, head->tail_hint());  // laid out for where the segment ends now: copied byte for byte
  for (size_t k = 0; k < chunks.size(); ++k) {
    LSM4KV_RETURN_IF_ERROR(cur.status);
    EncodedBatch& batch = *cur.batch;
    std::vector<Location> from;
    std::vector<std::string_view> kept;
    for (size_t i = 0; i < cur.extents.size(); ++i) {
      if (cur.good[i]) {
        from.push_back(cur.extents[i].location);
        kept.push_back({batch.buffer.data() + batch.offsets[i], cur.extents[i].location.length});
      } else {
        out->lost.push_back(cur.extents[i].location);
      }
    }
    if (kept.size() != cur.extents.size()) batch = batch_of_encoded(kept, batch.start);
    std::thread reading;
    if (k + 1 < chunks.size()) {
      next = CopyChunk{chunks[k + 1], &copy_batches_[(k + 1) % 2], {}, Status::OK()};
      // Laid out for where this chunk's append leaves the segment; a roll
      // lays it out again (SegmentWriter::place, a memcpy).
      const uint64_t tail = batch.bytes % kAlign;
      try {
        reading = std::thread([this, &next, tail] { read_copy_chunk(&next, tail); });
      } catch (const std::system_error&) {
        read_copy_chunk(&next, tail);  // no thread to be had: read it first, as before the read-ahead
      }
    }
    std::vector<Location> to;
    // Not synced chunk by chunk: the sync below makes the copy durable
    // before its journal, and a segment the copy fills is synced before its
    // seal (bench/RESULTS.md, seventeenth step of issue 12).
    Status s = kept.empty() ? Status::OK() : head->append(&batch, SegmentWriter::Durability::kByCaller, &to);
    if (reading.joinable()) reading.join();
    LSM4KV_RETURN_IF_ERROR(s);
    uint64_t copied = 0;
    for (size_t i = 0; i < to.size(); ++i) {
      out->relocations.push_back({from[i], to[i]});
      copied += allocated_bytes(to[i]);
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      out->copied_bytes += copied;
      copying_bytes_ += copied;
    }
    if (k + 1 < chunks.size()) cur = std::move(next);
  }
  // Durable before the journal names them (and the caller's index does).
  return out->relocations.empty() ? Status::OK() : head->sync();
}

void TensorLog::release_victims_locked(Collection* c) {
  victim_bytes_ -= c->victim_bytes;
  victim_planned_bytes_ -= c->planned_bytes;
  c->victim_bytes = c->planned_bytes = 0;
}

Status TensorLog::write_journal(const Collection& c) {
  return write_file_atomic(options_.fs, dir_, journal_name(c.id), encode_journal(c));
}

Status TensorLog::retire_collection(uint64_t id) {
  LSM4KV_RETURN_IF_ERROR(check_writable("retire_collection"));
  std::lock_guard<std::mutex> l(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return Status::not_found("collection " + std::to_string(id) + " is not pending");
  Collection& c = it->second;
  if (c.retired) return Status::OK();
  // A record reported dead after it was copied: its copy is dead too. A
  // record moved out of a segment that stays (move_records): the original
  // is dead from here.
  for (const Relocation& r : c.relocations) {
    auto seg = segments_.find(r.from.segment);
    if (seg == segments_.end()) continue;
    const size_t i = seg->second.records.find(r.from.offset);
    if (i == RecordTable::kNone) continue;
    if (seg->second.records.dead(i)) {
      if (mark_dead_locked(r.to)) c.retired_dead.push_back(r.to);
    } else if (std::find(c.segments.begin(), c.segments.end(), r.from.segment) == c.segments.end()) {
      if (mark_dead_locked(r.from)) c.retired_dead.push_back(r.from);
    }
  }
  // Readers that resolved a victim keep its descriptors until they finish
  // (a spare is not written over before: TensorLog::Spare::file).
  for (uint64_t s : c.segments) {
    auto seg = segments_.find(s);
    if (seg == segments_.end()) continue;
    retired_files_[s] = {seg->second.file, seg->second.file_bytes};
    segments_.erase(seg);
  }
  copying_bytes_ -= c.copied_bytes;  // the originals leave the count with them
  c.copied_bytes = 0;
  release_victims_locked(&c);
  c.retired = true;
  return Status::OK();
}

bool TensorLog::would_keep_spare(uint64_t id) const {
  if (reuse_files_within_.load(std::memory_order_relaxed) == 0 || options_.read_only) return false;
  uint64_t segment = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pending_.find(id);
    if (spare_ || it == pending_.end() || it->second.segments.empty()) return false;
    segment = it->second.segments.front();
  }
  uint64_t bytes = 0;
  if (!options_.fs->file_size(dir_ + "/" + segment_file_name(segment), &bytes).ok() || bytes < 2 * kAlign)
    return false;
  const LogUsage u = usage();
  return u.file_bytes + u.spare_bytes + bytes <= reuse_files_within_.load(std::memory_order_relaxed);
}

// The first step of a commit: retires collection id and settles its
// retired marks (settle_dead: the caller's reference changes made durable
// through before_reclaim, then the marks in DEAD.log), which are then
// forgotten: written, and nothing adds to them once retired. A move's marks
// wait for its journal to go (commit_collection says why): for a move this
// only syncs, and only with sync_move. *out (if given) gets the collection
// as it was before its marks were forgotten.
Status TensorLog::settle_retired(uint64_t id, const char* what, bool sync_move, Collection* out) {
  LSM4KV_RETURN_IF_ERROR(check_writable(what));
  LSM4KV_RETURN_IF_ERROR(retire_collection(id));
  Collection c;
  {
    std::lock_guard<std::mutex> l(mu_);
    const Collection& pending = pending_.at(id);
    if (out != nullptr) {
      c = pending;
    } else {
      c.segments = pending.segments;
      c.retired_dead = pending.retired_dead;
    }
  }
  const bool moved_only = c.segments.empty();
  if (moved_only && !sync_move) return Status::OK();
  LSM4KV_RETURN_IF_ERROR(settle_dead(moved_only ? std::span<const Location>() : c.retired_dead));
  if (!moved_only) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pending_.find(id);
    if (it != pending_.end()) it->second.retired_dead.clear();
  }
  if (out != nullptr) *out = std::move(c);
  return Status::OK();
}

Status TensorLog::settle_collection(uint64_t id) {
  return settle_retired(id, "settle_collection", /*sync_move=*/false, nullptr);
}

Status TensorLog::commit_collection(uint64_t id, bool may_keep_spare) {
  const bool keep = may_keep_spare && would_keep_spare(id);
  // First the caller's reference changes are made durable (before_reclaim:
  // an index that still named a victim after a crash would name nothing),
  // and with them the deferred marks go to DEAD.log. The retired marks go
  // before the victims do: once they have, the next open cannot find these.
  // A move's marks wait for its journal to go: an open that finds the
  // journal retires the move again, and would take an original that
  // DEAD.log already calls dead for a record that died after its copy (and
  // kill the copy the index names). Until DEAD.log has them, the originals
  // are records nothing references, which the store's open finds anyway.
  Collection c;
  LSM4KV_RETURN_IF_ERROR(settle_retired(id, "commit_collection", /*sync_move=*/true, &c));
  const bool moved_only = c.segments.empty();
  drop_dead_reader_files();
  FileSystem* fs = options_.fs;
  bool removed = false;  // a move, or a spare kept alone, removes no file: no directory to sync
  for (size_t i = 0; i < c.segments.size(); i++) {
    std::string path = dir_ + "/" + segment_file_name(c.segments[i]);
    uint64_t bytes = 0;
    if (i == 0 && keep && fs->file_size(path, &bytes).ok()) {
      // The spare: its name stays until a new segment takes it (after a
      // crash before that it is an old segment that nothing references).
      std::lock_guard<std::mutex> l(mu_);
      spare_ = Spare{c.segments[i], bytes, retired_files_[c.segments[i]].file};
      spare_ready_ = true;
      continue;
    }
    Status st = fs->remove(path);
    if (!st.ok() && fs->exists(path)) return st;
    removed = true;
  }
  if (removed) LSM4KV_RETURN_IF_ERROR(fs->sync_dir(dir_));
  // A collection of dead segments only has no journal.
  const std::string journal = dir_ + "/" + journal_name(id);
  if (!c.relocations.empty() || !c.lost.empty() || fs->exists(journal)) {
    LSM4KV_RETURN_IF_ERROR(fs->remove(journal));
    LSM4KV_RETURN_IF_ERROR(fs->sync_dir(dir_));
  }
  if (moved_only) dead_log_->append(c.retired_dead).ignore_error();  // marked in memory; see above
  std::lock_guard<std::mutex> l(mu_);
  for (uint64_t s : c.segments) {
    collecting_.erase(s);
    retired_files_.erase(s);
  }
  pending_.erase(id);
  return Status::OK();
}

Status TensorLog::abort_collection(uint64_t id) {
  LSM4KV_RETURN_IF_ERROR(check_writable("abort_collection"));
  std::vector<Location> copies;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end())
      return Status::not_found("collection " + std::to_string(id) + " is not pending");
    for (uint64_t s : it->second.segments)
      if (it->second.retired || !segments_.contains(s))
        return Status::invalid_argument("collection " + std::to_string(id) +
                                        " has started deleting its segments; commit it");
    for (const Relocation& r : it->second.relocations)
      if (mark_dead_locked(r.to)) copies.push_back(r.to);
  }
  LSM4KV_RETURN_IF_ERROR(dead_log_->append_durable(copies));
  const std::string journal = dir_ + "/" + journal_name(id);
  if (options_.fs->exists(journal)) {
    LSM4KV_RETURN_IF_ERROR(options_.fs->remove(journal));
    // Without it a power cut may bring the journal back: the next open would
    // resolve the collection again.
    LSM4KV_RETURN_IF_ERROR(options_.fs->sync_dir(dir_));
  }
  std::lock_guard<std::mutex> l(mu_);
  for (uint64_t s : pending_[id].segments) collecting_.erase(s);
  copying_bytes_ -= pending_[id].copied_bytes;
  release_victims_locked(&pending_[id]);
  pending_.erase(id);
  return Status::OK();
}

std::vector<Collection> TensorLog::pending_collections() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Collection> out;
  for (const auto& [id, c] : pending_) out.push_back(c);
  return out;
}

}  // namespace lsm4kv::tensorlog
