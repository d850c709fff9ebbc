/*
 * vtab_crud.c: the insert-only virtual tables powersync_crud and
 * powersync_crud_ that record local writes in the upload queue ps_crud
 * (core-storage.md 9.1, 9.2, 9.4).
 *
 * Usage (normally from the triggers generated for views and raw tables):
 *
 *   INSERT INTO powersync_crud(op, id, type, data, old_values, metadata,
 *                              options)
 *     VALUES ('PUT', 'id1', 'users', '{"name":"x"}', NULL, NULL, 0);
 *   INSERT INTO powersync_crud_(data, options)
 *     VALUES ('{"op":"PUT","type":"io","id":"i1","data":{}}', 0);
 *
 * Declared schemas (both modules are eponymous-only: there is no xCreate, so
 * CREATE VIRTUAL TABLE ... USING powersync_crud fails with "no such module"):
 *
 *   CREATE TABLE powersync_crud(op TEXT, id TEXT, type TEXT, data TEXT,
 *     old_values TEXT, metadata TEXT, options INT HIDDEN);
 *   CREATE TABLE powersync_crud_(data TEXT, options INT HIDDEN);
 *
 * HOW IT WORKS
 *
 * Only INSERT is accepted; planning a read fails with SQLITE_MISUSE, and so do
 * UPDATE and DELETE. SQLite calls xBegin once per transaction for each table a
 * statement may write to, before the statement runs. The first of the two
 * tables to begin in a transaction allocates the transaction id with
 * `UPDATE ps_tx SET next_tx = next_tx + 1 ... RETURNING next_tx` and stores it
 * in the connection state; the other table reuses it, so one SQL transaction
 * yields one tx_id. xCommit/xRollback forget it again.
 *
 * powersync_crud ("simple") builds the ps_crud JSON from its columns:
 * {"op":..,"id":..,"type":..[,"data":..][,"old":..][,"metadata":..]}, where
 * data and old_values are embedded verbatim when they are TEXT (no
 * validation, exactly like the official core) and op/id/type/metadata are
 * escaped JSON strings. It also records (type, id) in ps_updated_rows and, on
 * its first insert of a transaction, sets the local-write gate in ps_kv.
 * powersync_crud_ ("manual") stores its data text as it is, skipping empty
 * PATCH operations when option bit 16 (ignore_empty_update) is set, and does
 * not touch ps_updated_rows or ps_kv.
 *
 * While the connection's in-sync-operation flag is set (sync applying
 * downloaded data, powersync_clear running raw-table clear statements),
 * inserts are ignored.
 *
 * Deliberate fix (docs/compatibility.md, "tx-id-reuse-after-statement-
 * rollback"): when the ps_tx increment of xBegin is undone by a statement-level
 * rollback or ROLLBACK TO while the transaction goes on, the official core
 * keeps using the in-memory id and the next transaction receives the same id.
 * After each row inserted into ps_crud we make sure that ps_tx.next_tx is
 * beyond the id used, in the same statement as the row, so a persisted row
 * always implies that its id will not be handed out again. In the normal case
 * that UPDATE matches no row and changes nothing.
 *
 * Statements are prepared on first use in a transaction and finalized by
 * xCommit/xRollback, like the official core does (which keeps its error texts
 * identical). xDisconnect, which SQLite calls at the start of sqlite3_close
 * before it checks for unfinalized statements, finalizes anything left.
 */
#include <stdint.h>
#include <string.h>

#include "../core/json.h"
#include "../util/buf.h"
#include "error.h"
#include "register.h"
#include "sql.h"
#include "sqlite_api.h"
#include "state.h"

#define CRUD_SIMPLE_NAME "powersync_crud"
#define CRUD_MANUAL_NAME "powersync_crud_"

/* Column indexes of powersync_crud. */
#define CRUD_COLUMN_OP         0
#define CRUD_COLUMN_ID         1
#define CRUD_COLUMN_TYPE       2
#define CRUD_COLUMN_DATA       3
#define CRUD_COLUMN_OLD_VALUES 4
#define CRUD_COLUMN_METADATA   5
#define CRUD_COLUMN_OPTIONS    6

