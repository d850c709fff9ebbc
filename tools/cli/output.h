/*
 * output.h: printing result sets as an aligned table or as JSON (output.c).
 *
 * A cli_table is a copy of a result set (column names and SQL values), so
 * that query results and the upload queue print the same way. Table form
 * is for people: NULL as NULL, blobs as x'hex', control characters escaped,
 * numeric columns right-aligned. JSON form is for programs: an array of
 * objects, one per line, NULL as null, blobs as base64 strings.
 */
#ifndef PS_CLI_OUTPUT_H
#define PS_CLI_OUTPUT_H

#include "cli.h"

typedef struct cli_table {
  size_t ncols, nrows, row_cap;
  char **names;           /* ncols names. */
  powersync_value *cells; /* nrows * ncols; TEXT and BLOB bytes owned. */
} cli_table;

/* An empty table with the given column names (copied). Returns 0 or -1
 * when out of memory. */
int cli_table_init(cli_table *t, size_t ncols, const char *const *names);
/* Appends a row of ncols values (copied). Returns 0 or -1. */
int cli_table_add_row(cli_table *t, const powersync_value *values);
/* A table holding a copy of rows. Returns 0 or -1. */
int cli_table_from_rows(cli_table *t, const powersync_rows *rows);
void cli_table_free(cli_table *t);

/* Aligned columns with a header line; every line starts with indent. */
void cli_table_print(const cli_table *t, FILE *out, const char *indent);
/* "[\n  {...},\n  {...}\n]\n" ("[]\n" when empty). */
void cli_table_print_json(const cli_table *t, FILE *out);

/* Appends s (n bytes) as a quoted JSON string. */
void cli_json_string(cli_buf *b, const char *s, size_t n);
/* The shortest "%.Ng" that reads back as d. */
void cli_format_real(double d, char *out, size_t size);

#endif
