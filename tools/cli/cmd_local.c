/*
 * cmd_local.c: the commands that work on the database file alone, without
 * a service: `status` (what the last sync left behind), `query` (read-only
 * SQL), `pending` (the upload queue) and `exec` (a local write, which the
 * SDK queues for upload like any application write).
 *
 * They open the database without a schema, so the schema stored by the
 * last `powersync sync --schema` (or by the application) stays in force,
 * and they refuse to create a database that does not exist: a typo in
 * --db should not silently produce an empty file.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"

/* INT32_MAX: the core's priority of a complete sync. */
#define FULL_SYNC_PRIORITY 2147483647

/* ---- Shared option handling ---------------------------------------------- */

struct local_opts {
  const char *db_path;
  int json;
  int all_text; /* Bind parameters as text. */
  char **args;  /* Operands: SQL and parameters. */
  size_t n_args;
  int help;
};

enum { OPT_DB = 'd', OPT_JSON = 'j', OPT_TEXT = 't', OPT_HELP = 'h' };

static const struct option LOCAL_OPTIONS[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"json", no_argument, NULL, OPT_JSON},
    {"text", no_argument, NULL, OPT_TEXT},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0}};

/* Parses the options of a local command; allowed lists the short option
 * letters it accepts besides d and h. Returns CLI_OK or CLI_USAGE. */
static int parse_local(const char *cmd, int argc, char **argv,
                       const char *allowed, struct local_opts *o) {
  int opt;
  memset(o, 0, sizeof(*o));
  while ((opt = cli_getopt(cmd, argc, argv, "d:jth", LOCAL_OPTIONS)) != -1) {
    if (opt == '?')
      return CLI_USAGE;
    if (opt != OPT_DB && opt != OPT_HELP && !strchr(allowed, opt))
      return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    switch (opt) {
    case OPT_DB:
      o->db_path = optarg;
      break;
    case OPT_JSON:
      o->json = 1;
      break;
    case OPT_TEXT:
      o->all_text = 1;
      break;
    case OPT_HELP:
      o->help = 1;
      return CLI_OK;
    }
  }
  o->args = argv + optind;
  o->n_args = (size_t)(argc - optind);
  if (!o->db_path)
    return cli_usage_error(cmd, "--db FILE is required");
  return CLI_OK;
}

/* ---- status ---------------------------------------------------------------
 */

static const char STATUS_USAGE[] =
    "Usage: powersync status --db FILE [--json]\n"
    "\n"
    "Shows what the database knows about syncing, without connecting: when\n"
    "it last synced (per priority), its buckets and sync streams, and how\n"
    "many local writes wait for upload.\n"
    "\n"
    "  -d, --db FILE   the database (must exist)\n"
    "  -j, --json      one JSON object: sync_status, buckets, pending_uploads\n"
    "  -h, --help      this help\n";

static const char BUCKETS_SQL[] =
    "SELECT name AS bucket, count_at_last AS ops, last_op, "
    "downloaded_size AS bytes FROM ps_buckets WHERE name <> '$local' "
    "ORDER BY name";

static void print_time_field(const char *label, int64_t us) {
  char when[64];
  if (us <= 0) {
    printf("%-17s never\n", label);
    return;
  }
  cli_format_time_us(us, when, sizeof(when));
  printf("%-17s %s\n", label, when);
}

static void print_priorities(const powersync_sync_status *s) {
  size_t i, n = powersync_sync_status_priority_count(s);
  if (n == 0) {
    printf("%-17s none\n", "priorities:");
    return;
  }
  printf("priorities:\n");
  for (i = 0; i < n; i++) {
    powersync_priority_status p = powersync_sync_status_priority_at(s, i);
    char label[48], when[64] = "never";
    if (p.priority == FULL_SYNC_PRIORITY)
      snprintf(label, sizeof(label), "full sync");
    else
      snprintf(label, sizeof(label), "priority %d", p.priority);
    if (p.last_synced_at_us > 0)
      cli_format_time_us(p.last_synced_at_us, when, sizeof(when));
    if (p.has_synced)
      printf("  %-15s synced at %s\n", label, when);
    else
      printf("  %-15s not synced\n", label);
  }
}