/* Column indexes of powersync_crud_. */
#define CRUD_MANUAL_COLUMN_DATA    0
#define CRUD_MANUAL_COLUMN_OPTIONS 1

/* In xUpdate, argv[0] is the old rowid, argv[1] the new rowid and the column
 * values start at argv[2]. */
#define CRUD_ARGV_FIRST_COLUMN 2

/* Table option bit ignore_empty_update (core-storage.md 5.3). */
#define CRUD_IGNORE_EMPTY_UPDATE PS_TABLE_IGNORE_EMPTY_UPDATE

static const char SQL_NEXT_TX[] =
    "UPDATE ps_tx SET next_tx = next_tx + 1 WHERE id = 1 RETURNING next_tx";
static const char SQL_INSERT_SIMPLE[] =
    "INSERT INTO ps_crud(tx_id, data) VALUES (?, ?)";
/* Byte-identical to the official core's statement: its text appears in error
 * messages. The option bit is spelled as the number 16 there. */
static const char SQL_INSERT_MANUAL[] =
    "WITH insertion (tx_id, data) AS (VALUES (?1, ?2))\n"
    "INSERT INTO ps_crud(tx_id, data)\n"
    "SELECT * FROM insertion WHERE (NOT (?3 & 16)) OR data->>'op' != 'PATCH' "
    "OR data->'data' != '{}';\n"
    "    ";
static const char SQL_UPDATED_ROWS[] =
    "INSERT OR IGNORE INTO ps_updated_rows(row_type, row_id) VALUES(?, ?)";
static const char SQL_LOCAL_WRITE_GATE[] =
    "INSERT OR REPLACE INTO ps_kv(key, value) "
    "VALUES('target_checkpoint_request_id', 9223372036854775807);\n"
    "DELETE FROM ps_kv WHERE key IN ('last_seen_checkpoint_request_id', "
    "'last_applied_checkpoint_request_id')";
/* The tx-id fix: a no-op unless the increment of next_tx for ?1 was undone. */
static const char SQL_PERSIST_TX[] =
    "UPDATE ps_tx SET next_tx = ?1 + 1 WHERE id = 1 AND next_tx <= ?1";

struct crud_vtab {
  sqlite3_vtab base; /* Base class - must be first */
  sqlite3 *db;
  struct ps__state *st; /* Holds a reference. */
  int is_simple;        /* powersync_crud (1) or powersync_crud_ (0). */

  /* Transaction of this table: set by xBegin, cleared by xCommit/xRollback. */
  int in_tx;
  int64_t tx_id;
  int wrote_gate; /* The ps_kv local-write gate was set in this transaction. */

  /* Prepared on first use in a transaction, finalized when it ends. */
  sqlite3_stmt *insert_crud;
  sqlite3_stmt *updated_rows;
  sqlite3_stmt *persist_tx;
};

/* Prepares sql into *stmt unless it already is. Statements are kept for the
 * rest of the transaction, as the official core does: preparing them again
 * in each transaction keeps its error texts (a failed prepare names the whole
 * SQL text, a failed step only the statement's own text). */
static int crud_prepare(struct crud_vtab *tab, sqlite3_stmt **stmt,
                        const char *sql, struct ps__err *e) {
  if (*stmt)
    return SQLITE_OK;
  return ps__prepare(tab->db, sql, stmt, e);
}

/* Finalizes the statements of the transaction. */
static void crud_release_statements(struct crud_vtab *tab) {
  sqlite3_finalize(tab->insert_crud);
  sqlite3_finalize(tab->updated_rows);
  sqlite3_finalize(tab->persist_tx);
  tab->insert_crud = NULL;
  tab->updated_rows = NULL;
  tab->persist_tx = NULL;
}

/* Runs stmt (bound by the caller) to completion and leaves it reset with its
 * bindings cleared, so that no borrowed buffer stays bound and no table stays
 * locked by a half-run statement. */
static int crud_run(sqlite3_stmt *stmt, struct ps__err *e) {
  int rc = ps__step_all(stmt, e);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  return rc;
}

