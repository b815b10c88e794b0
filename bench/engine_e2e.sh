#!/usr/bin/env bash
# End-to-end engine figures (not a test): pp512 / tg128 tokens/s at 2 threads on the issue's random
# LLaMA (dim 256, 4 layers, ff 768, 8 heads, 4 KV heads, vocab 32000) in F16, Q8_0 and Q4_0 --pure,
# each on the SIMD (auto) and the scalar kernel path, plus the real stories260K model. Prints a
# table and one JSON line per measurement. Builds nothing.
#
#   bench/engine_e2e.sh BUILD_DIR
# Environment: THREADS (2), REPS (5), PP (512), TG (128), SCALAR (1: also run the scalar path),
# LLAMA_BENCH=/path/to/llama-bench to run llama.cpp on the same files side by side,
# KEEP=DIR to keep the generated models in DIR.
set -euo pipefail

build=${1:?usage: bench/engine_e2e.sh BUILD_DIR}
engine="$build/engine/edgefarm-engine"
[[ -x "$engine" ]] || { echo "no $engine (build the edgefarm-engine target first)" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
threads=${THREADS:-2}
reps=${REPS:-5}
pp=${PP:-512}
tg=${TG:-128}
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT

echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
if [[ ! -f "$work/rand-f16.gguf" ]]; then
  "$engine" make-model "$work/rand-f16.gguf" --dim 256 --layers 4 --ff 768 --heads 8 \
    --kv-heads 4 --vocab 32000 --seed 1 --type f16 > /dev/null
  "$engine" quantize "$work/rand-f16.gguf" "$work/rand-q8_0.gguf" --scheme q8_0 > /dev/null
  "$engine" quantize "$work/rand-f16.gguf" "$work/rand-q4_0-pure.gguf" --scheme q4_0 --pure \
    > /dev/null
fi
cp "$src/tests/data/models/stories260K.gguf" "$work/stories260K.gguf"

models=(rand-f16 rand-q8_0 rand-q4_0-pure stories260K)
paths=(auto)
[[ "${SCALAR:-1}" == 1 ]] && paths+=(scalar)

printf '%-16s %-7s %22s %22s %10s\n' model path "pp$pp t/s" "tg$tg t/s" "tg p50 ms"
for m in "${models[@]}"; do
  for path in "${paths[@]}"; do
    json=$(EDGEFARM_KERNEL_PATH=$path "$engine" bench "$work/$m.gguf" --prompt "$pp" --gen "$tg" \
      --threads "$threads" --reps "$reps" --json)
    python3 - "$m" "$path" "$json" <<'PY'
import json, sys
m, path, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print(f"{m:<16} {path:<7} {j['pp_tps_mean']:>12.1f} ± {j['pp_tps_stddev']:>7.1f} "
      f"{j['tg_tps_mean']:>12.1f} ± {j['tg_tps_stddev']:>7.1f} {j['latency_p50_ms']:>10.3f}")
j.update({"model": m, "engine": "edgefarm", "requested_path": path})
print("JSON " + json.dumps(j), file=sys.stderr)
PY
  done
done 2>&1 | sed -u 's/^JSON //' | awk '/^{/ {json[++n]=$0; next} {print} END {for (i=1;i<=n;i++) print json[i]}'

if [[ -n "${LLAMA_BENCH:-}" && -x "${LLAMA_BENCH}" ]]; then
  echo "# llama.cpp llama-bench, same files, $threads threads"
  for m in "${models[@]}"; do
    "$LLAMA_BENCH" -m "$work/$m.gguf" -t "$threads" -p "$pp" -n "$tg" -r "$reps" -o jsonl 2>/dev/null |
      python3 -c '
import json, sys
for line in sys.stdin:
    j = json.loads(line)
    test = "pp%d" % j["n_prompt"] if j["n_prompt"] else "tg%d" % j["n_gen"]
    print("%-16s llama.cpp %-6s %10.1f ± %.1f t/s" % (sys.argv[1], test, j["avg_ts"], j["stddev_ts"]))
    print(json.dumps({"model": sys.argv[1], "engine": "llama.cpp", "test": test,
                      "avg_ts": j["avg_ts"], "stddev_ts": j["stddev_ts"]}))
' "$m"
  done
fi