static void print_streams(const powersync_sync_status *s) {
  size_t i, n = powersync_sync_status_stream_count(s);
  if (n == 0) {
    printf("%-17s none\n", "streams:");
    return;
  }
  printf("%-17s %zu\n", "streams:", n);
  for (i = 0; i < n; i++) {
    const powersync_stream_status *st = powersync_sync_status_stream_at(s, i);
    char when[64] = "never";
    /* Parameters only when the subscription has some: "todos" rather
     * than "todos null" for default streams and bucket definitions. */
    int has_params =
        st->parameters_json && strcmp(st->parameters_json, "null") != 0;
    if (st->last_synced_at_us > 0)
      cli_format_time_us(st->last_synced_at_us, when, sizeof(when));
    printf("  %s%s%s: %s%s%s, synced: %s\n", st->name, has_params ? " " : "",
           has_params ? st->parameters_json : "",
           st->active ? "active" : "inactive",
           st->is_default ? ", default" : "",
           st->has_explicit_subscription ? ", subscribed" : "", when);
  }
}

static int print_status_text(const char *path, const powersync_sync_status *s,
                             const cli_table *buckets,
                             const powersync_upload_queue_stats *q) {
  printf("%-17s %s\n", "database:", path);
  printf("%-17s no (offline)\n", "connected:");
  printf("%-17s %s\n",
         "has synced:", powersync_sync_status_has_synced(s) ? "yes" : "no");
  print_time_field("last synced at:",
                   powersync_sync_status_last_synced_at_us(s));
  print_priorities(s);
  printf("%-17s %zu\n", "buckets:", buckets->nrows);
  if (buckets->nrows)
    cli_table_print(buckets, stdout, "  ");
  print_streams(s);
  printf("%-17s %lld (%lld bytes)\n", "pending uploads:", (long long)q->count,
         (long long)q->size_bytes);
  return CLI_OK;
}

static int print_status_json(const powersync_sync_status *s,
                             const cli_table *buckets,
                             const powersync_upload_queue_stats *q) {
  printf("{\"sync_status\":%s,\n\"buckets\":", powersync_sync_status_json(s));
  cli_table_print_json(buckets, stdout);
  printf(",\"pending_uploads\":{\"count\":%lld,\"size_bytes\":%lld}}\n",
         (long long)q->count, (long long)q->size_bytes);
  return CLI_OK;
}

/* Reads everything `status` shows, then prints it. */
static int show_status(powersync_db *db, const struct local_opts *o) {
  powersync_sync_status *s = NULL;
  powersync_rows *rows = NULL;
  powersync_upload_queue_stats q = {0, 0};
  cli_table buckets;
  int rc, result;
  memset(&buckets, 0, sizeof(buckets));
  if ((rc = powersync_db_sync_status(db, &s)) != POWERSYNC_OK)
    return cli_sdk_error("reading the sync status", rc);
  rc = powersync_db_query(db, BUCKETS_SQL, NULL, 0, &rows);
  if (rc != POWERSYNC_OK)
    result = cli_sdk_error("reading buckets", rc);
  else if (cli_table_from_rows(&buckets, rows) != 0)
    result = cli_error("out of memory");
  else if ((rc = powersync_db_upload_queue_stats(db, &q)) != POWERSYNC_OK)
    result = cli_sdk_error("reading the upload queue", rc);
  else if (o->json)
    result = print_status_json(s, &buckets, &q);
  else
    result = print_status_text(o->db_path, s, &buckets, &q);
  cli_table_free(&buckets);
  powersync_rows_free(rows);
  powersync_sync_status_free(s);
  return result;
}

int cli_status(int argc, char **argv) {
  struct local_opts o;
  powersync_db *db = NULL;
  int rc = parse_local("status", argc, argv, "j", &o);
  if (rc != CLI_OK || o.help) {
    if (o.help)
      fputs(STATUS_USAGE, stdout);
    return rc;
  }
  if (o.n_args)
    return cli_usage_error("status", "unexpected argument '%s'", o.args[0]);
  if ((rc = cli_open_db(o.db_path, 1, &db)) != CLI_OK)
    return rc;
  rc = show_status(db, &o);
  powersync_db_close(db);
  return rc;
}

/* ---- query ----------------------------------------------------------------
 */

static const char QUERY_USAGE[] =
    "Usage: powersync query --db FILE [--json] [--text] SQL [PARAM...]\n"
    "\n"
    "Runs one read-only SQL statement and prints its rows: an aligned table\n"
    "(NULL as NULL, blobs as x'hex'), or with --json an array of objects\n"
    "(NULL as null, blobs as base64 strings). PARAMs bind to ?1, ?2, ...:\n"
    "integers and decimals as numbers, NULL or null as NULL, anything else\n"
    "as text (--text: everything as text). Put -- before parameters that\n"
    "start with '-'.\n"
    "\n"
    "  -d, --db FILE   the database (must exist)\n"
    "  -j, --json      JSON output\n"
    "  -t, --text      bind every parameter as text\n"
    "  -h, --help      this help\n";

