// GGUF v3 files: a memory-mapped reader and a writer.
//
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md. The reader validates every
// count, length, offset and type id against the file size before trusting it, so a truncated or
// hostile file yields a DataLoss/InvalidArgument Status naming the offset and field, never a
// crash, a huge allocation or a read outside the mapping.
//
// Ownership: GgufFile owns the mapping; TensorData() pointers live as long as the GgufFile.
// Thread-safety: a GgufFile is immutable after Open() and may be read from many threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

struct GgufValue;
struct GgufArray {
  GgufValueType element_type = GgufValueType::kUint8;
  std::vector<GgufValue> values;
};

// One metadata value. Integers keep their declared type so a file round-trips byte-identically.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> value;

  // Convenience accessors; std::nullopt when the value is not of a compatible kind.
  std::optional<int64_t> AsInt() const;
  std::optional<double> AsFloat() const;
  std::optional<std::string> AsString() const;
  const GgufArray* AsArray() const;

  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue Str(std::string v);
  static GgufValue StrArray(std::vector<std::string> v);
  static GgufValue F32Array(const std::vector<float>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // ne[0] first: ne[0] is the row length (contiguous dimension)
  TensorType type = TensorType::kF32;
  uint64_t offset = 0;  // relative to the start of the data section
  uint64_t size_bytes = 0;

  int64_t Elements() const;
  int64_t Rows() const;  // product of shape[1..]
};

// Metadata keys in file order (order matters for byte-identical rewrites).
using GgufMetadata = std::vector<std::pair<std::string, GgufValue>>;

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::filesystem::path& path);
  // Parses a copy of an in-memory image (tests, the fuzzer); same validation as Open().
  static Result<std::unique_ptr<GgufFile>> FromMemory(const void* data, size_t size);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const GgufMetadata& metadata() const { return metadata_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the aligned data section

  const GgufValue* Find(std::string_view key) const;
  std::optional<int64_t> GetInt(std::string_view key) const;
  std::optional<double> GetFloat(std::string_view key) const;
  std::optional<std::string> GetString(std::string_view key) const;

  const GgufTensorInfo* FindTensor(std::string_view name) const;
  const uint8_t* TensorData(const GgufTensorInfo& info) const;

 private:
  GgufFile() = default;
  friend class GgufParser;

  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  GgufMetadata metadata_;
  std::vector<GgufTensorInfo> tensors_;
  const uint8_t* map_ = nullptr;
  std::vector<uint8_t> owned_;  // FromMemory's copy; empty when map_ is an mmap
  uint64_t size_ = 0;
  uint64_t data_offset_ = 0;
};

// Builds a GGUF v3 file. Tensors are written in the order added, each aligned to `alignment`.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  void SetMetadata(GgufMetadata metadata) { metadata_ = std::move(metadata); }
  void AddMetadata(std::string key, GgufValue value);
  // Copies `bytes` bytes of data; shape as in GgufTensorInfo.
  void AddTensor(std::string name, TensorType type, std::vector<int64_t> shape, const void* data,
                 size_t bytes);
  // Takes ownership of `data` (no copy).
  void AddTensor(std::string name, TensorType type, std::vector<int64_t> shape,
                 std::vector<uint8_t> data);

  Status WriteTo(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> shape;
    std::vector<uint8_t> data;
  };
  uint32_t alignment_;
  GgufMetadata metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace edgefarm::engine
