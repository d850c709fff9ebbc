#!/usr/bin/env bash
# run_interop.sh: the official JavaScript SDK (@powersync/node) and our
# client (the `powersync` CLI) sync from powersync-devserver and must see
# the same rows, the rows the source database says each user may see:
#
#   1. user-a, fresh databases: node == ours == source (lists: all; todos:
#      user-a's only);
#   2. user-b likewise: its one todo, none of user-a's;
#   3. a write made through the Node SDK (uploaded by its connector to
#      POST /api/data) reaches the source and then our client on re-sync;
#   4. writes made by our client (update, delete, insert) reach the source
#      and then the Node client on re-sync;
#   5. user-b's view is unchanged by user-a's writes;
#   6. every request the clients made was answered 2xx.
#
#   bash run_interop.sh BUILD_DIR [SOURCE_DIR]
#
# BUILD_DIR holds powersync-devserver and the powersync CLI; SOURCE_DIR
# (default: two levels above this script) holds tests/differential's
# node_modules, installed by scripts/install-deps.sh.
# Exits 0 when everything matches, 1 with a diff on the first mismatch,
# 77 (CTest's skip code) when Node.js, the SDK modules or the sqlite3 shell
# are missing. Set INTEROP_VERBOSE=1 for the clients' logs; on failure the
# work directory (databases, server log) is kept and named.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SKIP=77
STEP_TIMEOUT_S=60

