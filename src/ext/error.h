/*
 * error.h: the error model of the official core (core-storage.md section 1).
 *
 * A failing SQL function reports "<function name>: <text>" with an extended
 * result code. The texts are built here so that every function words the
 * same kind of failure the same way.
 */
#ifndef PS_EXT_ERROR_H
#define PS_EXT_ERROR_H

#include "../util/buf.h"
#include "sqlite_api.h"

/* Code used for argument errors by the official core. */
#define PS_CODE_ARGUMENT SQLITE_CONSTRAINT_DATATYPE
/* Code used for state errors and the not-in-transaction error. */
#define PS_CODE_STATE SQLITE_MISUSE

struct ps__err {
  int code;            /* SQLITE_OK while no error is set. */
  struct ps__buf text; /* The error text, without the function name. */
};

void ps__err_init(struct ps__err *e);
void ps__err_free(struct ps__err *e);
/* Replaces any previous error. */
void ps__err_set(struct ps__err *e, int code, const char *fmt, ...)
    PS_PRINTF(3, 4);
/* "invalid argument: <desc>. cause: <cause or 'unknown'>", code 3091. */
void ps__err_argument(struct ps__err *e, const char *desc, const char *cause);
/* "invalid state: <desc>", code 21. */
void ps__err_state(struct ps__err *e, const char *desc);
/* A failed SQLite call: "[statement <sql>: ]internal SQLite call returned
 * <CODE NAME>[: <sqlite3_errmsg>]" with rc as the code. sql may be NULL. */
void ps__err_sqlite(struct ps__err *e, sqlite3 *db, int rc, const char *sql);
/* The official core's own code for "a column was NULL where text was
 * required"; it is none of SQLite's codes but callers see it, so it is kept. */
#define PS_CODE_NULL_VALUE 5000

/* stmt returned NULL where the official core required a value:
 * "statement <sql>: internal SQLite call returned NULL: <sqlite3_errmsg>",
 * code PS_CODE_NULL_VALUE. */
void ps__err_null_value(struct ps__err *e, sqlite3_stmt *stmt);

/* Appends " (context: <context>)". */
void ps__err_context(struct ps__err *e, const char *fmt, ...) PS_PRINTF(2, 3);
/* Out of memory while building something. */
void ps__err_nomem(struct ps__err *e);

/* Symbolic name of an extended result code without the SQLITE_ prefix
 * ("CONSTRAINT_NOTNULL"); "UNKNOWN" for codes SQLite does not define. */
const char *ps__sqlite_code_name(int rc);

/* Reports e as the result of a function: "<fname>: <text>" and e->code. */
void ps__err_result(sqlite3_context *ctx, const char *fname,
                    const struct ps__err *e);

/* Fails the function with the not-in-transaction error and returns 0 unless
 * an explicit transaction is active on the function's connection. */
int ps__require_transaction(sqlite3_context *ctx, const char *fname);

/* Reports an SQLITE_NOMEM error. */
void ps__result_nomem(sqlite3_context *ctx);

#endif
