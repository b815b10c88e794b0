// GGUF reader: maps the file and validates the header, metadata and tensor table in one pass.
//
// Every length and count read from the file is checked against the bytes that remain before it
// is used to allocate or advance, so the largest allocation is bounded by a small multiple of the
// file size. Tensor records are checked for known type ids, sane shapes (no overflow, rows that
// divide into blocks), alignment, and data ranges that lie inside the data section and do not
// overlap. Versions 2 and 3 share the little-endian layout and are both accepted; v1 (32-bit
// counts) is rejected.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine {
namespace {

constexpr uint32_t kMaxDims = 4;
// Caps that keep a hostile file from making the parser allocate far beyond its own size.
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 22;  // largest real vocabularies: ~300K
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;

bool IsPowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

// Minimum encoded size of one value of `type` (strings: their 8-byte length).
uint64_t MinEncodedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kString:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kArray:
      return 12;
  }
  return 1;
}

}  // namespace

// Reads the structures of a mapped GGUF image into a GgufFile.
class GgufParser {
 public:
  GgufParser(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  Status Parse(GgufFile* file);

 private:
  uint64_t Remaining() const { return size_ - pos_; }
  Status Truncated(std::string_view what) const {
    return DataLoss("gguf: truncated at offset " + std::to_string(pos_) + " reading " +
                    std::string(what));
  }
  Status Invalid(std::string_view what) const {
    return DataLoss("gguf: at offset " + std::to_string(pos_) + ": " + std::string(what));
  }

  template <typename T>
  Status ReadRaw(T* out, std::string_view what) {
    if (Remaining() < sizeof(T)) return Truncated(what);
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  template <typename Stored, typename Held>
  Status ReadAs(GgufValue* out, std::string_view what) {
    Stored v{};
    EF_RETURN_IF_ERROR(ReadRaw(&v, what));
    out->value = static_cast<Held>(v);
    return Status::Ok();
  }
  Status ReadString(std::string* out, std::string_view what);
  Status ReadScalar(GgufValueType type, GgufValue* out, std::string_view what);
  Status ReadValue(GgufValueType type, GgufValue* out, std::string_view what);
  Status ReadValueType(GgufValueType* out, std::string_view what);
  Status ReadMetadata(uint64_t count, GgufFile* file);
  Status ReadTensorInfo(GgufTensorInfo* info, const std::string& what);
  Status ReadAlignment(GgufFile* file) const;
  Status CheckTensorRanges(GgufFile* file) const;

  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

Status GgufParser::ReadString(std::string* out, std::string_view what) {
  uint64_t len = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&len, what));
  if (len > Remaining() || len > kMaxStringBytes) {
    return Invalid(std::string(what) + ": string length " + std::to_string(len) +
                   " exceeds the remaining " + std::to_string(Remaining()) + " bytes");
  }
  out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len;
  return Status::Ok();
}

Status GgufParser::ReadValueType(GgufValueType* out, std::string_view what) {
  uint32_t raw = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&raw, what));
  if (raw > static_cast<uint32_t>(GgufValueType::kFloat64)) {
    return Invalid(std::string(what) + ": unknown value type " + std::to_string(raw));
  }
  *out = static_cast<GgufValueType>(raw);
  return Status::Ok();
}

Status GgufParser::ReadScalar(GgufValueType type, GgufValue* out, std::string_view what) {
  out->type = type;
  switch (type) {
    case GgufValueType::kUint8:
      return ReadAs<uint8_t, uint64_t>(out, what);
    case GgufValueType::kUint16:
      return ReadAs<uint16_t, uint64_t>(out, what);
    case GgufValueType::kUint32:
      return ReadAs<uint32_t, uint64_t>(out, what);
    case GgufValueType::kUint64:
      return ReadAs<uint64_t, uint64_t>(out, what);
    case GgufValueType::kInt8:
      return ReadAs<int8_t, int64_t>(out, what);
    case GgufValueType::kInt16:
      return ReadAs<int16_t, int64_t>(out, what);
    case GgufValueType::kInt32:
      return ReadAs<int32_t, int64_t>(out, what);
    case GgufValueType::kInt64:
      return ReadAs<int64_t, int64_t>(out, what);
    case GgufValueType::kFloat32:
      return ReadAs<float, double>(out, what);
    case GgufValueType::kFloat64:
      return ReadAs<double, double>(out, what);
    case GgufValueType::kBool: {
      uint8_t v = 0;
      EF_RETURN_IF_ERROR(ReadRaw(&v, what));
      out->value = v != 0;
      break;
    }
    case GgufValueType::kString: {
      std::string s;
      EF_RETURN_IF_ERROR(ReadString(&s, what));
      out->value = std::move(s);
      break;
    }
    case GgufValueType::kArray:
      return Invalid(std::string(what) + ": nested arrays are not supported");
  }
  return Status::Ok();
}