/* Reports e through the vtab's zErrMsg, without a function name (1.3). */
static int crud_report(struct crud_vtab *tab, const struct ps__err *e) {
  sqlite3_free(tab->base.zErrMsg);
  tab->base.zErrMsg = NULL;
  if (e->code == SQLITE_NOMEM || ps__buf_failed(&e->text))
    return SQLITE_NOMEM;
  tab->base.zErrMsg = sqlite3_mprintf("%s", ps__buf_cstr(&e->text));
  return e->code == SQLITE_OK ? SQLITE_ERROR : e->code;
}

/* A column value as text with its length, the way the official core reads it:
 * SQL NULL gives a NULL pointer (bound as NULL, written as ""). */
struct crud_text {
  const char *ptr;
  int len;
};

static struct crud_text crud_value_text(sqlite3_value *v) {
  struct crud_text t;
  t.ptr = (const char *)sqlite3_value_text(v);
  t.len = t.ptr ? sqlite3_value_bytes(v) : 0;
  return t;
}

static int crud_text_equals(struct crud_text t, const char *s) {
  size_t n = strlen(s);
  return t.ptr && (size_t)t.len == n && memcmp(t.ptr, s, n) == 0;
}

/* The options column: NULL means no options. */
static int crud_options(sqlite3_value *v) {
  return sqlite3_value_type(v) == SQLITE_NULL ? 0 : sqlite3_value_int(v);
}

/* Makes sure ps_tx hands out ids after tab->tx_id even if the increment done
 * in xBegin was rolled back (the tx-id fix described at the top). */
static int crud_persist_tx_id(struct crud_vtab *tab, struct ps__err *e) {
  int rc = crud_prepare(tab, &tab->persist_tx, SQL_PERSIST_TX, e);
  if (rc != SQLITE_OK)
    return rc;
  sqlite3_bind_int64(tab->persist_tx, 1, tab->tx_id);
  return crud_run(tab->persist_tx, e);
}

/* Inserts (tx_id, text) through stmt, then applies the tx-id fix if a row
 * was written. */
static int crud_insert_row(struct crud_vtab *tab, sqlite3_stmt *stmt,
                           struct ps__err *e) {
  int rc;
  int inserted;
  sqlite3_bind_int64(stmt, 1, tab->tx_id);
  rc = ps__step_all(stmt, e);
  /* sqlite3_changes() now reports the statement just completed; the manual
   * insert writes nothing for skipped empty updates. */
  inserted = rc == SQLITE_OK && sqlite3_changes(tab->db) > 0;
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (rc == SQLITE_OK && inserted)
    rc = crud_persist_tx_id(tab, e);
  return rc;
}

/* Appends the ps_crud JSON of 9.1 for the columns of powersync_crud. */
static void crud_build_json(struct ps__buf *out, sqlite3_value **cols) {
  struct crud_text op = crud_value_text(cols[CRUD_COLUMN_OP]);
  struct crud_text id = crud_value_text(cols[CRUD_COLUMN_ID]);
  struct crud_text type = crud_value_text(cols[CRUD_COLUMN_TYPE]);
  ps__buf_puts(out, "{\"op\":");
  ps__json_write_string(out, op.ptr ? op.ptr : "", (size_t)op.len);
  ps__buf_puts(out, ",\"id\":");
  ps__json_write_string(out, id.ptr ? id.ptr : "", (size_t)id.len);
  ps__buf_puts(out, ",\"type\":");
  ps__json_write_string(out, type.ptr ? type.ptr : "", (size_t)type.len);
  /* data and old are trusted to be JSON and embedded as they are. */
  if (sqlite3_value_type(cols[CRUD_COLUMN_DATA]) == SQLITE_TEXT) {
    struct crud_text data = crud_value_text(cols[CRUD_COLUMN_DATA]);
    ps__buf_puts(out, ",\"data\":");
    ps__buf_append(out, data.ptr, (size_t)data.len);
  }
  if (sqlite3_value_type(cols[CRUD_COLUMN_OLD_VALUES]) == SQLITE_TEXT) {
    struct crud_text old = crud_value_text(cols[CRUD_COLUMN_OLD_VALUES]);
    ps__buf_puts(out, ",\"old\":");
    ps__buf_append(out, old.ptr, (size_t)old.len);
  }
  if (sqlite3_value_type(cols[CRUD_COLUMN_METADATA]) == SQLITE_TEXT) {
    struct crud_text meta = crud_value_text(cols[CRUD_COLUMN_METADATA]);
    ps__buf_puts(out, ",\"metadata\":");
    ps__json_write_string(out, meta.ptr, (size_t)meta.len);
  }
  ps__buf_putc(out, '}');
}

