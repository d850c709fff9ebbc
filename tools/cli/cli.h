/*
 * cli.h: what the files of the `powersync` command-line tool share.
 *
 * The tool is a thin shell over the public SDK API (powersync.h): each
 * command group lives in its own file (cmd_sync.c for `sync`, cmd_local.c
 * for the offline commands status/query/pending/exec) and returns an exit
 * code: CLI_OK, CLI_FAIL for a runtime failure, CLI_USAGE for a usage error.
 * Diagnostics go to stderr prefixed with "powersync"; results go to stdout,
 * so that `powersync query --json ... | jq` works.
 *
 * `powersync demo` is cmd_demo.c's cli_demo(), routed by COMMANDS[] in
 * main.c like every other command.
 */
#ifndef PS_CLI_H
#define PS_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "powersync.h"

#define CLI_OK    0 /* Success. */
#define CLI_FAIL  1 /* Runtime failure (network, database, timeout). */
#define CLI_USAGE 2 /* Bad arguments or input files. */

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* ---- Commands: argv[0] is the command's name ---------------------------- */

int cli_sync(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_query(int argc, char **argv);
int cli_pending(int argc, char **argv);
int cli_exec(int argc, char **argv);
/* cmd_demo.c: a dev server and two synced clients in one process. */
int cli_demo(int argc, char **argv);

/* ---- Diagnostics (common.c) --------------------------------------------- */

/* "powersync: <message>" on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);
/* "powersync <cmd>: <message>" plus a hint to --help on stderr; returns
 * CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) CLI_PRINTF(2, 3);
/* "powersync: <what>: <code name>: <message of the last SDK error>";
 * returns CLI_FAIL. */
int cli_sdk_error(const char *what, int rc);

/* getopt_long (options may follow operands; "--" ends them) with the
 * tool's messages. Returns the option's value, -1 after the last option,
 * or '?' after printing a usage error (unknown option, missing value). */
int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* ---- Small utilities (common.c) ----------------------------------------- */

/* A growable NUL-terminated string; failed is set once memory ran out
 * (further appends are ignored, so callers check once at the end). */
typedef struct cli_buf {
  char *data;
  size_t len, cap;
  int failed;
} cli_buf;

void cli_buf_append(cli_buf *b, const void *data, size_t n);
void cli_buf_puts(cli_buf *b, const char *s);
void cli_buf_printf(cli_buf *b, const char *fmt, ...) CLI_PRINTF(2, 3);
/* The contents ("" when empty); valid until the next append. */
const char *cli_buf_str(const cli_buf *b);
void cli_buf_free(cli_buf *b);

/* Reads a whole file into *out (NUL-terminated, caller frees). Returns 0,
 * or -1 with errno set. */
int cli_read_file(const char *path, char **out);

/* Microseconds since the epoch as "2024-05-01T12:00:00.123Z". */
void cli_format_time_us(int64_t us, char *out, size_t size);
/* The wall clock in microseconds since the epoch. */
int64_t cli_now_us(void);

/* Parses a non-negative number of seconds ("2", "0.5"); -1 when invalid. */
double cli_parse_seconds(const char *s);

/* 1 when url is an absolute http:// or https:// URL with a host. */
int cli_is_http_url(const char *url);

/* Opens the database at path without changing its schema (NULL schema).
 * With must_exist, a missing file is an error instead of a new database.
 * Returns CLI_OK or CLI_FAIL (message printed). */
int cli_open_db(const char *path, int must_exist, powersync_db **out);

/* Binds command-line strings as SQL parameters: integers and decimals as
 * numbers, "NULL"/"null" as NULL, everything else as text; with all_text,
 * everything as text. Returns a malloc'd array (NULL when n is 0) or NULL
 * with *failed set when out of memory. */
powersync_value *cli_parse_params(char **args, size_t n, int all_text,
                                  int *failed);

#endif
