// tensorlog_bench: the tensor log against the raw disk, in the same run.
//
//   read   random batches of records (O_DIRECT, cold in the guest) through
//          TensorLog::read, and the same number of random extents of the same
//          size from a plain file of the same size through a bare io_uring
//          loop of the same queue depth and read size; ratio = log / raw in
//          payload bytes per second. Raw and log runs alternate per point.
//          --memory device reads the log's records into GPU memory (pinned
//          staging, cudaMemcpyAsync on one stream, the read returning once
//          the copies are done); the raw side still reads into host memory,
//          so the ratio says what the way to the GPU costs over the disk.
//   write  batched appends (SyncMode::kPerBatch) against sequential O_DIRECT
//          pwrite of the same bytes + fdatasync per batch, alternating
//          batch by batch; also the median of the ratios of 8 slices.
//   codec  encode / decode speed (one core) and ratio of LZ4 and shuffle+LZ4
//          on synthetic bf16 tensors shaped like a KV cache page.
//
// Everything is written under --dir and removed at the end.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "tensorlog/codec.h"
#include "tensorlog/device_copy.h"
#include "tensorlog/tensor_log.h"

#if LSM4KV_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

using namespace lsm4kv;
using lsm4kv::bench::die;
using namespace lsm4kv::tensorlog;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  std::string dir = "/tmp/lsm4kv_tl_bench";
  std::string mode = "all";
  std::vector<std::string> sizes = {"64K", "256K", "1M", "4M"};
  std::vector<int> batches = {1, 8, 64, 256};
  double file_gb = 4;
  double duration = 2;
  double write_gb = 1;
  int write_slices = 8;
  unsigned queue_depth = 64;
  size_t tag_bytes = 256;
  int min_write_batch = 8;
  std::string memory = "host";
  bool keep = false;
};

// Where the read part's log reads land: host memory, or one GPU buffer (and
// the stream its copies go to) when --memory device (main() has checked
// that a device is there).
class Destination {
 public:
  Destination(const std::string& memory, size_t bytes) : host_(memory == "host" ? bytes : 0) {
    if (memory == "host") return;
#if LSM4KV_WITH_CUDA
    if (cudaMalloc(reinterpret_cast<void**>(&device_), bytes) != cudaSuccess ||
        cudaStreamCreate(reinterpret_cast<cudaStream_t*>(&stream_)) != cudaSuccess)
      die(Status::io_error("cudaMalloc / cudaStreamCreate"), "device buffer");
#endif
  }
  ~Destination() {
#if LSM4KV_WITH_CUDA
    if (device_ != nullptr) cudaFree(device_), cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
#endif
  }
  char* data() { return device_ != nullptr ? device_ : host_.data(); }
  MemoryKind kind() const { return device_ != nullptr ? MemoryKind::kDevice : MemoryKind::kHost; }
  ReadOptions options() const {
    ReadOptions o;
    o.cuda_stream = stream_;
    return o;
  }

 private:
  std::vector<char> host_;
  char* device_ = nullptr;
  void* stream_ = nullptr;
};

// Bytes of the segment files (what the records take on disk, headers and
// seals included).
uint64_t log_file_bytes(const TensorLog& log) {
  uint64_t n = 0;
  for (const SegmentInfo& s : log.segments()) n += s.file_bytes;
  return n;
}

