#!/usr/bin/env bash
# readme_devserver.sh BIN_DIR SOURCE_DIR: the README's "dev server with your
# own data" session, command for command, with its outcomes checked: the
# sample source database and sync config served, alice's first sync (her
# list only), a local write uploaded, a change made with the sqlite3 shell
# downloaded, a token from --token-command, and the compact command on the
# running server. Skipped (77) without the sqlite3 shell or curl.
set -euo pipefail
BIN=$(cd "$1" && pwd)
SRC=$(cd "$2" && pwd)
EX=$SRC/examples/devserver
command -v sqlite3 >/dev/null && command -v curl >/dev/null || exit 77
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
fail() { echo "readme_devserver: $*" >&2; exit 1; }

sqlite3 source.db < "$EX/todos.sql"
# --port 0: a free port (the README uses 8080); the URL is printed once bound.
"$BIN/powersync-devserver" --db source.db --config "$EX/sync-config.yaml" \
  --port 0 > server.out 2> server.log &
SERVER_PID=$!
for _ in $(seq 100); do
  grep -q listening server.out 2>/dev/null && break
  sleep 0.05
done
URL=$(sed -n 's/.*listening on //p' server.out)
[ -n "$URL" ] || fail "server did not start: $(cat server.log)"

sync_alice() {
  "$BIN/powersync" sync --db alice.db --schema "$EX/schema.json" \
    --endpoint "$URL" --upload-url "$URL/api/data" --progress none \
    --timeout 20 "$@"
}
q() { "$BIN/powersync" query --db alice.db "$1"; }

sync_alice --token "$("$BIN/powersync-devserver" token --user alice)"
[ "$(q "SELECT group_concat(description, ',') FROM (SELECT description FROM todos ORDER BY description)" | sed -n 3p | tr -d ' ')" = "Buyeggs,Buymilk" ] \
  || fail "alice should see exactly her two todos: $(q 'SELECT * FROM todos')"

"$BIN/powersync" exec --db alice.db "INSERT INTO todos(id, list_id, description) VALUES (uuid(), '11111111-1111-4111-8111-111111111111', 'Call mum')" >/dev/null
sqlite3 source.db "UPDATE todos SET completed = 1 WHERE description = 'Buy milk'"
sync_alice --token-command "curl -s '$URL/api/auth/token?user_id=alice'"

[ "$(sqlite3 source.db "SELECT count(*) FROM todos WHERE description = 'Call mum'")" = 1 ] \
  || fail "the local write did not reach the source database"
[ "$(q "SELECT completed FROM todos WHERE description = 'Buy milk'" | sed -n 3p | tr -d ' ')" = 1 ] \
  || fail "the source change did not reach alice"
"$BIN/powersync" status --db alice.db | grep -q "pending uploads:  0" \
  || fail "uploads still pending: $("$BIN/powersync" status --db alice.db)"

"$BIN/powersync-devserver" compact --db source.db --config "$EX/sync-config.yaml" >/dev/null
sqlite3 source.db "UPDATE todos SET description = 'Buy oat milk' WHERE description = 'Buy milk'"
rm -f fresh.db
"$BIN/powersync" sync --db fresh.db --schema "$EX/schema.json" --endpoint "$URL" \
  --token "$("$BIN/powersync-devserver" token --user alice)" --progress none --timeout 20
[ "$("$BIN/powersync" query --db fresh.db "SELECT count(*) FROM todos WHERE description IN ('Buy oat milk', 'Buy eggs', 'Call mum')" | sed -n 3p | tr -d ' ')" = 3 ] \
  || fail "a fresh client after compaction: $("$BIN/powersync" query --db fresh.db 'SELECT * FROM todos')"
echo "readme_devserver: ok"
