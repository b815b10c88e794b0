// A real child process for the process-runner tests.
//   worker_test_child alloc MB        touch MB mebibytes, then exit 0
//   worker_test_child lines N         print N numbered lines to stdout, every 10th also to stderr
//   worker_test_child exit CODE       exit with CODE
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) return 100;
  const long n = std::strtol(argv[2], nullptr, 10);
  if (std::strcmp(argv[1], "alloc") == 0) {
    std::vector<char> block(static_cast<size_t>(n) * 1024 * 1024);
    // Touch every page so the memory is resident, not just reserved.
    for (size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(i);
    std::printf("touched %ld MiB, checksum %d\n", n, block[block.size() / 2]);
    return 0;
  }
  if (std::strcmp(argv[1], "lines") == 0) {
    for (long i = 0; i < n; ++i) {
      std::printf("line %06ld of the numbered output\n", i);
      if (i % 10 == 0) std::fprintf(stderr, "err %06ld\n", i);
    }
    return 0;
  }
  if (std::strcmp(argv[1], "exit") == 0) return static_cast<int>(n);
  return 100;
}