Status GgufParser::ReadValue(GgufValueType type, GgufValue* out, std::string_view what) {
  if (type != GgufValueType::kArray) return ReadScalar(type, out, what);
  GgufArray array;
  EF_RETURN_IF_ERROR(ReadValueType(&array.element_type, what));
  if (array.element_type == GgufValueType::kArray) {
    return Invalid(std::string(what) + ": nested arrays are not supported");
  }
  uint64_t count = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&count, what));
  if (count > Remaining() / MinEncodedSize(array.element_type) || count > kMaxArrayElements) {
    return Invalid(std::string(what) + ": array of " + std::to_string(count) +
                   " elements cannot fit in the remaining " + std::to_string(Remaining()) +
                   " bytes");
  }
  array.values.resize(count);
  for (GgufValue& v : array.values) {
    EF_RETURN_IF_ERROR(ReadScalar(array.element_type, &v, what));
  }
  out->type = GgufValueType::kArray;
  out->value = std::move(array);
  return Status::Ok();
}

Status GgufParser::ReadMetadata(uint64_t count, GgufFile* file) {
  std::set<std::string, std::less<>> seen;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string what = "metadata key " + std::to_string(i);
    std::string key;
    EF_RETURN_IF_ERROR(ReadString(&key, what));
    if (!seen.insert(key).second) return Invalid("duplicate metadata key '" + key + "'");
    GgufValueType type;
    EF_RETURN_IF_ERROR(ReadValueType(&type, "type of '" + key + "'"));
    GgufValue value;
    EF_RETURN_IF_ERROR(ReadValue(type, &value, "value of '" + key + "'"));
    file->metadata_.emplace_back(std::move(key), std::move(value));
  }
  return Status::Ok();
}

Status GgufParser::ReadTensorInfo(GgufTensorInfo* info, const std::string& what) {
  EF_RETURN_IF_ERROR(ReadString(&info->name, what + " name"));
  uint32_t n_dims = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&n_dims, what + " n_dims"));
  if (n_dims == 0 || n_dims > kMaxDims) {
    return Invalid("tensor '" + info->name + "' has " + std::to_string(n_dims) +
                   " dimensions (1.." + std::to_string(kMaxDims) + " supported)");
  }
  int64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    int64_t ne = 0;
    EF_RETURN_IF_ERROR(ReadRaw(&ne, what + " shape"));
    if (ne < 0 || (ne != 0 && elements > std::numeric_limits<int64_t>::max() / ne)) {
      return Invalid("tensor '" + info->name + "' has an invalid or overflowing shape");
    }
    elements *= ne;
    info->shape.push_back(ne);
  }
  uint32_t type_id = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&type_id, what + " type"));
  std::optional<TensorType> type = TensorTypeFromId(type_id);
  if (!type) {
    return Invalid("tensor '" + info->name + "' has unknown type id " + std::to_string(type_id));
  }
  info->type = *type;
  EF_RETURN_IF_ERROR(ReadRaw(&info->offset, what + " offset"));
  const size_t row_bytes = RowBytes(info->type, info->shape[0]);
  if (row_bytes == 0 && info->shape[0] != 0) {
    return Invalid("tensor '" + info->name + "': row length " + std::to_string(info->shape[0]) +
                   " is not a multiple of " + std::string(GetTypeTraits(info->type)->name) +
                   "'s block size");
  }
  const uint64_t rows = static_cast<uint64_t>(info->Rows());
  if (rows != 0 && row_bytes > std::numeric_limits<uint64_t>::max() / rows) {
    return Invalid("tensor '" + info->name + "' byte size overflows");
  }
  info->size_bytes = rows * row_bytes;
  return Status::Ok();
}

Status GgufParser::ReadAlignment(GgufFile* file) const {
  const GgufValue* v = file->Find("general.alignment");
  if (v == nullptr) return Status::Ok();
  std::optional<int64_t> a = v->AsInt();
  if (v->type != GgufValueType::kUint32 || !a || !IsPowerOfTwo(static_cast<uint64_t>(*a))) {
    return DataLoss("gguf: general.alignment must be a uint32 power of two");
  }
  file->alignment_ = static_cast<uint32_t>(*a);
  return Status::Ok();
}

