// QuantizeModel: read a GGUF model, pick a type per tensor (quantize_policy.cc), quantise rows
// on a few threads, and write the new GGUF with llama-quantize's metadata changes.
//
// Output layout matches llama-quantize: tensors in llama.cpp's loader order (SortTensorNames),
// the input's metadata in order minus split keys, then general.quantization_version = 2 and
// general.file_type appended (edgefarm schemes append edgefarm.quantization.scheme instead of a
// file type, since llama.cpp has none for them). Rows are independent for every type we write,
// so threads take contiguous row ranges and the result does not depend on the thread count.
#include "edgefarm/engine/quantize.h"

#include <algorithm>
#include <thread>

#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/quant.h"
#include "quantize_policy.h"

namespace edgefarm::engine {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

bool IsDroppedKey(const std::string& key) {
  return key == "general.quantization_version" || key == "general.file_type" || key == "split.no" ||
         key == "split.count" || key == "split.tensors.count" ||
         key == "edgefarm.quantization.scheme";
}

GgufMetadata OutputMetadata(const GgufMetadata& in, const internal::SchemeSpec& scheme) {
  GgufMetadata out;
  for (const auto& [key, value] : in) {
    if (!IsDroppedKey(key)) out.emplace_back(key, value);
  }
  out.emplace_back("general.quantization_version", GgufValue::U32(kQuantizationVersion));
  if (scheme.ftype) {
    out.emplace_back("general.file_type", GgufValue::U32(*scheme.ftype));
  } else {
    out.emplace_back("edgefarm.quantization.scheme", GgufValue::Str(scheme.name));
  }
  return out;
}

// Runs fn(begin, end) over [0, rows) split into at most `threads` contiguous ranges.
template <typename Fn>
void ParallelRows(int64_t rows, int threads, const Fn& fn) {
  const int64_t n = std::max<int64_t>(1, std::min<int64_t>(threads, rows / 16 + 1));
  if (n == 1) {
    fn(0, rows);
    return;
  }
  std::vector<std::thread> workers;
  const int64_t per = (rows + n - 1) / n;
  for (int64_t b = 0; b < rows; b += per) {
    workers.emplace_back([&fn, b, per, rows] { fn(b, std::min(rows, b + per)); });
  }
  for (std::thread& t : workers) t.join();
}

Result<std::vector<uint8_t>> ConvertTensor(const GgufFile& file, const GgufTensorInfo& info,
                                           TensorType to, int threads) {
  if (!CanDequantize(info.type) ||
      (info.type != TensorType::kF32 && info.type != TensorType::kF16 &&
       info.type != TensorType::kBF16)) {
    return FailedPrecondition("tensor '" + info.name + "' is " +
                              std::string(GetTypeTraits(info.type)->name) +
                              "; requantising is not supported (start from an f32/f16 model)");
  }
  const int64_t n = info.shape[0];
  const int64_t rows = info.Rows();
  const size_t in_row = RowBytes(info.type, n);
  const size_t out_row = RowBytes(to, n);
  std::vector<uint8_t> out(out_row * static_cast<size_t>(rows));
  const uint8_t* src = file.TensorData(info);
  ParallelRows(rows, threads, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(n));
    for (int64_t r = begin; r < end; ++r) {
      DequantizeRow(info.type, src + static_cast<size_t>(r) * in_row, row.data(), n);
      QuantizeRow(to, row.data(), out.data() + static_cast<size_t>(r) * out_row, n);
    }
  });
  return out;
}

int LayerCount(const GgufFile& file) {
  const std::optional<std::string> arch = file.GetString("general.architecture");
  if (!arch) return 0;
  return static_cast<int>(file.GetInt(*arch + ".block_count").value_or(0));
}

}  // namespace

QuantizeParams DefaultQuantizeParams() {
  QuantizeParams p;
  p.scheme = "q8_0";
  p.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return p;
}

const std::vector<std::string>& KnownSchemes() {
  static const std::vector<std::string> kNames = {
      "q8_0", "q4_0", "q4_k_m", "f16", "int8_sym_pc", "int4_sym_g128", "int4_affine_g64"};
  return kNames;
}

Result<QuantizeReport> QuantizeModel(const std::filesystem::path& input,
                                     const std::filesystem::path& output,
                                     const QuantizeParams& params) {
  std::optional<internal::SchemeSpec> scheme = internal::FindScheme(params.scheme);
  if (!scheme) {
    std::string known;
    for (const std::string& s : KnownSchemes()) known += (known.empty() ? "" : ", ") + s;
    return InvalidArgument("unknown quantisation scheme '" + params.scheme + "' (known: " + known +
                           ")");
  }
  EF_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(input));
  std::vector<std::string> names;
  for (const GgufTensorInfo& t : file->tensors()) names.push_back(t.name);
  internal::SortTensorNames(&names);
  internal::TypePolicy policy(*scheme, params.pure, names, LayerCount(*file));
  const int threads = params.threads > 0 ? params.threads : DefaultQuantizeParams().threads;

  QuantizeReport report;
  GgufWriter writer(file->alignment());
  writer.SetMetadata(OutputMetadata(file->metadata(), *scheme));
  for (const std::string& name : names) {
    const GgufTensorInfo& info = *file->FindTensor(name);
    internal::TypeChoice choice = policy.Choose(name, info.shape, info.type);
    TensorQuantizeRecord record{name, info.type, info.type, choice.fallback_reason, info.type};
    if (choice.quantize) record.wanted = choice.wanted;
    report.bytes_in += info.size_bytes;
    if (!choice.quantize || choice.used == info.type) {
      writer.AddTensor(name, info.type, info.shape, file->TensorData(info), info.size_bytes);
      report.bytes_out += info.size_bytes;
    } else {
      EF_ASSIGN_OR_RETURN(std::vector<uint8_t> data,
                          ConvertTensor(*file, info, choice.used, threads));
      record.to = choice.used;
      report.bytes_out += data.size();
      writer.AddTensor(name, choice.used, info.shape, std::move(data));
    }
    report.tensors.push_back(std::move(record));
  }
  EF_RETURN_IF_ERROR(writer.WriteTo(output));
  std::error_code ec;
  report.file_bytes_out = std::filesystem::file_size(output, ec);
  return report;
}

}  // namespace edgefarm::engine
