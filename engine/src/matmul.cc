// MatMul: path selection, activation quantisation and the split of the output into tiles.
//
// One call quantises every token's activations once (kernels_common.h) into a thread-local
// buffer, then hands rectangles of (rows x tokens) to the path's tile kernel. For a single token
// (generation) the rows are split across threads; for a prompt the output is cut into tiles of
// kTileRows x kTileTokens, enumerated row-block-major so a thread keeps one block of weight rows
// hot in L1/L2 while it walks the tokens. The micro-kernels inside a tile are register-blocked
// (see kernels_avx512.cc).
#include "edgefarm/engine/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "cpu_features.h"
#include "edgefarm/engine/thread_pool.h"
#include "kernels_common.h"

namespace edgefarm::engine {
namespace {

using kernels::ActKind;
using kernels::TileArgs;
using kernels::TileFn;

constexpr int64_t kTileRows = 64;
constexpr int64_t kTileTokens = 64;
// The packed tiles repack their rows once per tile, so they take more tokens per tile.
constexpr int64_t kPackedTileTokens = 256;

// Prompts of at least this many tokens use the packed AVX-512 tiles, which repack each weight
// tile once and then stream the tokens through it.
constexpr int64_t kPackedMinTokens = 4;

TileFn TileFor(KernelPath path, TensorType type, int64_t n_tokens) {
  if (path == KernelPath::kAvx512 && n_tokens >= kPackedMinTokens) {
    if (TileFn packed = kernels::Avx512PackedTile(type)) return packed;
  }
  switch (path) {
    case KernelPath::kScalar:
      return kernels::ScalarTile(type);
    case KernelPath::kAvx2:
      return kernels::Avx2Tile(type);
    case KernelPath::kAvx512:
      return kernels::Avx512Tile(type);
    case KernelPath::kNeon:
      return kernels::NeonTile(type, GetCpuFeatures().neon_dotprod);
    default:
      return nullptr;
  }
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A per-thread scratch buffer for quantised activations, grown on demand.
uint8_t* Scratch(size_t bytes) {
  thread_local std::unique_ptr<uint8_t, AlignedFree> buf;
  thread_local size_t capacity = 0;
  if (bytes > capacity) {
    capacity = (bytes + 4095) / 4096 * 4096;
    buf.reset(static_cast<uint8_t*>(std::aligned_alloc(64, capacity)));
  }
  return buf.get();
}

void QuantizeActivations(ActKind kind, KernelPath path, const float* x, int64_t cols,
                         int64_t n_tokens, uint8_t* dst, size_t stride, ThreadPool* pool) {
  const bool super = kind == ActKind::kQ8Super256;
  auto* fn = super ? kernels::QuantizeActSuper256 : kernels::QuantizeActBlock32;
  if (path == KernelPath::kAvx512) {
    fn = super ? kernels::QuantizeActSuper256Avx512 : kernels::QuantizeActBlock32Avx512;
  } else if (path == KernelPath::kNeon) {
    fn = super ? kernels::QuantizeActSuper256Neon : kernels::QuantizeActBlock32Neon;
  }
  auto quantize = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) fn(x + t * cols, cols, dst + t * stride);
  };
  if (pool != nullptr && n_tokens >= 8) {
    pool->ParallelFor(n_tokens, 4, quantize);
  } else {
    quantize(0, n_tokens, 0);
  }
}

// Rows per work unit for one token: enough weight bytes that a chunk outweighs the dispatch.
// Chunks of about 16 KiB of weights, spread evenly over the rows (so 36 KiB becomes two equal
// halves, not 32 KiB + 4 KiB), in multiples of 16 rows.
int64_t MatVecGrain(int64_t rows, size_t row_bytes) {
  const auto total = static_cast<size_t>(rows) * row_bytes;
  const int64_t chunks = std::max<int64_t>(1, static_cast<int64_t>(total / 16384));
  const int64_t per_chunk = (rows + chunks - 1) / chunks;
  return std::max<int64_t>(16, (per_chunk + 15) / 16 * 16);
}

void RunTiles(TileFn tile, const TileArgs& base, int64_t rows, int64_t n_tokens,
              int64_t tile_tokens, ThreadPool* pool) {
  if (n_tokens == 1) {
    auto run = [&](int64_t begin, int64_t end, int) {
      TileArgs a = base;
      a.w = base.w + begin * base.w_stride;
      a.out = base.out + begin;
      a.rows = end - begin;
      tile(a);
    };
    if (pool != nullptr) {
      pool->ParallelFor(rows, MatVecGrain(rows, base.w_stride), run);
    } else {
      run(0, rows, 0);
    }
    return;
  }
  const int64_t row_blocks = (rows + kTileRows - 1) / kTileRows;
  const int64_t token_blocks = (n_tokens + tile_tokens - 1) / tile_tokens;
  auto run = [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t r0 = (i / token_blocks) * kTileRows;
      const int64_t t0 = (i % token_blocks) * tile_tokens;
      TileArgs a = base;
      a.w = base.w + r0 * base.w_stride;
      a.act = base.act + t0 * base.act_stride;
      a.out = base.out + t0 * base.ldo + r0;
      a.rows = std::min(kTileRows, rows - r0);
      a.tokens = std::min(tile_tokens, n_tokens - t0);
      tile(a);
    }
  };
  if (pool != nullptr) {
    pool->ParallelFor(row_blocks * token_blocks, 1, run);
  } else {
    run(0, row_blocks * token_blocks, 0);
  }
}

}  // namespace