/* An ignore_empty_update table reports a PATCH whose data is exactly "{}":
 * nothing changed, so nothing is recorded (the text comparison is exact, as in
 * the official core: "{ }" is recorded). */
static int crud_is_ignored_empty_update(sqlite3_value **cols, int options) {
  if (!(options & CRUD_IGNORE_EMPTY_UPDATE))
    return 0;
  if (sqlite3_value_type(cols[CRUD_COLUMN_DATA]) != SQLITE_TEXT)
    return 0;
  return crud_text_equals(crud_value_text(cols[CRUD_COLUMN_OP]), "PATCH") &&
         crud_text_equals(crud_value_text(cols[CRUD_COLUMN_DATA]), "{}");
}

/* Sets the local-write gate once per transaction: downloaded checkpoints are
 * not applied until the SDK uploaded the CRUD and set a concrete target. */
static int crud_record_local_write(struct crud_vtab *tab, struct ps__err *e) {
  int rc;
  if (tab->wrote_gate)
    return SQLITE_OK;
  rc = ps__exec(tab->db, SQL_LOCAL_WRITE_GATE, e);
  if (rc == SQLITE_OK)
    tab->wrote_gate = 1;
  return rc;
}

static int crud_insert_simple(struct crud_vtab *tab, sqlite3_value **cols,
                              struct ps__err *e) {
  struct ps__buf json;
  struct crud_text id, type;
  int options = crud_options(cols[CRUD_COLUMN_OPTIONS]);
  int rc;

  if (crud_is_ignored_empty_update(cols, options))
    return SQLITE_OK;

  ps__buf_init(&json, 0);
  crud_build_json(&json, cols);
  if (ps__buf_failed(&json)) {
    if (ps__buf_failed(&json) == PS_BUF_FAILED_TOOBIG)
      ps__err_set(e, SQLITE_TOOBIG, "string or blob too big");
    else
      ps__err_nomem(e);
    ps__buf_free(&json);
    return e->code;
  }

  rc = crud_prepare(tab, &tab->insert_crud, SQL_INSERT_SIMPLE, e);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(tab->insert_crud, 2, json.data, (int)json.len,
                      SQLITE_STATIC);
    rc = crud_insert_row(tab, tab->insert_crud, e);
  }
  ps__buf_free(&json);

  if (rc == SQLITE_OK)
    rc = crud_prepare(tab, &tab->updated_rows, SQL_UPDATED_ROWS, e);
  if (rc == SQLITE_OK) {
    type = crud_value_text(cols[CRUD_COLUMN_TYPE]);
    id = crud_value_text(cols[CRUD_COLUMN_ID]);
    sqlite3_bind_text(tab->updated_rows, 1, type.ptr, type.len,
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(tab->updated_rows, 2, id.ptr, id.len, SQLITE_TRANSIENT);
    rc = crud_run(tab->updated_rows, e);
  }
  if (rc == SQLITE_OK)
    rc = crud_record_local_write(tab, e);
  return rc;
}

static int crud_insert_manual(struct crud_vtab *tab, sqlite3_value **cols,
                              struct ps__err *e) {
  struct crud_text data;
  int rc = crud_prepare(tab, &tab->insert_crud, SQL_INSERT_MANUAL, e);
  if (rc != SQLITE_OK)
    return rc;
  /* NULL data stays NULL; numbers are stored as their text. */
  data = crud_value_text(cols[CRUD_MANUAL_COLUMN_DATA]);
  sqlite3_bind_text(tab->insert_crud, 2, data.ptr, data.len, SQLITE_TRANSIENT);
  sqlite3_bind_int(tab->insert_crud, 3,
                   crud_options(cols[CRUD_MANUAL_COLUMN_OPTIONS]));
  return crud_insert_row(tab, tab->insert_crud, e);
}

/* xConnect: declares the schema of the table being connected (the module
 * name, argv[0], tells which of the two it is). */