/* Runs sql with params and prints the result. */
static int run_query(powersync_db *db, const struct local_opts *o,
                     const powersync_value *params, size_t n_params) {
  powersync_rows *rows = NULL;
  cli_table table;
  int rc = powersync_db_query(db, o->args[0], params, n_params, &rows);
  if (rc != POWERSYNC_OK) {
    cli_sdk_error("query", rc);
    if (rc > 0 && (rc & 0xff) == SQLITE_READONLY)
      fprintf(stderr, "(query is read-only: use 'powersync exec' to write)\n");
    return CLI_FAIL;
  }
  if (cli_table_from_rows(&table, rows) != 0) {
    cli_table_free(&table);
    powersync_rows_free(rows);
    return cli_error("out of memory");
  }
  if (o->json) {
    cli_table_print_json(&table, stdout);
  } else {
    if (table.ncols)
      cli_table_print(&table, stdout, "");
    printf("(%zu row%s)\n", table.nrows, table.nrows == 1 ? "" : "s");
  }
  cli_table_free(&table);
  powersync_rows_free(rows);
  return CLI_OK;
}

int cli_query(int argc, char **argv) {
  struct local_opts o;
  powersync_db *db = NULL;
  powersync_value *params;
  int rc = parse_local("query", argc, argv, "jt", &o), failed = 0;
  if (rc != CLI_OK || o.help) {
    if (o.help)
      fputs(QUERY_USAGE, stdout);
    return rc;
  }
  if (o.n_args == 0)
    return cli_usage_error("query", "SQL is required");
  params = cli_parse_params(o.args + 1, o.n_args - 1, o.all_text, &failed);
  if (failed)
    return cli_error("out of memory");
  if ((rc = cli_open_db(o.db_path, 1, &db)) == CLI_OK) {
    rc = run_query(db, &o, params, o.n_args - 1);
    powersync_db_close(db);
  }
  free(params);
  return rc;
}

/* ---- pending --------------------------------------------------------------
 */

static const char PENDING_USAGE[] =
    "Usage: powersync pending --db FILE [--json]\n"
    "\n"
    "Lists the upload queue: local writes not yet uploaded, oldest first,\n"
    "with their queue id, local transaction, operation, table, row id and\n"
    "data. --json prints each entry as it would be uploaded (with old\n"
    "values and metadata where the table records them).\n"
    "\n"
    "  -d, --db FILE   the database (must exist)\n"
    "  -j, --json      JSON output (an array of upload entries)\n"
    "  -h, --help      this help\n";

static const char *const PENDING_COLUMNS[] = {"id",    "tx",     "op",
                                              "table", "row_id", "data"};

static int add_entry_row(cli_table *t, const powersync_crud_entry *e) {
  powersync_value row[6];
  row[0] = powersync_int(e->client_id);
  row[1] =
      e->transaction_id ? powersync_int(e->transaction_id) : powersync_null();
  row[2] = powersync_text(powersync_crud_op_name(e->op));
  row[3] = powersync_text(e->table);
  row[4] = powersync_text(e->id);
  row[5] = powersync_text(e->data);
  return cli_table_add_row(t, row);
}

/* Appends one transaction to the table (text form) or prints its entries'
 * upload JSON (JSON form, *first tracking the separator). */
static int collect_batch(const powersync_crud_batch *batch, cli_table *t,
                         int json, int *first) {
  size_t i, n = powersync_crud_batch_count(batch);
  for (i = 0; i < n; i++) {
    const powersync_crud_entry *e = powersync_crud_batch_entry(batch, i);
    if (json) {
      printf("%s  %s", *first ? "[\n" : ",\n", e->json);
      *first = 0;
    } else if (add_entry_row(t, e) != 0) {
      return -1;
    }
  }
  return 0;
}

