/*
 * error.c: building and reporting errors the way the official core words them.
 */
#include "error.h"

#include <stdarg.h>
#include <string.h>

void ps__err_init(struct ps__err *e) {
  e->code = SQLITE_OK;
  ps__buf_init(&e->text, 0);
}

void ps__err_free(struct ps__err *e) {
  ps__buf_free(&e->text);
  e->code = SQLITE_OK;
}

void ps__err_set(struct ps__err *e, int code, const char *fmt, ...) {
  va_list ap;
  e->code = code;
  ps__buf_reset(&e->text);
  va_start(ap, fmt);
  ps__buf_vprintf(&e->text, fmt, ap);
  va_end(ap);
}

void ps__err_argument(struct ps__err *e, const char *desc, const char *cause) {
  ps__err_set(e, PS_CODE_ARGUMENT, "invalid argument: %s. cause: %s", desc,
              cause ? cause : "unknown");
}

void ps__err_state(struct ps__err *e, const char *desc) {
  ps__err_set(e, PS_CODE_STATE, "invalid state: %s", desc);
}

void ps__err_nomem(struct ps__err *e) {
  ps__err_set(e, SQLITE_NOMEM, "out of memory");
}

void ps__err_sqlite(struct ps__err *e, sqlite3 *db, int rc, const char *sql) {
  const char *msg = db ? sqlite3_errmsg(db) : NULL;
  e->code = rc;
  ps__buf_reset(&e->text);
  if (sql)
    ps__buf_printf(&e->text, "statement %s: ", sql);
  ps__buf_printf(&e->text, "internal SQLite call returned %s",
                 ps__sqlite_code_name(rc));
  if (msg && strcmp(msg, "not an error") != 0)
    ps__buf_printf(&e->text, ": %s", msg);
}

void ps__err_null_value(struct ps__err *e, sqlite3_stmt *stmt) {
  ps__err_set(e, PS_CODE_NULL_VALUE,
              "statement %s: internal SQLite call returned NULL: %s",
              sqlite3_sql(stmt), sqlite3_errmsg(sqlite3_db_handle(stmt)));
}

void ps__err_context(struct ps__err *e, const char *fmt, ...) {
  va_list ap;
  ps__buf_puts(&e->text, " (context: ");
  va_start(ap, fmt);
  ps__buf_vprintf(&e->text, fmt, ap);
  va_end(ap);
  ps__buf_putc(&e->text, ')');
}

void ps__err_result(sqlite3_context *ctx, const char *fname,
                    const struct ps__err *e) {
  char *msg;
  if (e->code == SQLITE_NOMEM || ps__buf_failed(&e->text)) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  msg = sqlite3_mprintf("%s: %s", fname, ps__buf_cstr(&e->text));
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_result_error_code(ctx, e->code == SQLITE_OK ? SQLITE_ERROR : e->code);
  sqlite3_free(msg);
}

int ps__require_transaction(sqlite3_context *ctx, const char *fname) {
  struct ps__err e;
  if (!sqlite3_get_autocommit(sqlite3_context_db_handle(ctx)))
    return 1;
  ps__err_init(&e);
  ps__err_set(&e, PS_CODE_STATE,
              "This function may only be called in transactions.");
  ps__err_result(ctx, fname, &e);
  ps__err_free(&e);
  return 0;
}

void ps__result_nomem(sqlite3_context *ctx) { sqlite3_result_error_nomem(ctx); }

struct code_name {
  int code;
  const char *name;
};

/* Every primary and extended result code SQLite defines (sqlite.h 3.53). The
 * values are spelled as numbers so that the table also compiles against older
 * headers that lack the newer names. */
