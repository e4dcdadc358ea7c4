#include "kvcache_api/store_config.h"

#include "base/checksum.h"
#include "base/coding.h"
#include "kvcache_api/prefix_key.h"

namespace lsm4kv::kvcache {

std::string encode_layout(NamespaceId id, const KvLayout& l) {
  std::string v;
  v.push_back(static_cast<char>(id >> 8));
  v.push_back(static_cast<char>(id & 0xff));
  put_varint32(&v, l.layers);
  put_varint32(&v, l.kv_heads);
  put_varint32(&v, l.is_opaque() ? l.opaque_bytes_per_token : l.head_dim);
  v.push_back(static_cast<char>(l.is_opaque() ? kOpaqueDTypeByte : static_cast<uint8_t>(l.dtype)));
  return v;
}

bool decode_layout(std::string_view v, NamespaceId* id, KvLayout* l) {
  if (v.size() < 2) return false;
  *id = static_cast<NamespaceId>((static_cast<unsigned char>(v[0]) << 8) | static_cast<unsigned char>(v[1]));
  v.remove_prefix(2);
  *l = KvLayout{};
  if (!get_varint32(&v, &l->layers) || !get_varint32(&v, &l->kv_heads) ||
      !get_varint32(&v, &l->head_dim) || v.size() != 1)
    return false;
  const auto dtype = static_cast<uint8_t>(v[0]);
  if (dtype == kOpaqueDTypeByte) {
    if (l->layers != 0 || l->kv_heads != 0 || l->head_dim == 0) return false;
    *l = KvLayout::opaque(l->head_dim);
    return true;
  }
  if (dtype > 3) return false;
  l->dtype = static_cast<DType>(dtype);
  return true;
}

std::string encode_cfg_record(uint32_t page_tokens, uint32_t key_window_pages) {
  std::string v;
  put_varint32(&v, page_tokens);
  put_varint32(&v, kStoreFormatVersion);
  put_varint32(&v, key_window_pages);
  return v;
}

bool decode_cfg_record(std::string_view v, CfgRecord* out) {
  *out = CfgRecord{};
  if (!get_varint32(&v, &out->page_tokens)) return false;
  if (v.empty()) return true;  // format 1
  if (!get_varint32(&v, &out->format_version)) return false;
  if (out->format_version < 3) return v.empty();
  return get_varint32(&v, &out->key_window_pages) && v.empty() && out->key_window_pages >= 1 &&
         out->key_window_pages <= kMaxKeyWindowPages;
}

std::string encode_config_file(const StoreConfig& c) {
  std::string out;
  put_fixed32(&out, kConfigMagic);
  put_varint32(&out, c.format_version);
  put_varint32(&out, c.page_tokens);
  put_varint32(&out, c.key_window_pages);
  put_varint32(&out, static_cast<uint32_t>(c.namespaces.size()));
  for (const NamespaceRecord& n : c.namespaces) {
    put_length_prefixed(&out, n.name);
    put_length_prefixed(&out, encode_layout(n.id, n.layout));
  }
  put_fixed64(&out, checksum64(out));
  return out;
}

Status decode_config_file(std::string_view data, const std::string& where, StoreConfig* c) {
  auto bad = [&](const std::string& what) { return Status::corruption(where + ": " + what); };
  if (data.size() < 12) return bad("shorter than a configuration file (" + std::to_string(data.size()) + " bytes)");
  if (decode_fixed32(data.data()) != kConfigMagic) return bad("bad magic");
  const std::string_view body = data.substr(0, data.size() - 8);
  if (checksum64(body) != decode_fixed64(data.data() + body.size())) return bad("checksum mismatch");
  std::string_view in = body.substr(4);
  uint32_t count = 0;
  if (!get_varint32(&in, &c->format_version)) return bad("truncated header");
  if (c->format_version != kStoreFormatVersion) return Status::OK();  // the caller refuses it by its version
  if (!get_varint32(&in, &c->page_tokens) || !get_varint32(&in, &c->key_window_pages) || !get_varint32(&in, &count))
    return bad("truncated header");
  if (c->key_window_pages < 1 || c->key_window_pages > kMaxKeyWindowPages)
    return bad("key window of " + std::to_string(c->key_window_pages) + " pages");
  c->namespaces.clear();
  for (uint32_t i = 0; i < count; i++) {
    std::string_view name, layout;
    NamespaceRecord n;
    if (!get_length_prefixed(&in, &name) || !get_length_prefixed(&in, &layout) ||
        !decode_layout(layout, &n.id, &n.layout))
      return bad("namespace " + std::to_string(i) + " is malformed");
    n.name = std::string(name);
    c->namespaces.push_back(std::move(n));
  }
  if (!in.empty()) return bad("trailing bytes");
  return Status::OK();
}

Status read_config_file(FileSystem* fs, const std::string& dir, StoreConfig* c) {
  const std::string path = dir + "/" + kConfigFile;
  if (!fs->exists(path)) return Status::not_found(path + ": no such file");
  std::string data;
  LSM4KV_RETURN_IF_ERROR(read_file(fs, path, &data));
  return decode_config_file(data, path, c);
}

Status write_config_file(FileSystem* fs, const std::string& dir, const StoreConfig& c) {
  return write_file_atomic(fs, dir, kConfigFile, encode_config_file(c));
}

Status format_version_status(const std::string& dir, uint32_t version) {
  return Status::invalid_argument(
      dir + ": store format version " + std::to_string(version) + ", this build reads format version " +
      std::to_string(kStoreFormatVersion) +
      " only (record tags of 46 bytes: chained digests instead of token ids, prefix_key.h). The store is a cache: delete the "
      "directory and let the next open recreate it");
}

}  // namespace lsm4kv::kvcache