usage() {
  echo "usage: bash run_interop.sh BUILD_DIR [SOURCE_DIR]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
BUILD="$(cd "$1" && pwd)" || usage
SOURCE="$(cd "${2:-$HERE/../..}" && pwd)" || usage

say() { printf 'interop: %s\n' "$*"; }
skip() {
  say "SKIP: $*"
  exit "$SKIP"
}
die() {
  say "FAIL: $*" >&2
  exit 1
}

# --- Prerequisites -----------------------------------------------------------

MODULES="$SOURCE/tests/differential/node_modules"
DEVSERVER="$BUILD/powersync-devserver"
CLI="$BUILD/powersync"

command -v node >/dev/null || skip "node is not installed (scripts/install-deps.sh installs it)"
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed (scripts/install-deps.sh installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
# Global fetch and the SDK's syntax need Node 18 or later.
((node_major >= 18)) || skip "node $(node --version) is too old (need >= 18)"
[[ -f "$MODULES/@powersync/node/lib/index.js" ]] ||
  skip "@powersync/node is not installed in $MODULES (run scripts/install-deps.sh)"
# better-sqlite3 is a native module; a missing or mismatched build is a setup
# problem, not a devserver bug.
node -e 'new (require(process.argv[1]))(":memory:").close()' "$MODULES/better-sqlite3" 2>/dev/null ||
  skip "better-sqlite3 in $MODULES does not load (run scripts/install-deps.sh)"
[[ -x "$DEVSERVER" ]] || die "no $DEVSERVER: build the powersync-devserver target"
[[ -x "$CLI" ]] || die "no $CLI: build the powersync_cli target (tools/cli)"

# Loopback must never go through a proxy (the SDK's fetch honours *_PROXY).
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/powersync-interop.XXXXXX")"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if ((rc == 0)); then
    rm -rf "$WORK"
  elif ((rc != SKIP)); then
    say "work directory kept: $WORK (server log: $WORK/server.log)" >&2
  fi
}
trap cleanup EXIT

# --- Source database, config, server ----------------------------------------

# The real-service fixture's tables and seed rows
# (tests/differential/fixtures/real-service/README.md), plus one user-a todo
# with awkward values: non-ASCII and escaped text, a newline, a negative
# fraction, an integer above 2^32.
L1=11111111-1111-4111-8111-111111111111
L2=22222222-2222-4222-8222-222222222222
A1=aaaaaaa1-0000-4000-8000-000000000001
A2=aaaaaaa1-0000-4000-8000-000000000002
A3=aaaaaaa1-0000-4000-8000-000000000003
B1=bbbbbbb2-0000-4000-8000-000000000001
N1=cccccccc-0000-4000-8000-000000000001 # written through the Node SDK
O1=dddddddd-0000-4000-8000-000000000001 # written by our client

SRC="$WORK/source.db"
sqlite3 "$SRC" <<SQL
CREATE TABLE lists(id TEXT PRIMARY KEY, created_at TEXT, name TEXT, owner_id TEXT);
CREATE TABLE todos(id TEXT PRIMARY KEY, created_at TEXT, completed_at TEXT,
  description TEXT, completed INTEGER, created_by TEXT, list_id TEXT,
  priority INTEGER, score REAL);
INSERT INTO lists VALUES('$L1', '2026-01-01 10:00:00Z', 'Groceries', 'user-a');
INSERT INTO lists VALUES('$L2', '2026-01-01 10:05:00Z', 'Work', 'user-b');
INSERT INTO todos VALUES('$A1', '2026-01-01 11:00:00Z', NULL, 'Buy milk', 0,
  'user-a', '$L1', 1, 1.5);
INSERT INTO todos VALUES('$A2', '2026-01-01 11:01:00Z', NULL, 'Buy eggs', 1,
  'user-a', '$L1', 2, NULL);
INSERT INTO todos VALUES('$B1', '2026-01-01 11:02:00Z', NULL, 'Write report', 0,
  'user-b', '$L2', 3, 0.25);
INSERT INTO todos VALUES('$A3', '2026-01-01 11:03:00Z', NULL,
  'Café ☕ "quoted" \\ back' || char(10) || 'slash', 0, 'user-a', '$L1',
  4294967297, -0.001);
SQL

cp "$HERE/todos-sync-config.yaml" "$WORK/config.yaml"

# The client schema, read by both clients (`powersync sync --schema` and
# node_client.mjs --schema).
cp "$HERE/todos-schema.json" "$WORK/schema.json"

# Port 0: the server binds a free port and prints its URL.
"$DEVSERVER" --db "$SRC" --config "$WORK/config.yaml" --port 0 --poll-ms 20 \
  >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
  URL="$(sed -n 's/^powersync-devserver listening on //p' "$WORK/server.out")"
  [[ -n "$URL" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "powersync-devserver exited: $(cat "$WORK/server.log")"
  sleep 0.1
done
[[ -n "$URL" ]] || die "powersync-devserver did not print its URL within 10 s"
say "devserver at $URL"

TOKEN_A="$("$DEVSERVER" token --user user-a)"
TOKEN_B="$("$DEVSERVER" token --user user-b)"

# --- Clients -----------------------------------------------------------------

VERBOSE_FLAG=()
[[ -n "${INTEROP_VERBOSE:-}" ]] && VERBOSE_FLAG=(--verbose)

# node_run LOG ARGS...: the Node client; stdout is the result, stderr goes to
# LOG and is shown when it fails.
node_run() {
  local log="$1"
  shift
  if ! node "$HERE/node_client.mjs" --modules "$MODULES" --endpoint "$URL" \
    --schema "$WORK/schema.json" --timeout "$STEP_TIMEOUT_S" "${VERBOSE_FLAG[@]}" "$@" 2>"$log"; then
    cat "$log" >&2
    die "the Node client failed (node_client.mjs $*)"
  fi
  [[ -z "${INTEROP_VERBOSE:-}" ]] || cat "$log" >&2
}

# ours_sync DB TOKEN: our client syncs DB until a full sync after it started,
# uploading pending writes to the devserver.
ours_sync() {
  local log="$WORK/ours-sync.log"
  if ! "$CLI" sync --db "$1" --schema "$WORK/schema.json" --endpoint "$URL" \
    --token "$2" --upload-url "$URL/api/data" --until-synced \
    --timeout "$STEP_TIMEOUT_S" --progress lines "${VERBOSE_FLAG[@]}" 2>"$log"; then
    cat "$log" >&2
    die "our client failed (powersync sync --db $1)"
  fi
  [[ -z "${INTEROP_VERBOSE:-}" ]] || cat "$log" >&2
}

# ours_query DB SQL: a JSON array of row objects.
ours_query() { "$CLI" query --db "$1" --json "$2"; }

# source_query SQL: the same from the source database (the sqlite3 shell
# prints nothing rather than [] for no rows).
source_query() {
  local out
  out="$(sqlite3 -json "$SRC" "$1")"
  printf '%s\n' "${out:-[]}"
}

# canon: a JSON array of rows on stdin -> one row per line, keys sorted,
# rows sorted, so that clients that order columns or rows differently
# still compare equal and a mismatch shows as a line diff.
canon() {
  node -e '
    const text = require("fs").readFileSync(0, "utf8").trim();
    const rows = JSON.parse(text || "[]");
    const sortKeys = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    console.log(rows.map((r) => JSON.stringify(sortKeys(r))).sort().join("\n"));
  '
}

# same LABEL NAME1 JSON1 NAME2 JSON2 ...: all the row sets must be equal.
same() {
  local label="$1" first_name="$2" first_json="$3" name json
  shift 3
  canon <<<"$first_json" >"$WORK/expected.rows"
  while (($# >= 2)); do
    name="$1" json="$2"
    shift 2
    canon <<<"$json" >"$WORK/actual.rows"
    if ! diff -u --label "$first_name" --label "$name" "$WORK/expected.rows" "$WORK/actual.rows" >"$WORK/rows.diff"; then
      cat "$WORK/rows.diff" >&2
      die "$label: $name differs from $first_name (diff above)"
    fi
  done
  say "ok: $label ($(grep -c . "$WORK/expected.rows" || true) rows)"
}

count_rows() { canon <<<"$1" | grep -c . || true; }

TODOS="SELECT * FROM todos ORDER BY id"
LISTS="SELECT * FROM lists ORDER BY id"
source_todos() { source_query "SELECT * FROM todos WHERE created_by = '$1' ORDER BY id"; }

# --- 1. user-a: initial sync -------------------------------------------------

NA="$WORK/node-a.db" OA="$WORK/ours-a.db" NB="$WORK/node-b.db" OB="$WORK/ours-b.db"

# Node: the token comes from the devserver's token endpoint, as an app's
# backend would hand it out.
node_run "$WORK/node.log" --token-url "$URL/api/auth/token?user_id=user-a" --db "$NA" \
  --query "$TODOS" --query "$LISTS" >"$WORK/node-a.out"
ours_sync "$OA" "$TOKEN_A"
same "user-a todos after the initial sync" source "$(source_todos user-a)" \
  node "$(sed -n 1p "$WORK/node-a.out")" ours "$(ours_query "$OA" "$TODOS")"
same "user-a lists after the initial sync" source "$(source_query "$LISTS")" \
  node "$(sed -n 2p "$WORK/node-a.out")" ours "$(ours_query "$OA" "$LISTS")"

# --- 2. user-b: initial sync -------------------------------------------------

node_run "$WORK/node.log" --token "$TOKEN_B" --db "$NB" \
  --query "$TODOS" --query "$LISTS" >"$WORK/node-b.out"
ours_sync "$OB" "$TOKEN_B"
same "user-b todos after the initial sync" source "$(source_todos user-b)" \
  node "$(sed -n 1p "$WORK/node-b.out")" ours "$(ours_query "$OB" "$TODOS")"
same "user-b lists after the initial sync" source "$(source_query "$LISTS")" \
  node "$(sed -n 2p "$WORK/node-b.out")" ours "$(ours_query "$OB" "$LISTS")"
n="$(count_rows "$(sed -n 1p "$WORK/node-b.out")")"
((n == 1)) || die "user-b should see exactly its 1 todo, the Node client sees $n"

# --- 3. a write through the Node SDK reaches our client ---------------------

node_run "$WORK/node.log" --token-url "$URL/api/auth/token?user_id=user-a" --db "$NA" \
  --exec "INSERT INTO todos(id, created_at, description, completed, created_by, list_id, priority, score)
          VALUES(?, '2026-01-02 08:00:00Z', ?, 0, 'user-a', ?, 2, 2.5)" \
  --params "[\"$N1\", \"Written by @powersync/node ✓\", \"$L1\"]" >/dev/null
[[ "$(sqlite3 "$SRC" "SELECT count(*) FROM todos WHERE id = '$N1'")" == 1 ]] ||
  die "the Node client's upload did not reach the source database"
say "ok: the Node client's write reached the source"
ours_sync "$OA" "$TOKEN_A"
same "user-a todos after the Node client's write" source "$(source_todos user-a)" \
  ours "$(ours_query "$OA" "$TODOS")"

# --- 4. writes by our client reach the Node client --------------------------

"$CLI" exec --db "$OA" "UPDATE todos SET completed = 1, completed_at = '2026-01-02 09:00:00Z' WHERE id = ?" "$A1" >/dev/null
"$CLI" exec --db "$OA" "DELETE FROM todos WHERE id = ?" "$A2" >/dev/null
"$CLI" exec --db "$OA" "INSERT INTO todos(id, created_at, description, completed, created_by, list_id)
                        VALUES(?, '2026-01-02 09:30:00Z', 'Written by powersync-c', 0, 'user-a', ?)" "$O1" "$L1" >/dev/null
ours_sync "$OA" "$TOKEN_A"
[[ "$(sqlite3 "$OA" "SELECT count(*) FROM ps_crud")" == 0 ]] ||
  die "our client still has queued writes after syncing with --upload-url"
[[ "$(sqlite3 "$SRC" "SELECT count(*) FROM todos WHERE id = '$O1' OR id = '$A2' OR (id = '$A1' AND completed = 1)")" == 2 ]] ||
  die "our client's writes did not all reach the source database: $(source_todos user-a)"
say "ok: our client's writes reached the source"
# The Node database has synced before, so wait for the new state itself.
node_run "$WORK/node.log" --token-url "$URL/api/auth/token?user_id=user-a" --db "$NA" \
  --wait-for "SELECT (SELECT count(*) FROM todos WHERE id = '$O1') = 1
                 AND (SELECT count(*) FROM todos WHERE id = '$A2') = 0
                 AND (SELECT completed FROM todos WHERE id = '$A1') = 1" \
  --query "$TODOS" --query "$LISTS" >"$WORK/node-a2.out"
same "user-a todos after our client's writes" source "$(source_todos user-a)" \
  node "$(sed -n 1p "$WORK/node-a2.out")" ours "$(ours_query "$OA" "$TODOS")"
same "user-a lists at the end" source "$(source_query "$LISTS")" \
  node "$(sed -n 2p "$WORK/node-a2.out")" ours "$(ours_query "$OA" "$LISTS")"

# --- 5. user-b is not affected -----------------------------------------------

node_run "$WORK/node.log" --token "$TOKEN_B" --db "$NB" --query "$TODOS" >"$WORK/node-b2.out"
ours_sync "$OB" "$TOKEN_B"
same "user-b todos at the end" source "$(source_todos user-b)" \
  node "$(cat "$WORK/node-b2.out")" ours "$(ours_query "$OB" "$TODOS")"

# --- 6. the server answered every request with 2xx ---------------------------

# Log lines: "METHOD PATH STATUS user=.. Nms".
bad="$(grep -E '^[A-Z]+ [^ ]+ [0-9]{3} ' "$WORK/server.log" | grep -Ev '^[A-Z]+ [^ ]+ 2[0-9]{2} ' || true)"
[[ -z "$bad" ]] || die "the devserver answered requests with errors:
$bad"
say "ok: $(grep -cE '^[A-Z]+ [^ ]+ [0-9]{3} ' "$WORK/server.log") requests, all 2xx"

say "PASS: @powersync/node and powersync-c agree on every step"
