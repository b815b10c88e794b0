// The subcommands of edgefarm-engine. Each parses its own flags, calls the engine library and
// returns a process exit code (0 ok, 1 failure, 2 usage error). Errors go to stderr.
#pragma once

#include <string>

namespace edgefarm::engine::tools {

int RunTokenize(int argc, char** argv);     // tokenize MODEL TEXT
int RunQuantize(int argc, char** argv);     // quantize IN OUT --scheme S [--pure]
int RunMakeModel(int argc, char** argv);    // make-model OUT --dim D ...
int RunGenerate(int argc, char** argv);     // generate MODEL --prompt TEXT -n N
int RunBench(int argc, char** argv);        // bench MODEL --prompt N --gen N ...
int RunEval(int argc, char** argv);         // eval MODEL --text FILE --ctx N [--baseline BASE]
int RunCellJob(int argc, char** argv);      // run JOB.json --out DIR
int RunInfo(int argc, char** argv);         // info MODEL: metadata and tensors
int RunServe(int argc, char** argv);        // serve MODEL --port P ...: HTTP inference server
int RunStageCheck(int argc, char** argv);   // stage-check JOB.json --out DIR
// `run` on an edgefarm.stage/v1 record: the stage checks; DIR/stage-result.json is also written as
// DIR/result.json. Exit 0 whenever the checks ran (the report says whether they passed).
int RunStageJob(const char* job_path, const std::string& out_dir);
int RunLoadCommand(int argc, char** argv);  // load URL --requests N ...: HTTP load generator
int RunRoute(int argc, char** argv);        // route --port P --blue URL --green URL ...

}  // namespace edgefarm::engine::tools