static int crud_connect(sqlite3 *db, void *aux, int argc,
                        const char *const *argv, sqlite3_vtab **out,
                        char **err) {
  struct crud_vtab *tab;
  int is_simple;
  int rc;
  (void)err;
  if (argc < 1)
    return SQLITE_MISUSE;
  is_simple = strcmp(argv[0], CRUD_SIMPLE_NAME) == 0;
  rc = sqlite3_declare_vtab(
      db, is_simple ? "CREATE TABLE powersync_crud(op TEXT, id TEXT, type "
                      "TEXT, data TEXT, old_values TEXT, metadata TEXT, "
                      "options INT HIDDEN);"
                    : "CREATE TABLE powersync_crud_(data TEXT, options INT "
                      "HIDDEN);");
  if (rc != SQLITE_OK)
    return rc;
  tab = sqlite3_malloc(sizeof(*tab));
  if (!tab)
    return SQLITE_NOMEM;
  memset(tab, 0, sizeof(*tab));
  tab->db = db;
  tab->st = aux;
  ps__state_ref(tab->st);
  tab->is_simple = is_simple;
  *out = &tab->base;
  return SQLITE_OK;
}

/* Forgets this table's transaction; the table that allocated the shared id
 * also clears it for the connection. */
static void crud_end_transaction(struct crud_vtab *tab) {
  struct ps__state *st = tab->st;
  tab->in_tx = 0;
  tab->wrote_gate = 0;
  crud_release_statements(tab);
  if (st->crud_tx_owner == tab) {
    st->has_crud_tx = 0;
    st->crud_tx_owner = NULL;
  }
}

/* xDisconnect: runs when the connection closes (eponymous tables live as
 * long as the connection); releases any statement still held. */
static int crud_disconnect(sqlite3_vtab *vtab) {
  struct crud_vtab *tab = (struct crud_vtab *)vtab;
  crud_end_transaction(tab);
  ps__state_unref(tab->st);
  sqlite3_free(tab->base.zErrMsg);
  sqlite3_free(tab);
  return SQLITE_OK;
}

/* xBestIndex, xOpen, xClose, xFilter, xNext, xEof, xColumn, xRowid: the
 * tables cannot be read; failing the plan makes SELECT, UPDATE and DELETE
 * fail with "bad parameter or other API misuse", as in the official core. */
static int crud_no_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  (void)vtab;
  (void)info;
  return SQLITE_MISUSE;
}

static int crud_no_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **cursor) {
  (void)vtab;
  (void)cursor;
  return SQLITE_MISUSE;
}

static int crud_no_close(sqlite3_vtab_cursor *cursor) {
  (void)cursor;
  return SQLITE_MISUSE;
}

static int crud_no_filter(sqlite3_vtab_cursor *cursor, int idx_num,
                          const char *idx_str, int argc, sqlite3_value **argv) {
  (void)cursor;
  (void)idx_num;
  (void)idx_str;
  (void)argc;
  (void)argv;
  return SQLITE_MISUSE;
}

static int crud_no_next(sqlite3_vtab_cursor *cursor) {
  (void)cursor;
  return SQLITE_MISUSE;
}

static int crud_no_eof(sqlite3_vtab_cursor *cursor) {
  (void)cursor;
  return 1;
}

static int crud_no_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx,
                          int i) {
  (void)cursor;
  (void)ctx;
  (void)i;
  return SQLITE_MISUSE;
}

static int crud_no_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  (void)cursor;
  (void)rowid;
  return SQLITE_MISUSE;
}

/* xUpdate: INSERT only (argc > 1 and no old rowid). An explicit new rowid is
 * ignored. */
static int crud_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv,
                       sqlite3_int64 *rowid) {
  struct crud_vtab *tab = (struct crud_vtab *)vtab;
  struct ps__err e;
  int rc;
  (void)rowid;
  if (argc == 1 || sqlite3_value_type(argv[0]) != SQLITE_NULL)
    return SQLITE_MISUSE; /* DELETE or UPDATE. */

  ps__err_init(&e);
  if (!tab->in_tx) {
    ps__err_state(&e, "Not in tx");
    rc = e.code;
  } else if (tab->st->in_sync_operation) {
    /* Writes made while applying synced data are not local changes. */
    rc = SQLITE_OK;
  } else if (tab->is_simple) {
    rc = crud_insert_simple(tab, argv + CRUD_ARGV_FIRST_COLUMN, &e);
  } else {
    rc = crud_insert_manual(tab, argv + CRUD_ARGV_FIRST_COLUMN, &e);
  }
  if (rc != SQLITE_OK)
    rc = crud_report(tab, &e);
  ps__err_free(&e);
  return rc;
}

