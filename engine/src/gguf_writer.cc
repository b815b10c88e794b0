// GGUF v3 writer.
//
// Layout as ggml's gguf writer produces it: header, metadata in the given order, tensor records
// with offsets relative to the data section, zero padding to the alignment, then each tensor's
// data followed by zero padding to the alignment (the last one included). The header is built in
// memory, tensor data is streamed; the file is written to a sibling temporary and renamed into
// place so a reader never sees a half-written model.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <system_error>

#include "edgefarm/engine/gguf.h"

namespace edgefarm::engine {
namespace {

class ByteSink {
 public:
  template <typename T>
  void Raw(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void String(const std::string& s) {
    Raw<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void Pad(uint64_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

uint64_t AsU64(const GgufValue& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.value)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.value)) return static_cast<uint64_t>(*i);
  if (const auto* b = std::get_if<bool>(&v.value)) return *b ? 1 : 0;
  return 0;
}

double AsF64(const GgufValue& v) {
  if (const auto* d = std::get_if<double>(&v.value)) return *d;
  return static_cast<double>(AsU64(v));
}

Status WriteScalar(const GgufValue& v, ByteSink* out) {
  switch (v.type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      out->Raw<uint8_t>(static_cast<uint8_t>(AsU64(v)));
      return Status::Ok();
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      out->Raw<uint16_t>(static_cast<uint16_t>(AsU64(v)));
      return Status::Ok();
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
      out->Raw<uint32_t>(static_cast<uint32_t>(AsU64(v)));
      return Status::Ok();
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      out->Raw<uint64_t>(AsU64(v));
      return Status::Ok();
    case GgufValueType::kFloat32:
      out->Raw<float>(static_cast<float>(AsF64(v)));
      return Status::Ok();
    case GgufValueType::kFloat64:
      out->Raw<double>(AsF64(v));
      return Status::Ok();
    case GgufValueType::kString: {
      const auto* s = std::get_if<std::string>(&v.value);
      if (s == nullptr) return InvalidArgument("gguf writer: string value holds no string");
      out->String(*s);
      return Status::Ok();
    }
    case GgufValueType::kArray:
      break;
  }
  return InvalidArgument("gguf writer: nested arrays are not supported");
}

Status WriteValue(const GgufValue& v, ByteSink* out) {
  out->Raw<uint32_t>(static_cast<uint32_t>(v.type));
  if (v.type != GgufValueType::kArray) return WriteScalar(v, out);
  const GgufArray* a = v.AsArray();
  if (a == nullptr) return InvalidArgument("gguf writer: array value holds no array");
  out->Raw<uint32_t>(static_cast<uint32_t>(a->element_type));
  out->Raw<uint64_t>(a->values.size());
  for (const GgufValue& e : a->values) {
    if (e.type != a->element_type) {
      return InvalidArgument("gguf writer: array element type differs from the array's");
    }
    EF_RETURN_IF_ERROR(WriteScalar(e, out));
  }
  return Status::Ok();
}

// The metadata as written: general.alignment set to the writer's alignment, added when it is not
// the GGUF default of 32.
GgufMetadata WithAlignment(GgufMetadata metadata, uint32_t alignment) {
  bool has_alignment = false;
  for (auto& [k, v] : metadata) {
    if (k == "general.alignment") {
      v = GgufValue::U32(alignment);
      has_alignment = true;
    }
  }
  if (!has_alignment && alignment != 32) {
    metadata.emplace_back("general.alignment", GgufValue::U32(alignment));
  }
  return metadata;
}

// Writes header, then each payload padded with zeros to the alignment, to tmp; on failure tmp is
// removed.
Status WriteFile(const std::filesystem::path& tmp, const std::vector<uint8_t>& header,
                 const std::vector<const std::vector<uint8_t>*>& payloads, uint32_t alignment) {
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(header.data()),
          static_cast<std::streamsize>(header.size()));
  static const std::vector<char> kZeros(256, 0);
  for (const std::vector<uint8_t>* data : payloads) {
    f.write(reinterpret_cast<const char*>(data->data()),
            static_cast<std::streamsize>(data->size()));
    const size_t pad = (alignment - data->size() % alignment) % alignment;
    for (size_t left = pad; left > 0; left -= std::min(left, kZeros.size())) {
      f.write(kZeros.data(), static_cast<std::streamsize>(std::min(left, kZeros.size())));
    }
  }
  f.close();
  if (!f) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return IoError("gguf writer: cannot write " + tmp.string());
  }
  return Status::Ok();
}

}  // namespace

void GgufWriter::AddMetadata(std::string key, GgufValue value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::AddTensor(std::string name, TensorType type, std::vector<int64_t> shape,
                           const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  tensors_.push_back({std::move(name), type, std::move(shape), std::vector<uint8_t>(p, p + bytes)});
}

void GgufWriter::AddTensor(std::string name, TensorType type, std::vector<int64_t> shape,
                           std::vector<uint8_t> data) {
  tensors_.push_back({std::move(name), type, std::move(shape), std::move(data)});
}

Status GgufWriter::WriteTo(const std::filesystem::path& path) const {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
    return InvalidArgument("gguf writer: alignment must be a power of two");
  }
  const GgufMetadata metadata = WithAlignment(metadata_, alignment_);
  ByteSink out;
  out.Raw<uint32_t>(0x46554747u);  // "GGUF"
  out.Raw<uint32_t>(3);
  out.Raw<uint64_t>(tensors_.size());
  out.Raw<uint64_t>(metadata.size());
  for (const auto& [key, value] : metadata) {
    out.String(key);
    EF_RETURN_IF_ERROR(WriteValue(value, &out).WithContext(key));
  }
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    const size_t row = RowBytes(t.type, t.shape.empty() ? 0 : t.shape[0]);
    int64_t rows = 1;
    for (size_t i = 1; i < t.shape.size(); ++i) rows *= t.shape[i];
    if (t.shape.empty() || t.shape.size() > 4 ||
        row * static_cast<uint64_t>(rows) != t.data.size()) {
      return InvalidArgument("gguf writer: tensor '" + t.name + "' has " +
                             std::to_string(t.data.size()) +
                             " bytes, which does not match its "
                             "type and shape");
    }
    out.String(t.name);
    out.Raw<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) out.Raw<int64_t>(d);
    out.Raw<uint32_t>(static_cast<uint32_t>(t.type));
    out.Raw<uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.Pad(alignment_);
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::vector<const std::vector<uint8_t>*> payloads;
  for (const PendingTensor& t : tensors_) payloads.push_back(&t.data);
  EF_RETURN_IF_ERROR(WriteFile(tmp, out.bytes(), payloads, alignment_));
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IoError("gguf writer: cannot rename to " + path.string() + ": " + ec.message());
  return Status::Ok();
}

}  // namespace edgefarm::engine