Status GgufParser::CheckTensorRanges(GgufFile* file) const {
  const uint64_t data_bytes = size_ >= file->data_offset_ ? size_ - file->data_offset_ : 0;
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& t : file->tensors_) {
    if (t.offset % file->alignment_ != 0) {
      return DataLoss("gguf: tensor '" + t.name + "' offset " + std::to_string(t.offset) +
                      " is not aligned to " + std::to_string(file->alignment_));
    }
    if (t.offset > data_bytes || t.size_bytes > data_bytes - t.offset) {
      return DataLoss("gguf: tensor '" + t.name + "' data [" + std::to_string(t.offset) + ", +" +
                      std::to_string(t.size_bytes) + ") lies outside the " +
                      std::to_string(data_bytes) + "-byte data section");
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    if (prev.offset + prev.size_bytes > by_offset[i]->offset) {
      return DataLoss("gguf: tensors '" + prev.name + "' and '" + by_offset[i]->name + "' overlap");
    }
  }
  return Status::Ok();
}

Status GgufParser::Parse(GgufFile* file) {
  char magic[4];
  EF_RETURN_IF_ERROR(ReadRaw(&magic, "magic"));
  if (std::memcmp(magic, "GGUF", 4) != 0) return DataLoss("gguf: bad magic (not a GGUF file)");
  EF_RETURN_IF_ERROR(ReadRaw(&file->version_, "version"));
  if (file->version_ != 2 && file->version_ != 3) {
    return DataLoss("gguf: unsupported version " + std::to_string(file->version_) +
                    " (2 and 3 are supported)");
  }
  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  EF_RETURN_IF_ERROR(ReadRaw(&n_tensors, "tensor count"));
  EF_RETURN_IF_ERROR(ReadRaw(&n_kv, "metadata count"));
  // Each tensor record takes at least 24 bytes and each key/value pair at least 13.
  if (n_tensors > Remaining() / 24) {
    return Invalid("tensor count " + std::to_string(n_tensors) + " exceeds what the file holds");
  }
  if (n_kv > Remaining() / 13) {
    return Invalid("metadata count " + std::to_string(n_kv) + " exceeds what the file holds");
  }
  EF_RETURN_IF_ERROR(ReadMetadata(n_kv, file));
  EF_RETURN_IF_ERROR(ReadAlignment(file));
  std::set<std::string, std::less<>> names;
  file->tensors_.resize(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo& info = file->tensors_[i];
    EF_RETURN_IF_ERROR(ReadTensorInfo(&info, "tensor " + std::to_string(i)));
    if (!names.insert(info.name).second) return Invalid("duplicate tensor '" + info.name + "'");
  }
  const uint64_t a = file->alignment_;
  file->data_offset_ = (pos_ + a - 1) / a * a;
  return CheckTensorRanges(file);
}

GgufFile::~GgufFile() {
  if (map_ != nullptr && owned_.empty()) {
    munmap(const_cast<uint8_t*>(map_), size_);
  }
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return IoError("gguf: cannot open " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError("gguf: " + path.string() + " is not a readable regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    return DataLoss("gguf: " + path.string() + " is empty");
  }
  void* map = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) {
    return IoError("gguf: cannot map " + path.string() + ": " + std::strerror(map_errno));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->map_ = static_cast<const uint8_t*>(map);
  file->size_ = static_cast<uint64_t>(st.st_size);
  GgufParser parser(file->map_, file->size_);
  Status s = parser.Parse(file.get());
  if (!s.ok()) return s.WithContext(path.string());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::FromMemory(const void* data, size_t size) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->owned_.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
  file->map_ = file->owned_.empty() ? nullptr : file->owned_.data();
  file->size_ = size;
  if (file->map_ == nullptr) return DataLoss("gguf: empty buffer");
  GgufParser parser(file->map_, file->size_);
  EF_RETURN_IF_ERROR(parser.Parse(file.get()));
  return file;
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  for (const auto& [k, v] : metadata_) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  return v ? v->AsInt() : std::nullopt;
}

std::optional<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  return v ? v->AsFloat() : std::nullopt;
}

std::optional<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  return v ? v->AsString() : std::nullopt;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  for (const GgufTensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const uint8_t* GgufFile::TensorData(const GgufTensorInfo& info) const {
  return map_ + data_offset_ + info.offset;
}

}  // namespace edgefarm::engine