/* Allocates the next id from ps_tx (9.4). */
static int crud_allocate_tx_id(struct crud_vtab *tab, int64_t *out,
                               struct ps__err *e) {
  sqlite3_stmt *stmt;
  int rc = ps__prepare(tab->db, SQL_NEXT_TX, &stmt, e);
  if (rc != SQLITE_OK)
    return rc;
  rc = ps__step(stmt, e);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int64(stmt, 0) - 1;
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    ps__err_set(e, SQLITE_INTERNAL, "Internal PowerSync error. cause: unknown");
    rc = e->code;
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* xBegin: the first CRUD table of a transaction allocates its id, the other
 * one shares it. Runs even for statements that end up writing nothing, so ids
 * have gaps (as in the official core). */
static int crud_begin(sqlite3_vtab *vtab) {
  struct crud_vtab *tab = (struct crud_vtab *)vtab;
  struct ps__state *st = tab->st;
  struct ps__err e;
  int rc = SQLITE_OK;
  if (st->has_crud_tx) {
    tab->tx_id = st->crud_tx_id;
  } else {
    ps__err_init(&e);
    rc = crud_allocate_tx_id(tab, &tab->tx_id, &e);
    if (rc == SQLITE_OK) {
      st->has_crud_tx = 1;
      st->crud_tx_id = tab->tx_id;
      st->crud_tx_owner = tab;
    } else {
      rc = crud_report(tab, &e);
    }
    ps__err_free(&e);
  }
  if (rc == SQLITE_OK) {
    tab->in_tx = 1;
    tab->wrote_gate = 0;
  }
  return rc;
}

/* xCommit */
static int crud_commit(sqlite3_vtab *vtab) {
  crud_end_transaction((struct crud_vtab *)vtab);
  return SQLITE_OK;
}

/* xRollback: the ps_tx increment is rolled back with the transaction. */
static int crud_rollback(sqlite3_vtab *vtab) {
  crud_end_transaction((struct crud_vtab *)vtab);
  return SQLITE_OK;
}

static const sqlite3_module crud_module = {
    0,                  /* iVersion: no savepoint methods */
    NULL,               /* xCreate: NULL makes the module eponymous-only */
    crud_connect,       /* xConnect */
    crud_no_best_index, /* xBestIndex */
    crud_disconnect,    /* xDisconnect */
    NULL,               /* xDestroy */
    crud_no_open,       /* xOpen */
    crud_no_close,      /* xClose */
    crud_no_filter,     /* xFilter */
    crud_no_next,       /* xNext */
    crud_no_eof,        /* xEof */
    crud_no_column,     /* xColumn */
    crud_no_rowid,      /* xRowid */
    crud_update,        /* xUpdate */
    crud_begin,         /* xBegin */
    NULL,               /* xSync */
    crud_commit,        /* xCommit */
    crud_rollback,      /* xRollback */
    NULL,               /* xFindFunction */
    NULL,               /* xRename */
    NULL,               /* xSavepoint */
    NULL,               /* xRelease */
    NULL,               /* xRollbackTo */
    NULL,               /* xShadowName */
#if SQLITE_VERSION_NUMBER >= 3044000
    NULL, /* xIntegrity */
#endif
};

static int crud_register_module(sqlite3 *db, struct ps__state *st,
                                const char *name) {
  ps__state_ref(st);
  /* On failure SQLite calls the destructor, releasing the reference. */
  return sqlite3_create_module_v2(db, name, &crud_module, st, ps__state_unref);
}

int ps__register_crud_vtabs(sqlite3 *db, struct ps__state *st) {
  int rc = crud_register_module(db, st, CRUD_SIMPLE_NAME);
  if (rc == SQLITE_OK)
    rc = crud_register_module(db, st, CRUD_MANUAL_NAME);
  return rc;
}