static int list_pending(powersync_db *db, int json) {
  powersync_crud_iter *it = NULL;
  powersync_crud_batch *batch = NULL;
  cli_table table;
  size_t transactions = 0;
  int rc, first = 1, result = CLI_OK;
  if (cli_table_init(&table, 6, PENDING_COLUMNS) != 0) {
    cli_table_free(&table);
    return cli_error("out of memory");
  }
  if ((rc = powersync_db_crud_iter(db, &it)) != POWERSYNC_OK)
    result = cli_sdk_error("reading the upload queue", rc);
  while (result == CLI_OK &&
         (rc = powersync_crud_iter_next(it, &batch)) == POWERSYNC_OK && batch) {
    transactions++;
    if (collect_batch(batch, &table, json, &first) != 0)
      result = cli_error("out of memory");
    powersync_crud_batch_free(batch);
    batch = NULL;
  }
  if (result == CLI_OK && rc != POWERSYNC_OK)
    result = cli_sdk_error("reading the upload queue", rc);
  powersync_crud_iter_free(it);
  if (result == CLI_OK && json) {
    fputs(first ? "[]\n" : "\n]\n", stdout);
  } else if (result == CLI_OK && table.nrows == 0) {
    printf("no pending uploads\n");
  } else if (result == CLI_OK) {
    cli_table_print(&table, stdout, "");
    printf("(%zu pending write%s in %zu transaction%s)\n", table.nrows,
           table.nrows == 1 ? "" : "s", transactions,
           transactions == 1 ? "" : "s");
  }
  cli_table_free(&table);
  return result;
}

int cli_pending(int argc, char **argv) {
  struct local_opts o;
  powersync_db *db = NULL;
  int rc = parse_local("pending", argc, argv, "j", &o);
  if (rc != CLI_OK || o.help) {
    if (o.help)
      fputs(PENDING_USAGE, stdout);
    return rc;
  }
  if (o.n_args)
    return cli_usage_error("pending", "unexpected argument '%s'", o.args[0]);
  if ((rc = cli_open_db(o.db_path, 1, &db)) != CLI_OK)
    return rc;
  rc = list_pending(db, o.json);
  powersync_db_close(db);
  return rc;
}

/* ---- exec -----------------------------------------------------------------
 */

static const char EXEC_USAGE[] =
    "Usage: powersync exec --db FILE [--text] SQL [PARAM...]\n"
    "\n"
    "Runs one SQL statement on the database as a local write. Writes to\n"
    "synced tables are queued for upload (see 'powersync pending'); the\n"
    "next 'powersync sync --upload-url URL' uploads them. PARAMs bind to\n"
    "?1, ?2, ... as in 'powersync query'.\n"
    "\n"
    "  -d, --db FILE   the database (must exist)\n"
    "  -t, --text      bind every parameter as text\n"
    "  -h, --help      this help\n";

static int run_exec(powersync_db *db, const char *sql,
                    const powersync_value *params, size_t n_params) {
  powersync_upload_queue_stats before = {0, 0}, after = {0, 0};
  int64_t changes = 0;
  int rc = powersync_db_upload_queue_stats(db, &before);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("reading the upload queue", rc);
  rc = powersync_db_execute(db, sql, params, n_params, &changes);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("exec", rc);
  if ((rc = powersync_db_upload_queue_stats(db, &after)) != POWERSYNC_OK)
    return cli_sdk_error("reading the upload queue", rc);
  /* Writes through a synced table's view run in INSTEAD OF triggers, which
   * SQLite does not count as changes; the queue shows what happened. */
  if (after.count > before.count)
    printf("%lld write%s queued for upload (%lld pending)\n",
           (long long)(after.count - before.count),
           after.count - before.count == 1 ? "" : "s", (long long)after.count);
  else
    printf("%lld row%s changed\n", (long long)changes, changes == 1 ? "" : "s");
  return CLI_OK;
}

int cli_exec(int argc, char **argv) {
  struct local_opts o;
  powersync_db *db = NULL;
  powersync_value *params;
  int rc = parse_local("exec", argc, argv, "t", &o), failed = 0;
  if (rc != CLI_OK || o.help) {
    if (o.help)
      fputs(EXEC_USAGE, stdout);
    return rc;
  }
  if (o.n_args == 0)
    return cli_usage_error("exec", "SQL is required");
  params = cli_parse_params(o.args + 1, o.n_args - 1, o.all_text, &failed);
  if (failed)
    return cli_error("out of memory");
  if ((rc = cli_open_db(o.db_path, 1, &db)) == CLI_OK) {
    rc = run_exec(db, o.args[0], params, o.n_args - 1);
    powersync_db_close(db);
  }
  free(params);
  return rc;
}
