#!/usr/bin/env bash
# Installs a built tree into a scratch prefix, then builds and runs
# examples/open_write_watch_read.c the way an application would: with
# pkg-config against the shared library, with pkg-config --static against the
# static library, and with CMake's find_package(powersync).
#
#   scripts/check-install.sh <build dir> <scratch dir>
set -euo pipefail
build=$(cd "$1" && pwd)
work=$2
src=$(cd "$(dirname "$0")/.." && pwd)/examples/open_write_watch_read.c
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

libdir=$(find "$prefix" -name powersync.pc -printf '%h\n' | head -n1)
export PKG_CONFIG_PATH=$libdir
cc=${CC:-cc}
flags="-std=c11 -Wall -Wextra -Werror -pedantic"

# Shared library.
# shellcheck disable=SC2046,SC2086
$cc $flags "$src" -o "$work/example_shared" $(pkg-config --cflags --libs powersync) -pthread
LD_LIBRARY_PATH=$prefix/lib:$(dirname "$libdir") "$work/example_shared" "$work/shared.db"
if ldd "$work/example_shared" | grep -q "libpowersync.so"; then :; else
  echo "example_shared is not linked with libpowersync.so" >&2; exit 1; fi

# Static library (pkg-config --static adds SQLite, pthreads and libm; libcurl
# is linked as the shared library, as applications usually do).
# shellcheck disable=SC2046,SC2086
$cc $flags "$src" -o "$work/example_static" $(pkg-config --static --cflags powersync) \
  "$(dirname "$libdir")/libpowersync.a" $(pkg-config --static --libs-only-l --libs-only-other sqlite3) \
  $(pkg-config --libs libcurl) -pthread -lm
"$work/example_static" "$work/static.db"

# CMake package.
mkdir -p "$work/cmake-src"
cp "$src" "$work/cmake-src/"
cat >"$work/cmake-src/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(ps_example C)
find_package(powersync REQUIRED)
add_executable(example open_write_watch_read.c)
target_link_libraries(example PRIVATE powersync::powersync_static)
CM
cmake -S "$work/cmake-src" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/example" "$work/cmake.db"
echo "install check ok"
