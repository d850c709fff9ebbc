#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang in build-fuzz/ and runs each
# for SECONDS (default 60), one after the other, starting from a temporary copy
# of its seed corpus so that fuzz/corpora/ is never modified.
#
# Exits non-zero if any target crashed, leaked, timed out or ran out of memory.
# Reproducers are kept in build-fuzz/artifacts/ and full logs in
# build-fuzz/<target>.log; replay a reproducer with
# build-fuzz/<target>_fuzzer <file>. New inputs the run finds are discarded
# with the temporary copy; with KEEP_CORPUS=1 the copy is left in place (its
# path is printed) so that useful ones can be added to fuzz/corpora/ by hand.
#
# Needs clang and its sanitizer/libFuzzer runtime (Debian: clang and
# libclang-rt-14-dev).
set -euo pipefail

usage() {
  echo "usage: $0 [SECONDS]" >&2
  exit 2
}

secs="${1:-60}"
[[ "$secs" =~ ^[0-9]+$ ]] || usage

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build-fuzz"
artifacts="$build/artifacts"

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOWERSYNC_BUILD_FUZZERS=ON \
  -DPOWERSYNC_BUILD_TESTS=OFF >/dev/null

targets=()
for src in "$root"/fuzz/*_fuzzer.c; do
  name="$(basename "$src" _fuzzer.c)"
  targets+=("$name")
done
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target "${targets[@]/%/_fuzzer}"

work="$(mktemp -d "${TMPDIR:-/tmp}/powersync-fuzz.XXXXXX")"
if [ "${KEEP_CORPUS:-0}" = 1 ]; then
  echo "corpus copies kept in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$artifacts"

failed=()
for name in "${targets[@]}"; do
  corpus="$work/$name"
  log="$build/$name.log"
  mkdir -p "$corpus"
  # corpora/<name>, and corpora/<name>_* for targets with several seed
  # corpora (sync_line: one per encoding).
  for dir in "$root/fuzz/corpora/$name" "$root/fuzz/corpora/${name}"_*; do
    if [ -d "$dir" ]; then
      cp -R "$dir/." "$corpus/"
    fi
  done
  args=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/$name-")
  if [ -f "$root/fuzz/$name.dict" ]; then
    args+=(-dict="$root/fuzz/$name.dict")
  fi
  echo "== $name: fuzzing for ${secs}s (log: $log)"
  status=0
  "$build/${name}_fuzzer" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' \
    "$log" || true
  if [ "$status" -ne 0 ]; then
    echo "== $name: FAILED (exit $status); last lines of the log:"
    tail -n 40 "$log"
    failed+=("$name")
  else
    echo "== $name: ok ($(find "$corpus" -type f | wc -l) corpus entries)"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing failed: ${failed[*]}; reproducers in $artifacts" >&2
  exit 1
fi
echo "fuzzing passed: ${targets[*]}"
