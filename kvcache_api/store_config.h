// StoreConfig: what a store is besides its pages: its format version, its
// page size and its namespaces (name, id, KV layout).
//
// The index holds it (metadata records, prefix_key.h) and the store reads it
// from there; the CONFIG file in the store's directory mirrors it so that the
// index can be rebuilt from the tensor log when the index itself is damaged
// or gone (index_rebuild.h). CONFIG is written whole with write_file_atomic
// when the store is created, at every new namespace (before the index
// record, so the file names every namespace the index does) and at open when
// it differs from the index (a crash between the two writes, a damaged or
// deleted file).
//
// CONFIG file (all integers little-endian unless said otherwise):
//   0   u32     magic kConfigMagic ("KVCF")
//   4   varint  store format version (kStoreFormatVersion)
//       varint  page_tokens
//       varint  key_window_pages
//       varint  namespace count n
//       n ×     varint name length | name bytes |
//               varint record length | the "ns:" record (prefix_key.h:
//               u16 id big-endian | varint layers | varint kv_heads |
//               varint head_dim | u8 dtype; an opaque layout is
//               0 | 0 | varint bytes per token | u8 kOpaqueDTypeByte)
//   end-8 u64   XXH3-64 of every byte before it
//
// Thread-safety: plain values and functions; callers serialize writers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/file_system.h"
#include "base/status.h"
#include "kvcache_api/kv_store.h"

namespace lsm4kv::kvcache {

constexpr uint32_t kConfigMagic = 0x4643564bu;  // "KVCF"
constexpr const char* kConfigFile = "CONFIG";

struct NamespaceRecord {
  std::string name;
  NamespaceId id = 0;
  KvLayout layout;
  bool operator==(const NamespaceRecord&) const = default;
};

struct StoreConfig {
  uint32_t format_version = 0;
  uint32_t page_tokens = 0;
  uint32_t key_window_pages = 0;
  std::vector<NamespaceRecord> namespaces;  // in id order
  bool operator==(const StoreConfig&) const = default;
};

// The "ns:" metadata record's value.
// The dtype byte of an opaque layout (KvLayout::opaque): no DType has it.
constexpr uint8_t kOpaqueDTypeByte = 0x80;
std::string encode_layout(NamespaceId id, const KvLayout& l);
bool decode_layout(std::string_view v, NamespaceId* id, KvLayout* l);
// The "cfg" metadata record's value; a record without a version is format 1,
// one without a key window is of a format before 3.
struct CfgRecord {
  uint32_t page_tokens = 0;
  uint32_t format_version = 1;
  uint32_t key_window_pages = 0;
};
std::string encode_cfg_record(uint32_t page_tokens, uint32_t key_window_pages);
bool decode_cfg_record(std::string_view v, CfgRecord* out);

std::string encode_config_file(const StoreConfig& c);
// Corruption naming `where` when the bytes are not a whole CONFIG file.
Status decode_config_file(std::string_view data, const std::string& where, StoreConfig* c);
// dir/CONFIG: NotFound when the file is missing, Corruption when damaged.
Status read_config_file(FileSystem* fs, const std::string& dir, StoreConfig* c);
Status write_config_file(FileSystem* fs, const std::string& dir, const StoreConfig& c);

// What a store of another format version gets at open.
Status format_version_status(const std::string& dir, uint32_t version);

}  // namespace lsm4kv::kvcache