static const struct code_name code_names[] = {
    {0, "OK"},
    {1, "ERROR"},
    {2, "INTERNAL"},
    {3, "PERM"},
    {4, "ABORT"},
    {5, "BUSY"},
    {6, "LOCKED"},
    {7, "NOMEM"},
    {8, "READONLY"},
    {9, "INTERRUPT"},
    {10, "IOERR"},
    {11, "CORRUPT"},
    {12, "NOTFOUND"},
    {13, "FULL"},
    {14, "CANTOPEN"},
    {15, "PROTOCOL"},
    {16, "EMPTY"},
    {17, "SCHEMA"},
    {18, "TOOBIG"},
    {19, "CONSTRAINT"},
    {20, "MISMATCH"},
    {21, "MISUSE"},
    {22, "NOLFS"},
    {23, "AUTH"},
    {24, "FORMAT"},
    {25, "RANGE"},
    {26, "NOTADB"},
    {27, "NOTICE"},
    {28, "WARNING"},
    {100, "ROW"},
    {101, "DONE"},
    {1 | (1 << 8), "ERROR_MISSING_COLLSEQ"},
    {1 | (2 << 8), "ERROR_RETRY"},
    {1 | (3 << 8), "ERROR_SNAPSHOT"},
    {1 | (4 << 8), "ERROR_RESERVESIZE"},
    {1 | (5 << 8), "ERROR_KEY"},
    {1 | (6 << 8), "ERROR_UNABLE"},
    {10 | (1 << 8), "IOERR_READ"},
    {10 | (2 << 8), "IOERR_SHORT_READ"},
    {10 | (3 << 8), "IOERR_WRITE"},
    {10 | (4 << 8), "IOERR_FSYNC"},
    {10 | (5 << 8), "IOERR_DIR_FSYNC"},
    {10 | (6 << 8), "IOERR_TRUNCATE"},
    {10 | (7 << 8), "IOERR_FSTAT"},
    {10 | (8 << 8), "IOERR_UNLOCK"},
    {10 | (9 << 8), "IOERR_RDLOCK"},
    {10 | (10 << 8), "IOERR_DELETE"},
    {10 | (11 << 8), "IOERR_BLOCKED"},
    {10 | (12 << 8), "IOERR_NOMEM"},
    {10 | (13 << 8), "IOERR_ACCESS"},
    {10 | (14 << 8), "IOERR_CHECKRESERVEDLOCK"},
    {10 | (15 << 8), "IOERR_LOCK"},
    {10 | (16 << 8), "IOERR_CLOSE"},
    {10 | (17 << 8), "IOERR_DIR_CLOSE"},
    {10 | (18 << 8), "IOERR_SHMOPEN"},
    {10 | (19 << 8), "IOERR_SHMSIZE"},
    {10 | (20 << 8), "IOERR_SHMLOCK"},
    {10 | (21 << 8), "IOERR_SHMMAP"},
    {10 | (22 << 8), "IOERR_SEEK"},
    {10 | (23 << 8), "IOERR_DELETE_NOENT"},
    {10 | (24 << 8), "IOERR_MMAP"},
    {10 | (25 << 8), "IOERR_GETTEMPPATH"},
    {10 | (26 << 8), "IOERR_CONVPATH"},
    {10 | (27 << 8), "IOERR_VNODE"},
    {10 | (28 << 8), "IOERR_AUTH"},
    {10 | (29 << 8), "IOERR_BEGIN_ATOMIC"},
    {10 | (30 << 8), "IOERR_COMMIT_ATOMIC"},
    {10 | (31 << 8), "IOERR_ROLLBACK_ATOMIC"},
    {10 | (32 << 8), "IOERR_DATA"},
    {10 | (33 << 8), "IOERR_CORRUPTFS"},
    {10 | (34 << 8), "IOERR_IN_PAGE"},
    {10 | (35 << 8), "IOERR_BADKEY"},
    {10 | (36 << 8), "IOERR_CODEC"},
    {6 | (1 << 8), "LOCKED_SHAREDCACHE"},
    {6 | (2 << 8), "LOCKED_VTAB"},
    {5 | (1 << 8), "BUSY_RECOVERY"},
    {5 | (2 << 8), "BUSY_SNAPSHOT"},
    {5 | (3 << 8), "BUSY_TIMEOUT"},
    {14 | (1 << 8), "CANTOPEN_NOTEMPDIR"},
    {14 | (2 << 8), "CANTOPEN_ISDIR"},
    {14 | (3 << 8), "CANTOPEN_FULLPATH"},
    {14 | (4 << 8), "CANTOPEN_CONVPATH"},
    {14 | (5 << 8), "CANTOPEN_DIRTYWAL"},
    {14 | (6 << 8), "CANTOPEN_SYMLINK"},
    {11 | (1 << 8), "CORRUPT_VTAB"},
    {11 | (2 << 8), "CORRUPT_SEQUENCE"},
    {11 | (3 << 8), "CORRUPT_INDEX"},
    {8 | (1 << 8), "READONLY_RECOVERY"},
    {8 | (2 << 8), "READONLY_CANTLOCK"},
    {8 | (3 << 8), "READONLY_ROLLBACK"},
    {8 | (4 << 8), "READONLY_DBMOVED"},
    {8 | (5 << 8), "READONLY_CANTINIT"},
    {8 | (6 << 8), "READONLY_DIRECTORY"},
    {4 | (2 << 8), "ABORT_ROLLBACK"},
    {19 | (1 << 8), "CONSTRAINT_CHECK"},
    {19 | (2 << 8), "CONSTRAINT_COMMITHOOK"},
    {19 | (3 << 8), "CONSTRAINT_FOREIGNKEY"},
    {19 | (4 << 8), "CONSTRAINT_FUNCTION"},
    {19 | (5 << 8), "CONSTRAINT_NOTNULL"},
    {19 | (6 << 8), "CONSTRAINT_PRIMARYKEY"},
    {19 | (7 << 8), "CONSTRAINT_TRIGGER"},
    {19 | (8 << 8), "CONSTRAINT_UNIQUE"},
    {19 | (9 << 8), "CONSTRAINT_VTAB"},
    {19 | (10 << 8), "CONSTRAINT_ROWID"},
    {19 | (11 << 8), "CONSTRAINT_PINNED"},
    {19 | (12 << 8), "CONSTRAINT_DATATYPE"},
    {27 | (1 << 8), "NOTICE_RECOVER_WAL"},
    {27 | (2 << 8), "NOTICE_RECOVER_ROLLBACK"},
    {27 | (3 << 8), "NOTICE_RBU"},
    {28 | (1 << 8), "WARNING_AUTOINDEX"},
    {23 | (1 << 8), "AUTH_USER"},
    {0 | (1 << 8), "OK_LOAD_PERMANENTLY"},
    {0 | (2 << 8), "OK_SYMLINK"},
    {PS_CODE_NULL_VALUE, "NULL"},
};

const char *ps__sqlite_code_name(int rc) {
  size_t i;
  for (i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++) {
    if (code_names[i].code == rc)
      return code_names[i].name;
  }
  return "UNKNOWN";
}
