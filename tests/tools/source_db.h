/*
 * source_db.h: helpers of the tools tests for the dev server's source
 * database (read and written through connections of their own, as another
 * program would) and for waiting.
 *
 * source_exec, source_int and source_text fail the running cmocka test on
 * an SQL error, so they are for the test's main thread only; the others are
 * safe from any thread.
 */
#ifndef PS_TEST_SOURCE_DB_H
#define PS_TEST_SOURCE_DB_H

#include <sqlite3.h>
#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t mono_ms(void);
void sleep_ms(int ms);

/* A connection to the database at path that waits up to 10 s for the
 * server's locks, or NULL. Any thread; the caller closes it. */
sqlite3 *source_open(const char *path);
/* Runs sql (several statements allowed) on the database at path. */
void source_exec(const char *path, const char *sql);
/* The integer of the first row's first column, or -1 with no row. */
int64_t source_int(const char *path, const char *sql);
/* The text of the first row's first column ("" for NULL). Caller frees. */
char *source_text(const char *path, const char *sql);

#endif
