# Every third-party dependency comes from a Debian 12 -dev package (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Protobuf REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
pkg_check_modules(LIBGIT2 REQUIRED IMPORTED_TARGET libgit2)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
# The allocator of the binaries that host a coordinator (docs/scheduling.md: the loop allocates
# rows and messages that the writer thread frees; jemalloc's per-thread caches cost about 12 % less
# CPU per job than glibc malloc in edgefarm-bench-scheduler).
pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
if(EDGEFARM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(EDGEFARM_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
