/*
 * vtab_close.c: the module powersync_internal_close, a "pre-close hook"
 * (core-storage.md 2.5).
 *
 * Usage (internal; code that installs hooks or caches statements touches the
 * table once so that it gets connected):
 *
 *   SELECT 1 FROM powersync_internal_close;
 *
 * Declared schema (eponymous-only, read-only, always empty):
 *
 *   CREATE TABLE powersync_internal_close(_ TEXT);
 *
 * HOW IT WORKS
 *
 * An eponymous virtual table, once connected, stays connected until the
 * connection closes. sqlite3_close calls xDisconnect of every connected
 * virtual table first, before it checks for unfinalized statements and before
 * it rolls back an open transaction. xDisconnect is therefore the place to
 * release per-connection resources that would make sqlite3_close fail or that
 * point back into the connection: it uninstalls the update, commit and
 * rollback hooks of powersync_update_hooks and releases the sync engine
 * (its iteration and cached statements). Reading the table yields no rows;
 * writing to it fails with SQLITE_MISUSE, as in the official core.
 */
#include <string.h>

#include "register.h"
#include "sqlite_api.h"
#include "state.h"
#include "sync_engine.h"

/* Defined in fn_update_hooks.c: removes the hooks installed by
 * powersync_update_hooks('install') and drops their state reference. */
void ps__update_hooks_uninstall(struct ps__state *st);

struct close_vtab {
  sqlite3_vtab base;    /* Base class - must be first */
  struct ps__state *st; /* Holds a reference. */
};

struct close_cursor {
  sqlite3_vtab_cursor base; /* Base class - must be first */
};

/* xConnect */
static int close_connect(sqlite3 *db, void *aux, int argc,
                         const char *const *argv, sqlite3_vtab **out,
                         char **err) {
  struct close_vtab *tab;
  int rc;
  (void)argc;
  (void)argv;
  (void)err;
  rc = sqlite3_declare_vtab(db,
                            "CREATE TABLE powersync_internal_close(_ TEXT);");
  if (rc != SQLITE_OK)
    return rc;
  tab = sqlite3_malloc(sizeof(*tab));
  if (!tab)
    return SQLITE_NOMEM;
  memset(tab, 0, sizeof(*tab));
  tab->st = aux;
  ps__state_ref(tab->st);
  *out = &tab->base;
  return SQLITE_OK;
}

/* xDisconnect: the pre-close hook. */
static int close_disconnect(sqlite3_vtab *vtab) {
  struct close_vtab *tab = (struct close_vtab *)vtab;
  ps__update_hooks_uninstall(tab->st);
  ps__sync_free(tab->st->sync);
  ps__state_unref(tab->st);
  sqlite3_free(tab->base.zErrMsg);
  sqlite3_free(tab);
  return SQLITE_OK;
}

/* xBestIndex: there are never rows, any plan will do. */
static int close_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  (void)vtab;
  (void)info;
  return SQLITE_OK;
}

/* xOpen */
static int close_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
  struct close_cursor *cur = sqlite3_malloc(sizeof(*cur));
  (void)vtab;
  if (!cur)
    return SQLITE_NOMEM;
  memset(cur, 0, sizeof(*cur));
  *out = &cur->base;
  return SQLITE_OK;
}

/* xClose */
static int close_close(sqlite3_vtab_cursor *cursor) {
  sqlite3_free(cursor);
  return SQLITE_OK;
}

/* xFilter */
static int close_filter(sqlite3_vtab_cursor *cursor, int idx_num,
                        const char *idx_str, int argc, sqlite3_value **argv) {
  (void)cursor;
  (void)idx_num;
  (void)idx_str;
  (void)argc;
  (void)argv;
  return SQLITE_OK;
}

/* xNext, xColumn, xRowid: unreachable, xEof is always true. */
static int close_no_next(sqlite3_vtab_cursor *cursor) {
  (void)cursor;
  return SQLITE_MISUSE;
}

static int close_no_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx,
                           int i) {
  (void)cursor;
  (void)ctx;
  (void)i;
  return SQLITE_MISUSE;
}

static int close_no_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  (void)cursor;
  (void)rowid;
  return SQLITE_MISUSE;
}

/* xEof */
static int close_eof(sqlite3_vtab_cursor *cursor) {
  (void)cursor;
  return 1;
}

/* xUpdate: the table is not meant to be written to. An xUpdate that fails
 * (rather than none at all) keeps the official core's error: "bad parameter
 * or other API misuse" instead of "table ... may not be modified". */
static int close_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv,
                        sqlite3_int64 *rowid) {
  (void)vtab;
  (void)argc;
  (void)argv;
  (void)rowid;
  return SQLITE_MISUSE;
}

static const sqlite3_module close_module = {
    0,                /* iVersion */
    NULL,             /* xCreate: NULL makes the module eponymous-only */
    close_connect,    /* xConnect */
    close_best_index, /* xBestIndex */
    close_disconnect, /* xDisconnect */
    NULL,             /* xDestroy */
    close_open,       /* xOpen */
    close_close,      /* xClose */
    close_filter,     /* xFilter */
    close_no_next,    /* xNext */
    close_eof,        /* xEof */
    close_no_column,  /* xColumn */
    close_no_rowid,   /* xRowid */
    close_update,     /* xUpdate */
    NULL,             /* xBegin */
    NULL,             /* xSync */
    NULL,             /* xCommit */
    NULL,             /* xRollback */
    NULL,             /* xFindFunction */
    NULL,             /* xRename */
    NULL,             /* xSavepoint */
    NULL,             /* xRelease */
    NULL,             /* xRollbackTo */
    NULL,             /* xShadowName */
#if SQLITE_VERSION_NUMBER >= 3044000
    NULL, /* xIntegrity */
#endif
};

int ps__register_close_vtab(sqlite3 *db, struct ps__state *st) {
  ps__state_ref(st);
  /* On failure SQLite calls the destructor, releasing the reference. */
  return sqlite3_create_module_v2(db, "powersync_internal_close", &close_module,
                                  st, ps__state_unref);
}
