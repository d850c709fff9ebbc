#!/bin/sh
# check_runner_identity.sh: proves that scenario_runner.c writes the same
# output lines as run.js. It builds the C runner against the SQLite
# amalgamation bundled with better-sqlite3 (the same version run.js uses,
# new enough for the official core), loads the official core with
# --extension and compares every scenario with its golden file (--oracle:
# no deviations, no "sqlite340" lines). Every scenario must pass; a failure
# means the two runners disagree (or the oracle is not deterministic).
#
#   tests/differential/check_runner_identity.sh <build dir>
#
# <build dir> is a configured and built tree (make BUILD=...) whose static
# libraries provide the JSON reader and buffers the runner uses. The
# amalgamation takes about 20 s to compile; objects go to $TMPDIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: check_runner_identity.sh <build dir>}
build=$(cd "$build" && pwd)
root=$(cd "$here/../.." && pwd)
amalg="$here/node_modules/better-sqlite3/deps/sqlite3"
official="$here/node_modules/@powersync/node/lib/libpowersync_x64.linux.so"
for f in "$amalg/sqlite3.c" "$official" "$build/libpowersync_ext_static.a" \
  "$build/libpowersync_parsers.a"; do
  [ -f "$f" ] || { echo "check_runner_identity.sh: missing $f" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/ps-identity-XXXXXX")
trap 'rm -rf "$work"' EXIT
cc=${CC:-cc}
# The compile options of better-sqlite3 that matter for the output lines.
$cc -O1 -c -o "$work/sqlite3.o" "$amalg/sqlite3.c" -DSQLITE_DQS=0 \
  -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_MATH_FUNCTIONS \
  -DSQLITE_THREADSAFE=2 -DSQLITE_USE_URI=0 -DSQLITE_DEFAULT_MEMSTATUS=0 \
  -DHAVE_USLEEP=1
$cc -O1 -I"$amalg" -I"$root/src" -I"$root/include" -o "$work/runner" \
  "$here/scenario_runner.c" "$build/libpowersync_ext_static.a" \
  "$build/libpowersync_parsers.a" "$work/sqlite3.o" -lm -lpthread -ldl
"$work/runner" --oracle --extension "$official" "$here/scenarios" \
  "$here/expected"
