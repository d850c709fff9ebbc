#!/usr/bin/env bash
# bench/devserver_sync.sh [N...]: initial sync of N rows from
# powersync-devserver, our client against the official JavaScript SDK.
#
#   bench/devserver_sync.sh                  N = 10000 100000 1000000
#   bench/devserver_sync.sh 10000 100000     chosen sizes
#
# Per N: a source database with N todos of one user (and one list) is
# created with the sqlite3 shell, the devserver is started on it (its
# snapshot replication is timed too), and then, one after the other on the
# same server, each client syncs a fresh database until its first full sync:
#   ours-ndjson  `powersync sync --until-synced` (NDJSON, gzip)
#   ours-bson    the same with --bson (the wire format the Node SDK gets)
#   node         tests/interop/node_client.mjs --bench (@powersync/node
#                1.1.0 over better-sqlite3; it asks for BSON, gzip)
# Each client is a fresh process; the wall time covers start-up, opening the
# database, the sync and exit, as a user would see it. The Node SDK also
# reports its connect-to-synced time in-process (column "sync s"). Peak RSS is
# the process's high-water mark (GNU time, or VmHWM polled from /proc); client
# CPU is user + system time (GNU time only): server and client share the
# machine's CPUs, so it tells how much of the wall time is the client's.
# Before the measured runs one unmeasured sync warms the server (its page
# cache and the source database's), so that the first client is not
# penalised. Prints a Markdown table and the ratios ours/node.
#
# Environment (defaults in brackets):
#   BUILD    the build holding powersync-devserver and powersync [build]
#   MODULES  where @powersync/node is installed
#            [tests/differential/node_modules]
#   CLIENTS  which clients to run ["ours-ndjson ours-bson node"]
#   REPEAT   measured runs per client; the fastest is reported [1]
#   WORK     scratch folder [a new one under $TMPDIR, deleted at the end]
# Not part of the test suite: at 1M rows it takes minutes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${BUILD:-$ROOT/build}" && pwd)"
MODULES="$(cd "${MODULES:-$ROOT/tests/differential/node_modules}" && pwd)"
CLIENTS=${CLIENTS:-ours-ndjson ours-bson node}
REPEAT=${REPEAT:-1}
DEVSERVER="$BUILD/powersync-devserver"
CLI="$BUILD/powersync"
NODE_CLIENT="$ROOT/tests/interop/node_client.mjs"
# Generous: the Node client at 1M rows is slow, and a hang must still end.
CLIENT_TIMEOUT_S=3600

die() {
  echo "devserver_sync: $*" >&2
  exit 1
}

