// edgefarm-engine tokenize MODEL TEXT [--no-bos] [--pieces]: token ids of TEXT, space separated.
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "edgefarm/engine/gguf.h"
#include "edgefarm/engine/tokenizer.h"

namespace edgefarm::engine::tools {

int RunTokenize(int argc, char** argv) {
  const char* model = nullptr;
  const char* text = nullptr;
  bool bos = true;
  bool pieces = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-bos") == 0) {
      bos = false;
    } else if (std::strcmp(argv[i], "--pieces") == 0) {
      pieces = true;
    } else if (model == nullptr) {
      model = argv[i];
    } else if (text == nullptr) {
      text = argv[i];
    } else {
      std::fprintf(stderr, "tokenize: unexpected argument '%s'\n", argv[i]);
      return 2;
    }
  }
  if (model == nullptr || text == nullptr) {
    std::fprintf(stderr, "usage: edgefarm-engine tokenize MODEL TEXT [--no-bos] [--pieces]\n");
    return 2;
  }
  auto file = GgufFile::Open(model);
  if (!file.ok()) {
    std::fprintf(stderr, "tokenize: %s\n", file.status().ToString().c_str());
    return 1;
  }
  auto tok = Tokenizer::FromGguf(**file);
  if (!tok.ok()) {
    std::fprintf(stderr, "tokenize: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  const std::vector<int32_t> ids = (*tok)->Encode(text, bos);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (pieces) {
      std::printf("%d\t'%s'\n", ids[i], (*tok)->TokenToPiece(ids[i]).c_str());
    } else {
      std::printf(i == 0 ? "%d" : " %d", ids[i]);
    }
  }
  if (!pieces) std::printf("\n");
  return 0;
}

}  // namespace edgefarm::engine::tools
