#!/usr/bin/env bash
# kill_resume.sh BIN_DIR: a client killed with SIGKILL in the middle of a
# download leaves a consistent database, and the next `powersync sync`
# resumes from it and ends with exactly the service's rows. Then, while a
# client follows the service, a second one on the same database is
# refused, and the lock goes with the first client. Runs the
# dev server and the CLI as separate processes, as a user would. Skipped
# (77) without the sqlite3 shell or flock(1).
set -euo pipefail
BIN=$(cd "$1" && pwd)
ROWS=${ROWS:-30000}
command -v sqlite3 >/dev/null && command -v flock >/dev/null || exit 77
WORK=$(mktemp -d)
SERVER_PID=
CLIENT_PID=
cleanup() {
  for p in $CLIENT_PID $SERVER_PID; do
    kill -9 "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
fail() { echo "kill_resume: $*" >&2; exit 1; }

sqlite3 source.db <<SQL
CREATE TABLE todos (id TEXT PRIMARY KEY, description TEXT, done INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO todos SELECT printf('todo-%06d', i),
  printf('todo number %d with some text to make the row longer', i), i % 2
FROM n;
SQL
cat > config.yaml <<'YAML'
bucket_definitions:
  everything:
    data:
      - SELECT * FROM todos
YAML
cat > schema.json <<'JSON'
{"tables":[{"name":"todos","columns":[{"name":"description","type":"text"},
 {"name":"done","type":"integer"}]}]}
JSON

# Small data lines: many transactions, so the kill lands between and inside
# them.
"$BIN/powersync-devserver" --db source.db --config config.yaml --port 0 \
  --ops-per-line 100 --quiet > server.out 2> server.log &
SERVER_PID=$!
for _ in $(seq 600); do
  grep -q listening server.out 2>/dev/null && break
  sleep 0.05
done
URL=$(sed -n 's/.*listening on //p' server.out)
[ -n "$URL" ] || fail "server did not start: $(cat server.log)"
TOKEN=$("$BIN/powersync-devserver" token --user someone)

sync_client() {
  "$BIN/powersync" sync --db client.db --schema schema.json --endpoint "$URL" \
    --token "$TOKEN" --progress none --timeout 60 "$@"
}
ops() { sqlite3 -cmd ".timeout 5000" client.db "SELECT count(*) FROM ps_oplog" 2>/dev/null || echo 0; }

# Not through sync_client: $! must be the client itself, not a subshell
# running the function (killing that would leave the client running).
"$BIN/powersync" sync --db client.db --schema schema.json --endpoint "$URL" \
  --token "$TOKEN" --progress none > client.log 2>&1 &
CLIENT_PID=$!
stored=0
for _ in $(seq 2000); do
  stored=$(ops)
  [ "$stored" -gt 0 ] && break
  sleep 0.01
done
kill -9 "$CLIENT_PID"
wait "$CLIENT_PID" 2>/dev/null || true
CLIENT_PID=
[ "$stored" -gt 0 ] || fail "the client stored nothing before the kill: $(cat client.log)"
after_kill=$(ops)
[ "$after_kill" -lt "$ROWS" ] || fail "the download finished before the kill ($after_kill ops)"

[ "$(sqlite3 -cmd ".timeout 5000" client.db 'PRAGMA integrity_check')" = ok ] || fail "integrity check failed after the kill"
# Killed before its checkpoint completed: the rows are not published yet.
[ "$(sqlite3 client.db 'SELECT count(*) FROM ps_data__todos')" = 0 ] \
  || fail "rows published from an incomplete checkpoint"

sync_client -v > resume.log 2>&1 || fail "the resumed sync failed: $(cat resume.log)"
[ "$(sqlite3 -cmd ".timeout 5000" client.db 'PRAGMA integrity_check')" = ok ] || fail "integrity check failed after resuming"
[ "$(sqlite3 client.db 'SELECT count(*) FROM ps_oplog')" = "$ROWS" ] \
  || fail "ops after resuming: $(sqlite3 client.db 'SELECT count(*) FROM ps_oplog')"
[ "$(sqlite3 client.db 'SELECT count(*) FROM ps_data__todos')" = "$ROWS" ] \
  || fail "rows after resuming: $(sqlite3 client.db 'SELECT count(*) FROM ps_data__todos')"
sqlite3 client.db "ATTACH 'source.db' AS src;
  SELECT count(*) FROM src.todos s JOIN ps_data__todos d ON d.id = s.id
  WHERE d.data ->> '\$.description' IS s.description
    AND d.data ->> '\$.done' IS s.done" | grep -qx "$ROWS" \
  || fail "the synced rows differ from the source"
# While one client syncs, a second one on the same database is refused
# (the first holds an flock on client.db-sync-lock while connected).
"$BIN/powersync" sync --db client.db --schema schema.json --endpoint "$URL" \
  --token "$TOKEN" --progress lines --follow > follow.log 2>&1 &
CLIENT_PID=$!
# "synced" is printed after connect took the lock. (Probing the lock with
# flock(1) instead would take it for a moment and could refuse the client.)
for _ in $(seq 3000); do
  grep -q "synced" follow.log 2>/dev/null && break
  sleep 0.01
done
grep -q "synced" follow.log || fail "the following client did not sync: $(cat follow.log)"
if second=$(sync_client 2>&1); then
  fail "a second client syncing the same database was not refused"
fi
echo "$second" | grep -q "already syncing" \
  || fail "the second client failed without naming the first: $second"
kill "$CLIENT_PID"
wait "$CLIENT_PID" || fail "the following client did not stop cleanly on SIGTERM"
CLIENT_PID=
flock -n client.db-sync-lock true || fail "the sync lock outlived its client"
echo "kill_resume: killed after $after_kill of $ROWS ops; resumed to $ROWS rows"
