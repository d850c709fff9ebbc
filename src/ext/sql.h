/*
 * sql.h: small helpers for running SQL from inside the extension and for
 * writing identifiers and literals into generated SQL.
 *
 * Every helper that fails fills a struct ps__err with the wrapped SQLite
 * error of core-storage.md 1.2, naming the statement it ran.
 */
#ifndef PS_EXT_SQL_H
#define PS_EXT_SQL_H

#include <stdint.h>

#include "../util/buf.h"
#include "error.h"
#include "sqlite_api.h"

/* Runs a batch of statements with sqlite3_exec. */
int ps__exec(sqlite3 *db, const char *sql, struct ps__err *e);

/* Prepares one statement. */
int ps__prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
                struct ps__err *e);

/* Steps stmt once; returns SQLITE_ROW or SQLITE_DONE, or an error code with e
 * filled (the statement's SQL is named in the message). */
int ps__step(sqlite3_stmt *stmt, struct ps__err *e);

/* Steps stmt until it is done, discarding rows. */
int ps__step_all(sqlite3_stmt *stmt, struct ps__err *e);

/* Prepares and runs a single statement binding text parameters ?1..?n (NULL
 * pointers bind SQL NULL), discarding any rows. */
int ps__exec_text_params(sqlite3 *db, const char *sql, struct ps__err *e, int n,
                         ...);

/* Appends name as an SQL identifier: "x" with inner quotes doubled. */
void ps__buf_ident(struct ps__buf *b, const char *name);
/* Appends s as an SQL string literal: 'x' with inner quotes doubled. */
void ps__buf_lit(struct ps__buf *b, const char *s);

/* The largest op id, used as the "local writes pending" checkpoint target. */
#define PS_MAX_OP_ID INT64_MAX

#endif