size_t parse_size(const std::string& s) {
  size_t n = std::stoull(s);
  char u = s.empty() ? 0 : s.back();
  if (u == 'K' || u == 'k') n <<= 10;
  if (u == 'M' || u == 'm') n <<= 20;
  if (u == 'G' || u == 'g') n <<= 30;
  return n;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// ---------------------------------------------------------------------------
// The raw baseline: random aligned extents from a plain file, io_uring,
// O_DIRECT, registered buffer, reads of at most 1 MiB, queue_depth in flight.

class RawReader {
 public:
  RawReader(const std::string& path, unsigned depth, size_t buffer_bytes) : depth_(depth) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECT);
    if (fd_ < 0) std::perror("open raw"), std::exit(1);
    io_uring_queue_init(depth, &ring_, 0);
    void* p = nullptr;
    if (::posix_memalign(&p, 4096, buffer_bytes) != 0) std::exit(1);
    buf_ = static_cast<char*>(p);
    size_ = buffer_bytes;
    iovec iov{buf_, size_};
    io_uring_register_buffers(&ring_, &iov, 1);
  }
  ~RawReader() {
    io_uring_queue_exit(&ring_);
    ::close(fd_);
    std::free(buf_);
  }
  // Reads `len` bytes at each offset; returns bytes read.
  uint64_t read(const std::vector<uint64_t>& offsets, size_t len) {
    const size_t kIo = size_t{1} << 20;
    struct Io {
      uint64_t off;
      size_t len;
    };
    std::vector<Io> ios;
    for (uint64_t o : offsets)
      for (size_t d = 0; d < len; d += kIo) ios.push_back({o + d, std::min(kIo, len - d)});
    size_t next = 0, done = 0, slot = 0;
    unsigned inflight = 0;
    uint64_t bytes = 0;
    while (done < ios.size()) {
      while (inflight < depth_ && next < ios.size()) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) break;
        // Buffer slots rotate through the buffer (content is not looked at).
        if (slot + ios[next].len > size_) slot = 0;
        io_uring_prep_read_fixed(sqe, fd_, buf_ + slot, static_cast<unsigned>(ios[next].len),
                                 ios[next].off, 0);
        slot += ios[next].len;
        ++next;
        ++inflight;
      }
      io_uring_submit(&ring_);
      io_uring_cqe* cqe;
      io_uring_wait_cqe(&ring_, &cqe);
      unsigned head, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        if (cqe->res < 0) std::fprintf(stderr, "raw read: %s\n", std::strerror(-cqe->res)), std::exit(1);
        bytes += static_cast<uint64_t>(cqe->res);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
      inflight -= seen;
      done += seen;
    }
    return bytes;
  }

 private:
  int fd_;
  unsigned depth_;
  io_uring ring_;
  char* buf_;
  size_t size_;
};

// Writes `bytes` of random data to path sequentially with O_DIRECT.
void write_plain_file(const std::string& path, uint64_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) std::perror("open plain"), std::exit(1);
  std::string chunk = random_bytes(8 << 20, 1);
  void* p = nullptr;
  if (::posix_memalign(&p, 4096, chunk.size()) != 0) std::exit(1);
  std::memcpy(p, chunk.data(), chunk.size());
  for (uint64_t off = 0; off < bytes; off += chunk.size())
    if (::pwrite(fd, p, chunk.size(), static_cast<off_t>(off)) < 0) std::perror("pwrite"), std::exit(1);
  ::fdatasync(fd);
  ::close(fd);
  std::free(p);
}

// ---------------------------------------------------------------------------