std::string_view KernelPathName(KernelPath path) {
  switch (path) {
    case KernelPath::kAuto:
      return "auto";
    case KernelPath::kScalar:
      return "scalar";
    case KernelPath::kAvx2:
      return "avx2";
    case KernelPath::kAvx512:
      return "avx512";
    case KernelPath::kNeon:
      return "neon";
  }
  return "unknown";
}

bool KernelPathSupported(KernelPath path) {
  const CpuFeatures& f = GetCpuFeatures();
  switch (path) {
    case KernelPath::kAuto:
    case KernelPath::kScalar:
      return true;
    case KernelPath::kAvx2:
      return f.avx2 && kernels::Avx2Tile(TensorType::kF32) != nullptr;
    case KernelPath::kAvx512:
      return f.avx512 && kernels::Avx512Tile(TensorType::kF32) != nullptr;
    case KernelPath::kNeon:
      return f.neon && kernels::NeonTile(TensorType::kF32, false) != nullptr;
  }
  return false;
}

KernelPath DetectKernelPath() {
  static const KernelPath best = [] {
    const char* forced = std::getenv("EDGEFARM_KERNEL_PATH");
    if (forced != nullptr) {
      for (KernelPath p :
           {KernelPath::kScalar, KernelPath::kAvx2, KernelPath::kAvx512, KernelPath::kNeon}) {
        if (KernelPathName(p) == forced && KernelPathSupported(p)) return p;
      }
    }
    for (KernelPath p : {KernelPath::kAvx512, KernelPath::kAvx2, KernelPath::kNeon}) {
      if (KernelPathSupported(p)) return p;
    }
    return KernelPath::kScalar;
  }();
  return best;
}

bool MatMulSupports(TensorType type, int64_t cols) {
  return kernels::KernelSupports(type, cols);
}

void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* out, ThreadPool* pool,
            KernelPath path) {
  if (n_tokens <= 0 || w.rows <= 0) return;
  if (!kernels::KernelSupports(w.type, w.cols)) {
    std::fill(out, out + n_tokens * w.rows, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  if (path == KernelPath::kAuto || !KernelPathSupported(path)) path = DetectKernelPath();
  TileFn tile = TileFor(path, w.type, n_tokens);
  if (tile == nullptr) tile = kernels::ScalarTile(w.type);

  TileArgs base{w.type, w.data, w.row_stride, w.cols, nullptr, 0, out, w.rows, w.rows, n_tokens};
  const ActKind kind = kernels::ActKindFor(w.type);
  if (kind == ActKind::kF32) {
    base.act = reinterpret_cast<const uint8_t*>(x);
    base.act_stride = static_cast<size_t>(w.cols) * sizeof(float);
  } else {
    const int64_t padded = kernels::PadCols(w.cols);
    base.act_stride = kernels::ActTokenBytes(padded);
    uint8_t* act = Scratch(base.act_stride * n_tokens);
    QuantizeActivations(kind, path, x, w.cols, n_tokens, act, base.act_stride, pool);
    base.act = act;
  }
  const bool packed = tile == kernels::Avx512PackedTile(w.type);
  RunTiles(tile, base, w.rows, n_tokens, packed ? kPackedTileTokens : kTileTokens, pool);
}

}  // namespace edgefarm::engine