sizes=("$@")
((${#sizes[@]})) || sizes=(10000 100000 1000000)
for n in "${sizes[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad N '$n'"
done
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "bad REPEAT '$REPEAT'"
[[ -x "$DEVSERVER" ]] || die "no $DEVSERVER (build the powersync-devserver target, or set BUILD)"
[[ -x "$CLI" ]] || die "no $CLI (build the powersync_cli target, or set BUILD)"
command -v sqlite3 >/dev/null || die "the sqlite3 shell is needed"
if [[ " $CLIENTS " == *" node "* ]]; then
  command -v node >/dev/null || die "node is needed for the node client (or set CLIENTS)"
  [[ -f "$MODULES/@powersync/node/lib/index.js" ]] ||
    die "@powersync/node is not installed in $MODULES (scripts/install-deps.sh)"
fi

export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

OWN_WORK=0
if [[ -z "${WORK:-}" ]]; then
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/powersync-devbench.XXXXXX")"
  OWN_WORK=1
fi
mkdir -p "$WORK"
SERVER_PID=""
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
cleanup() {
  stop_server
  if ((OWN_WORK)); then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# GNU time measures the peak RSS exactly; without it, poll /proc.
HAVE_GNU_TIME=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
  HAVE_GNU_TIME=1
fi

now_ns() { date +%s%N; }

# measure OUT CMD...: runs CMD (stdout to OUT.stdout, stderr to OUT.stderr);
# sets WALL_S, RSS_KIB and CPU_S (user + system; "-" without GNU time).
# Returns CMD's exit status.
measure() {
  local out="$1" t0 t1 rc=0 pid key value user_s sys_s _
  shift
  t0=$(now_ns)
  if ((HAVE_GNU_TIME)); then
    /usr/bin/time -f '%M %U %S' -o "$out.rss" "$@" >"$out.stdout" 2>"$out.stderr" || rc=$?
    t1=$(now_ns)
    read -r RSS_KIB user_s sys_s _ < <(tail -n 1 "$out.rss")
    CPU_S=$(awk -v u="$user_s" -v s="$sys_s" 'BEGIN { printf "%.2f", u + s }')
  else
    "$@" >"$out.stdout" 2>"$out.stderr" &
    pid=$!
    RSS_KIB=0
    CPU_S="-"
    # VmHWM only grows; the last value read before the exit is the peak up
    # to the last 20 ms.
    while kill -0 "$pid" 2>/dev/null; do
      while read -r key value _; do
        if [[ $key == VmHWM: ]] && ((value > RSS_KIB)); then RSS_KIB=$value; fi
      done <"/proc/$pid/status" 2>/dev/null || true
      sleep 0.02
    done
    wait "$pid" || rc=$?
    t1=$(now_ns)
  fi
  WALL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  return "$rc"
}

make_source() { # DB N
  sqlite3 "$1" <<SQL
CREATE TABLE lists(id TEXT PRIMARY KEY, created_at TEXT, name TEXT, owner_id TEXT);
CREATE TABLE todos(id TEXT PRIMARY KEY, created_at TEXT, completed_at TEXT,
  description TEXT, completed INTEGER, created_by TEXT, list_id TEXT,
  priority INTEGER, score REAL);
INSERT INTO lists VALUES('11111111-1111-4111-8111-111111111111',
  '2026-01-01 10:00:00Z', 'Benchmark', 'user-a');
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $2)
INSERT INTO todos
SELECT printf('%08x-0000-4000-8000-%012x', i, i),
       strftime('%Y-%m-%d %H:%M:%SZ', 1767261600 + i, 'unixepoch'),
       CASE WHEN i % 3 = 0 THEN strftime('%Y-%m-%d %H:%M:%SZ', 1767265200 + i, 'unixepoch') END,
       'Todo number ' || i || ': something to remember to do',
       i % 3 = 0, 'user-a', '11111111-1111-4111-8111-111111111111',
       i % 5, i * 0.25
FROM seq;
SQL
}

# The interop test's sync config and client schema (tests/interop/).
cp "$ROOT/tests/interop/todos-sync-config.yaml" "$WORK/config.yaml"
cp "$ROOT/tests/interop/todos-schema.json" "$WORK/schema.json"

# run_client NAME DB: one sync of a fresh DB; prints
# "seconds rss_kib sync_s cpu_s".
run_client() {
  local name="$1" db="$2" out="$WORK/run" rows sync_s="-"
  rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  case "$name" in
  ours-ndjson | ours-bson)
    local fmt=()
    [[ $name == ours-bson ]] && fmt=(--bson)
    measure "$out" "$CLI" sync --db "$db" --schema "$WORK/schema.json" --endpoint "$URL" \
      --token "$TOKEN" --until-synced --timeout "$CLIENT_TIMEOUT_S" --progress none "${fmt[@]}" ||
      { cat "$out.stderr" >&2; die "$name failed"; }
    rows=$("$CLI" query --db "$db" --json "SELECT count(*) AS n FROM todos" | tr -dc '0-9')
    ;;
  node)
    measure "$out" node "$NODE_CLIENT" --modules "$MODULES" --endpoint "$URL" --token "$TOKEN" \
      --db "$db" --schema "$WORK/schema.json" --timeout "$CLIENT_TIMEOUT_S" --bench ||
      { cat "$out.stderr" >&2; die "$name failed"; }
    rows=$(node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(r.rows)' <"$out.stdout")
    sync_s=$(node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); console.log(r.sync_s.toFixed(3))' <"$out.stdout")
    ;;
  *) die "unknown client '$name'" ;;
  esac
  [[ $rows == "$N" ]] || die "$name synced $rows todos, expected $N"
  rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
  echo "$WALL_S $RSS_KIB $sync_s $CPU_S"
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"
for N in "${sizes[@]}"; do
  src="$WORK/source-$N.db"
  rm -f "$src"
  echo "devserver_sync: N=$N: creating the source database" >&2
  make_source "$src" "$N"
  t0=$(now_ns)
  # The devserver replicates every existing row when it opens the source,
  # before it listens: that is the snapshot time.
  "$DEVSERVER" --db "$src" --config "$WORK/config.yaml" --port 0 --quiet \
    >"$WORK/server.out" 2>"$WORK/server.log" &
  SERVER_PID=$!
  URL=""
  while [[ -z "$URL" ]]; do
    kill -0 "$SERVER_PID" 2>/dev/null || die "powersync-devserver exited: $(cat "$WORK/server.log")"
    sleep 0.05
    URL="$(sed -n 's/^powersync-devserver listening on //p' "$WORK/server.out")"
  done
  snapshot_s=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  echo "devserver_sync: N=$N: devserver ready after ${snapshot_s} s (snapshot replication)" >&2
  TOKEN="$("$DEVSERVER" token --user user-a)"

  echo "devserver_sync: N=$N: warm-up sync" >&2
  run_client ours-ndjson "$WORK/client.db" >/dev/null
  for client in $CLIENTS; do
    best=""
    for ((r = 1; r <= REPEAT; r++)); do
      echo "devserver_sync: N=$N: $client (run $r/$REPEAT)" >&2
      res=$(run_client "$client" "$WORK/client.db")
      read -r secs rss sync_s cpu_s <<<"$res"
      if [[ -z "$best" ]] || awk -v a="$secs" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
        best="$secs $rss $sync_s $cpu_s"
      fi
    done
    echo "$N $client $best" >>"$RESULTS"
  done
  stop_server
  rm -f "$src" "$src-wal" "$src-shm"
done

# The table, then per N the ratios of each of our clients to node.
awk -v gnu="$HAVE_GNU_TIME" '
  { n[NR] = $1; c[NR] = $2; s[NR] = $3; rss[NR] = $4; ss[NR] = $5; cpu[NR] = $6
    if ($2 == "node") { ns[$1] = $3; nrss[$1] = $4 } }
  END {
    print "| N | client | seconds | rows/s | peak RSS MiB | client CPU s | sync s (in-process) |"
    print "|---:|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= NR; i++)
      printf "| %d | %s | %.2f | %.0f | %.1f | %s | %s |\n", n[i], c[i], s[i], n[i] / s[i], rss[i] / 1024, cpu[i], ss[i]
    print ""
    for (i = 1; i <= NR; i++)
      if (c[i] != "node" && (n[i] in ns))
        printf "N=%d %s/node: time %.2fx, peak RSS %.2fx\n", n[i], c[i], s[i] / ns[n[i]], rss[i] / nrss[n[i]]
    print ""
    print "seconds: wall time of the client process (start-up, open, sync, exit);"
    print "peak RSS: " (gnu ? "GNU time" : "VmHWM polled from /proc") "; client CPU s: user + system of the client"
    print "process (the server runs on the same CPUs); sync s: @powersync/node connect to first full sync."
  }' "$RESULTS"
