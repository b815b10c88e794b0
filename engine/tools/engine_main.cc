// edgefarm-engine: a thin dispatcher over the engine library's subcommands.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(int, char**);
  std::string_view usage;
};

using namespace edgefarm::engine::tools;

constexpr Command kCommands[] = {
    {"tokenize", RunTokenize, "tokenize MODEL TEXT"},
    {"quantize", RunQuantize, "quantize IN OUT --scheme S [--pure] [--threads T]"},
    {"make-model", RunMakeModel,
     "make-model OUT --dim D --layers L --ff F --heads H --kv-heads K --vocab V --seed S "
     "[--type f16|f32]"},
    {"generate", RunGenerate, "generate MODEL --prompt TEXT -n N [--threads T]"},
    {"bench", RunBench, "bench MODEL --prompt N --gen N --threads T --reps R [--json]"},
    {"eval", RunEval, "eval MODEL --text FILE --ctx N [--baseline BASE] [--json]"},
    {"run", RunCellJob, "run JOB.json --out DIR"},
    {"info", RunInfo, "info MODEL"},
    {"serve", RunServe,
     "serve MODEL --port P [--host H] [--threads T] [--fault-error-rate R] "
     "[--fault-latency-ms L] [--fault-seed S] [--ready-file F]"},
    {"stage-check", RunStageCheck, "stage-check JOB.json --out DIR"},
    {"load", RunLoadCommand,
     "load URL (--requests N | --duration-s D) [--concurrency C] [--max-tokens M] [--json]"},
    {"route", RunRoute,
     "route --port P [--blue URL] [--green URL] [--live blue|green] [--weight W] "
     "[--admin-token-file F] [--ready-file F]"},
};

void PrintUsage() {
  std::fprintf(stderr, "usage: edgefarm-engine COMMAND [ARGS]\n\ncommands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(c.usage.size()), c.usage.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == argv[1]) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "edgefarm-engine: unknown command '%s'\n", argv[1]);
  PrintUsage();
  return 2;
}