void bench_read(const Config& c) {
  std::printf("\n## read: random batches, O_DIRECT, queue depth %u, file %.1f GiB per size, log reads into %s memory\n",
              c.queue_depth, c.file_gb, c.memory.c_str());
  std::printf("| record | batch | raw GB/s | log GB/s | log/raw | raw batches | log batches | "
              "log file/record bytes |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::string tag(c.tag_bytes, 't');
  for (const std::string& size_name : c.sizes) {
    size_t size = parse_size(size_name);
    uint64_t file_bytes = static_cast<uint64_t>(c.file_gb * (1ull << 30));
    std::string logdir = c.dir + "/log";
    std::string plain = c.dir + "/plain";
    TensorLogOptions o;
    o.sync = SyncMode::kNone;
    o.reader.queue_depth = c.queue_depth;
    o.max_readers = 1;
    o.async_threads = 0;
    std::unique_ptr<TensorLog> log;
    die(TensorLog::open(logdir, o, &log), "open log");
    std::string payload = random_bytes(size, 7);
    std::vector<Location> all;
    // As many records as fill file_bytes of segments (however the log lays
    // them out); the plain file is as big, read in aligned extents of the
    // payload's size rounded up to a block.
    size_t per_batch = std::max<size_t>(1, (64 << 20) / (size + 32 + tag.size()));
    while (log_file_bytes(*log) < file_bytes) {
      std::vector<RecordInput> in(per_batch, RecordInput{tag, payload.data(), size});
      std::vector<Location> locs;
      die(log->append(in, &locs), "append");
      all.insert(all.end(), locs.begin(), locs.end());
    }
    die(log->sync(), "sync");
    const size_t records = all.size();
    const double alloc_ratio = static_cast<double>(log_file_bytes(*log)) /
                               (static_cast<double>(records) * static_cast<double>(all[0].length));
    const uint64_t raw_extents = std::max<uint64_t>(1, file_bytes / align_up(size));
    write_plain_file(plain, raw_extents * align_up(size));
    RawReader raw(plain, c.queue_depth, std::max<size_t>(64 << 20, 2 * align_up(size)));

    std::mt19937_64 rng(42);
    for (int batch : c.batches) {
      size_t b = static_cast<size_t>(batch);
      Destination dst(c.memory, b * size);
      double t_raw = 0, t_log = 0;
      uint64_t bytes_raw = 0, bytes_log = 0, n_raw = 0, n_log = 0;
      // Alternate raw and log in slices so that drift of the host cache hits both.
      for (int slice = 0; slice < 4; ++slice) {
        for (int which = 0; which < 2; ++which) {
          auto start = Clock::now();
          while (seconds_since(start) < c.duration / 4) {
            std::vector<size_t> pick(b);
            for (size_t& p : pick) p = rng() % records;
            if (which == 0) {
              std::vector<uint64_t> offs;
              for (size_t p : pick) offs.push_back(p % raw_extents * align_up(size));
              raw.read(offs, align_up(size));
              bytes_raw += b * size;
              ++n_raw;
            } else {
              std::vector<ReadRequest> reqs(b);
              for (size_t i = 0; i < b; ++i) {
                reqs[i].location = all[pick[i]];
                reqs[i].tag = tag;
                reqs[i].dst = dst.data() + i * size;
                reqs[i].size = size;
                reqs[i].memory = dst.kind();
              }
              die(log->read(reqs, dst.options()), "read");
              bytes_log += b * size;
              ++n_log;
            }
          }
          (which == 0 ? t_raw : t_log) += seconds_since(start);
        }
      }
      double gr = bytes_raw / t_raw / 1e9, gl = bytes_log / t_log / 1e9;
      std::printf("| %s | %d | %.2f | %.2f | %.2f | %llu | %llu | %.3f |\n", size_name.c_str(), batch, gr,
                  gl, gl / gr, static_cast<unsigned long long>(n_raw),
                  static_cast<unsigned long long>(n_log), alloc_ratio);
      std::fflush(stdout);
    }
    log.reset();
    std::filesystem::remove_all(logdir);
    std::filesystem::remove(plain);
  }
}

void bench_write(const Config& c) {
  std::printf("\n## write: batched appends (fdatasync per batch) vs sequential O_DIRECT writes "
              "(fdatasync per batch), %.1f GiB per point\n", c.write_gb);
  std::printf("| record | batch | raw GB/s | log GB/s | log/raw | median slice log/raw | "
              "slice range | log file/record bytes |\n|---|---|---|---|---|---|---|---|\n");
  std::string tag(c.tag_bytes, 't');
  uint64_t total = static_cast<uint64_t>(c.write_gb * (1ull << 30));
  for (const std::string& size_name : c.sizes) {
    size_t size = parse_size(size_name);
    std::string payload = random_bytes(size, 9);
    for (int batch : c.batches) {
      // Per-batch fdatasync dominates tiny batches on both sides.
      if (batch < c.min_write_batch) continue;
      size_t b = static_cast<size_t>(batch);
      uint64_t batches = std::max<uint64_t>(1, total / (b * size));
      // Raw: the batch's record bytes (header, tag, payload, rounded to 8),
      // appended to a plain file as an append-only log does: O_DIRECT writes
      // of whole blocks from the block the last batch ended in (rewritten
      // with the new bytes after the old) to the next boundary.
      // Raw and log alternate batch by batch so that the host's write cache
      // and the machine's load treat both alike; each slice (a run of such
      // pairs) gives a ratio, and their median is the figure least moved by
      // other load on the machine.
      size_t batch_bytes = b * ((size + 32 + tag.size() + 7) / 8 * 8);
      std::string plain = c.dir + "/plain_w";
      int fd = ::open(plain.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
      void* p = nullptr;
      const size_t buf_bytes = align_up(batch_bytes) + 4096;
      if (fd < 0 || ::posix_memalign(&p, 4096, buf_bytes) != 0) std::perror("raw write"), std::exit(1);
      std::memset(p, 0x5a, buf_bytes);
      std::string logdir = c.dir + "/log_w";
      TensorLogOptions o;
      o.sync = SyncMode::kPerBatch;
      o.async_threads = 0;
      std::unique_ptr<TensorLog> log;
      die(TensorLog::open(logdir, o, &log), "open log");
      std::vector<RecordInput> in(b, RecordInput{tag, payload.data(), size});
      std::vector<Location> locs;
      double t_raw = 0, t_log = 0;
      uint64_t raw_off = 0;
      int slices = std::max(1, c.write_slices);
      uint64_t per_slice = std::max<uint64_t>(1, batches / static_cast<uint64_t>(slices));
      batches = static_cast<uint64_t>(slices) * per_slice;
      std::vector<double> ratios;
      uint64_t record_bytes = 0;
      for (int slice = 0; slice < slices; ++slice) {
        double raw_before = t_raw, log_before = t_log;
        for (uint64_t i = 0; i < per_slice; ++i, raw_off += batch_bytes) {
          auto start = Clock::now();
          const uint64_t from = raw_off / 4096 * 4096;
          const size_t n = align_up(raw_off + batch_bytes) - from;
          if (::pwrite(fd, p, n, static_cast<off_t>(from)) != static_cast<ssize_t>(n))
            std::perror("pwrite"), std::exit(1);
          ::fdatasync(fd);
          t_raw += seconds_since(start);
          start = Clock::now();
          die(log->append(in, &locs), "append");
          t_log += seconds_since(start);
          for (const Location& l : locs) record_bytes += l.length;
        }
        ratios.push_back((t_raw - raw_before) / (t_log - log_before));
      }
      std::sort(ratios.begin(), ratios.end());
      double median = ratios.size() % 2 ? ratios[ratios.size() / 2]
                                        : (ratios[ratios.size() / 2 - 1] + ratios[ratios.size() / 2]) / 2;
      ::close(fd);
      std::free(p);
      std::filesystem::remove(plain);
      const double alloc_ratio = static_cast<double>(log_file_bytes(*log)) / static_cast<double>(record_bytes);
      log.reset();
      std::filesystem::remove_all(logdir);
      double bytes = static_cast<double>(batches * b * size);
      double gr = bytes / t_raw / 1e9, gl = bytes / t_log / 1e9;
      std::printf("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f-%.2f | %.3f |\n", size_name.c_str(), batch,
                  gr, gl, gl / gr, median, ratios.front(), ratios.back(), alloc_ratio);
      std::fflush(stdout);
    }
  }
}

// A KV page: [tokens][kv heads][head dim] bf16, per-channel scales (some
// outlier channels, as in real K caches), values ~ N(0, scale).
std::string synthetic_kv_page(size_t tokens, size_t heads, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n01(0.0f, 1.0f);
  std::vector<float> scale(heads * dim);
  for (float& s : scale) s = std::exp(n01(rng) * 0.7f) * ((rng() % 64 == 0) ? 8.0f : 1.0f);
  std::string out(tokens * heads * dim * 2, '\0');
  size_t k = 0;
  for (size_t t = 0; t < tokens; ++t)
    for (size_t c = 0; c < heads * dim; ++c, ++k) {
      float f = n01(rng) * scale[c];
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even
      uint16_t bf = static_cast<uint16_t>(bits >> 16);
      std::memcpy(&out[2 * k], &bf, 2);
    }
  return out;
}

void bench_codec(const Config&) {
  std::printf("\n## codec: one core, synthetic bf16 KV pages (64 tokens x 8 KV heads x 128 dims "
              "x K and V = 256 KiB), 64 distinct pages\n");
  std::printf("| codec | encode GB/s | decode GB/s | ratio (raw/stored) |\n|---|---|---|---|\n");
  std::vector<std::string> pages;
  for (int i = 0; i < 64; ++i) pages.push_back(synthetic_kv_page(64, 16, 128, i));
  size_t raw = pages[0].size();
  for (Codec codec : {Codec::kLz4, Codec::kShuffleLz4}) {
    std::vector<std::string> enc(pages.size(), std::string(max_encoded_length(codec, raw), '\0'));
    std::vector<size_t> len(pages.size());
    std::string out(raw, '\0');
    double t_enc = 0, t_dec = 0;
    uint64_t n_enc = 0, n_dec = 0;
    auto start = Clock::now();
    while (seconds_since(start) < 1.0)
      for (size_t i = 0; i < pages.size(); ++i, ++n_enc)
        len[i] = encode(codec, pages[i].data(), raw, enc[i].data());
    t_enc = seconds_since(start);
    start = Clock::now();
    while (seconds_since(start) < 1.0)
      for (size_t i = 0; i < pages.size(); ++i, ++n_dec)
        die(decode(codec, enc[i].data(), len[i], out.data(), raw, "bench"), "decode");
    t_dec = seconds_since(start);
    double stored = 0;
    for (size_t l : len) stored += static_cast<double>(l);
    std::printf("| %s | %.2f | %.2f | %.3f |\n", codec_name(codec), n_enc * raw / t_enc / 1e9,
                n_dec * raw / t_dec / 1e9, static_cast<double>(raw * pages.size()) / stored);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{"tensor log benchmark: read/write bandwidth against the raw disk, codec speed"};
  app.add_option("--mode", c.mode, "read | write | codec | all")->capture_default_str();
  app.add_option("--dir", c.dir, "scratch directory (removed at the end)")->capture_default_str();
  app.add_option("--sizes", c.sizes, "record sizes, e.g. 64K 256K 1M 4M")->capture_default_str();
  app.add_option("--batches", c.batches, "batch sizes")->capture_default_str();
  app.add_option("--file-gb", c.file_gb, "GiB of records per size (read)")->capture_default_str();
  app.add_option("--duration", c.duration, "seconds per point and side (read)")->capture_default_str();
  app.add_option("--write-gb", c.write_gb, "GiB written per point (write)")->capture_default_str();
  app.add_option("--write-slices", c.write_slices, "alternating raw/log slices per point (write)")
      ->capture_default_str();
  app.add_option("--queue-depth", c.queue_depth, "reads in flight")->capture_default_str();
  app.add_option("--tag-bytes", c.tag_bytes, "tag bytes per record (the store's: 22 + 4 per token)")
      ->capture_default_str();
  app.add_option("--min-write-batch", c.min_write_batch, "smallest batch the write part runs")
      ->capture_default_str();
  app.add_option("--memory", c.memory, "host | device: where the log's reads land (read)")
      ->check(CLI::IsMember({"host", "device"}))
      ->capture_default_str();
  app.add_flag("--keep", c.keep, "keep the scratch directory");
  CLI11_PARSE(app, argc, argv);
  std::string why;
  if (c.memory == "device" && !device_available(&why))  // before any data is written
    die(Status::not_supported("--memory device: " + why), "options");
  std::filesystem::create_directories(c.dir);
  if (c.mode == "codec" || c.mode == "all") bench_codec(c);
  if (c.mode == "write" || c.mode == "all") bench_write(c);
  if (c.mode == "read" || c.mode == "all") bench_read(c);
  if (!c.keep) std::filesystem::remove_all(c.dir);
  return 0;
}
