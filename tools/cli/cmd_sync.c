/*
 * cmd_sync.c: `powersync sync`: opens the database with the given schema,
 * connects it to a PowerSync service and reports progress until the
 * database has synced (--until-synced, the default) or until interrupted
 * (--follow).
 *
 * The SDK heals transient failures by itself (it reconnects after the
 * retry delay forever). This command adds what a person at a terminal or a
 * script needs: it decides when waiting is pointless and says why, instead
 * of retrying silently. The main thread polls the sync status (and the
 * facts the callbacks record in struct sync_app) every WAIT_SLICE_MS and
 * ends the command when:
 *   - a full sync completed after it started (--until-synced): exit 0;
 *   - the service rejected the token again and again, refused the request
 *     with a 4xx that retrying cannot change (wrong endpoint path), the
 *     credentials were unusable, or (--until-synced) the upload endpoint
 *     rejected the writes: exit 1 with the SDK's error;
 *   - --timeout passed before the first sync: exit 1 with the last error;
 *   - SIGINT/SIGTERM: exit 0 with --follow, 1 otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync_app.h"

#define WAIT_SLICE_MS        100
#define DEFAULT_RETRY_DELAY  1.0
#define STATIC_TOKEN_401_MAX 2 /* A fixed token rejected this often: stop. */
#define TOKEN_CMD_401_MAX    3 /* Fresh tokens rejected this often: stop. */

static const char SYNC_USAGE[] =
    "Usage: powersync sync --db FILE --schema FILE.json --endpoint URL\n"
    "                      (--token JWT | --token-command CMD) [options]\n"
    "\n"
    "Connects the database to a PowerSync service, downloads what the sync\n"
    "rules give this user and uploads pending local writes (with\n"
    "--upload-url). Progress goes to stderr: a bar on a terminal, plain\n"
    "lines otherwise.\n"
    "\n"
    "  -d, --db FILE             the database (created if missing)\n"
    "  -s, --schema FILE.json    the schema: {\"tables\":[{\"name\":..,\n"
    "                            "
    "\"columns\":[{\"name\":..,\"type\":\"text\"}]}]}\n"
    "  -e, --endpoint URL        the service, http(s)://host[:port]\n"
    "  -t, --token JWT           a fixed token\n"
    "  -c, --token-command CMD   a shell command printing a token (or JSON\n"
    "                            with a \"token\" member); run whenever a new\n"
    "                            token is needed\n"
    "  -u, --upload-url URL      POST pending writes there as "
    "{\"batch\":[..]}\n"
    "                            (without it they stay queued)\n"
    "  -p, --params JSON         client parameters (a JSON object)\n"
    "      --bson                ask for the BSON stream (default NDJSON)\n"
    "      --until-synced        exit 0 once a full sync completed (default)\n"
    "  -f, --follow              keep syncing until SIGINT or SIGTERM\n"
    "  -T, --timeout S           give up (exit 1) without a sync after S s\n"
    "      --retry-delay S       wait between reconnects (default 1)\n"
    "      --progress MODE       auto, bar, lines or none (default auto)\n"
    "  -v, --verbose             SDK log on stderr (twice: debug)\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit status: 0 synced (or stopped with --follow), 1 failure or\n"
    "timeout, 2 usage error or bad schema file.\n";

enum {
  OPT_BSON = 256,
  OPT_UNTIL_SYNCED,
  OPT_RETRY_DELAY,
  OPT_PROGRESS,
};

static const struct option SYNC_OPTIONS[] = {
    {"db", required_argument, NULL, 'd'},
    {"schema", required_argument, NULL, 's'},
    {"endpoint", required_argument, NULL, 'e'},
    {"token", required_argument, NULL, 't'},
    {"token-command", required_argument, NULL, 'c'},
    {"upload-url", required_argument, NULL, 'u'},
    {"params", required_argument, NULL, 'p'},
    {"bson", no_argument, NULL, OPT_BSON},
    {"until-synced", no_argument, NULL, OPT_UNTIL_SYNCED},
    {"follow", no_argument, NULL, 'f'},
    {"timeout", required_argument, NULL, 'T'},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0}};

/* Set by the signal handler; read by the waiting main thread. */
static volatile sig_atomic_t g_stop_signal;

/* ---- Options ------------------------------------------------------------- */

static int parse_progress(const char *s, progress_mode *out) {
  static const char *const NAMES[] = {"auto", "bar", "lines", "none"};
  static const progress_mode MODES[] = {PROGRESS_AUTO, PROGRESS_BAR,
                                        PROGRESS_LINES, PROGRESS_NONE};
  size_t i;
  for (i = 0; i < 4; i++)
    if (strcmp(s, NAMES[i]) == 0) {
      *out = MODES[i];
      return 0;
    }
  return -1;
}

/* One option's value into o. Returns CLI_OK or CLI_USAGE. */
static int apply_option(struct sync_options *o, int opt, const char *arg,
                        int *until_synced) {
  switch (opt) {
  case 'd':
    o->db_path = arg;
    break;
  case 's':
    o->schema_path = arg;
    break;
  case 'e':
    o->endpoint = arg;
    break;
  case 't':
    o->token = arg;
    break;
  case 'c':
    o->token_command = arg;
    break;
  case 'u':
    o->upload_url = arg;
    break;
  case 'p':
    o->params_json = arg;
    break;
  case OPT_BSON:
    o->bson = 1;
    break;
  case OPT_UNTIL_SYNCED:
    *until_synced = 1;
    break;
  case 'f':
    o->follow = 1;
    break;
  case 'v':
    o->verbose++;
    break;
  case 'T':
    if ((o->timeout_s = cli_parse_seconds(arg)) < 0)
      return cli_usage_error("sync", "--timeout needs seconds, not '%s'", arg);
    break;
  case OPT_RETRY_DELAY:
    if ((o->retry_delay_s = cli_parse_seconds(arg)) < 0)
      return cli_usage_error("sync", "--retry-delay needs seconds, not '%s'",
                             arg);
    break;
  case OPT_PROGRESS:
    if (parse_progress(arg, &o->progress) != 0)
      return cli_usage_error("sync", "--progress is auto, bar, lines or none");
    break;
  default:
    return CLI_USAGE;
  }
  return CLI_OK;
}

/* Checks that the options make sense together. */
static int validate_options(const struct sync_options *o, int until_synced,
                            int n_operands, char **operands) {
  if (n_operands > 0)
    return cli_usage_error("sync", "unexpected argument '%s'", operands[0]);
  if (!o->db_path)
    return cli_usage_error("sync", "--db FILE is required");
  if (!o->schema_path)
    return cli_usage_error("sync", "--schema FILE.json is required");
  if (!o->endpoint)
    return cli_usage_error("sync", "--endpoint URL is required");
  if (!cli_is_http_url(o->endpoint))
    return cli_usage_error("sync",
                           "--endpoint '%s' is not an http:// or https:// URL "
                           "(e.g. http://127.0.0.1:8080)",
                           o->endpoint);
  if (!o->token == !o->token_command)
    return cli_usage_error("sync",
                           "give exactly one of --token and --token-command");
  if (o->token && !*o->token)
    return cli_usage_error("sync", "--token is empty");
  if (o->upload_url && !cli_is_http_url(o->upload_url))
    return cli_usage_error(
        "sync", "--upload-url '%s' is not an http:// or https:// URL",
        o->upload_url);
  if (o->follow && until_synced)
    return cli_usage_error("sync",
                           "--follow and --until-synced exclude each other");
  return CLI_OK;
}

static int parse_sync_options(int argc, char **argv, struct sync_options *o,
                              int *help) {
  int opt, until_synced = 0, rc;
  memset(o, 0, sizeof(*o));
  o->retry_delay_s = DEFAULT_RETRY_DELAY;
  o->progress = PROGRESS_AUTO;
  *help = 0;
  while ((opt = cli_getopt("sync", argc, argv, "d:s:e:t:c:u:p:fT:vh",
                           SYNC_OPTIONS)) != -1) {
    if (opt == '?')
      return CLI_USAGE;
    if (opt == 'h') {
      *help = 1;
      return CLI_OK;
    }
    if ((rc = apply_option(o, opt, optarg, &until_synced)) != CLI_OK)
      return rc;
  }
  return validate_options(o, until_synced, argc - optind, argv + optind);
}

/* ---- Set-up -------------------------------------------------------------- */

/* Reads and parses the schema file; CLI_USAGE with a message when it is
 * missing or invalid. */
static int load_schema(const char *path, powersync_schema **out) {
  char *json = NULL;
  int rc;
  *out = NULL;
  if (cli_read_file(path, &json) != 0) {
    fprintf(stderr, "powersync sync: cannot read schema file '%s': %s\n", path,
            strerror(errno));
    return CLI_USAGE;
  }
  rc = powersync_schema_from_json(out, json);
  free(json);
  if (rc != POWERSYNC_OK) {
    fprintf(stderr, "powersync sync: invalid schema file '%s': %s\n", path,
            powersync_error_last()->message);
    return CLI_USAGE;
  }
  return CLI_OK;
}

static int open_with_schema(const struct sync_options *o, powersync_db **out) {
  powersync_schema *schema = NULL;
  powersync_db_options opts = POWERSYNC_DB_OPTIONS_INIT;
  char what[1100];
  int rc = load_schema(o->schema_path, &schema);
  if (rc != CLI_OK)
    return rc;
  opts.readers = 2;
  rc = powersync_db_open(out, o->db_path, schema, &opts);
  powersync_schema_free(schema);
  if (rc == POWERSYNC_OK)
    return CLI_OK;
  snprintf(what, sizeof(what), "cannot open database '%s'", o->db_path);
  cli_sdk_error(what, rc);
  return rc == POWERSYNC_ESCHEMA ? CLI_USAGE : CLI_FAIL;
}

static void on_log(powersync_log_level level, const char *tag,
                   const char *message, void *user_data) {
  static const char *const LEVELS[] = {"trace", "debug", "info",
                                       "warn",  "error", "off"};
  (void)user_data;
  fprintf(stderr, "[%s] %s: %s\n",
          level <= POWERSYNC_LOG_OFF ? LEVELS[level] : "?", tag, message);
}

static void on_stop_signal(int sig) {
  if (g_stop_signal) /* A second signal: the user insists. */
    _exit(1);
  g_stop_signal = sig;
}

static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Runs on the SDK's callback thread for every status change. */
static void on_status(const powersync_sync_status *s, void *user_data) {
  struct sync_app *app = user_data;
  pthread_mutex_lock(&app->mu);
  if (!app->finished)
    progress_update(&app->progress, s);
  pthread_cond_broadcast(&app->cv);
  pthread_mutex_unlock(&app->mu);
}

void sync_app_fatal(struct sync_app *app, const char *fmt, ...) {
  va_list ap;
  if (app->fatal)
    return;
  app->fatal = 1;
  va_start(ap, fmt);
  vsnprintf(app->fatal_msg, sizeof(app->fatal_msg), fmt, ap);
  va_end(ap);
}

static int app_init(struct sync_app *app, const struct sync_options *o) {
  pthread_condattr_t attr;
  memset(app, 0, sizeof(*app));
  app->opt = *o;
  if (pthread_mutex_init(&app->mu, NULL) != 0)
    return -1;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  if (pthread_cond_init(&app->cv, &attr) != 0) {
    pthread_condattr_destroy(&attr);
    pthread_mutex_destroy(&app->mu);
    return -1;
  }
  pthread_condattr_destroy(&attr);
  return 0;
}

static void app_free(struct sync_app *app) {
  progress_free(&app->progress);
  free(app->token);
  pthread_cond_destroy(&app->cv);
  pthread_mutex_destroy(&app->mu);
}

/* Says once, before connecting, that queued writes will not move. */
static void warn_about_pending(struct sync_app *app) {
  powersync_upload_queue_stats q = {0, 0};
  if (app->opt.upload_url ||
      powersync_db_upload_queue_stats(app->db, &q) != POWERSYNC_OK ||
      q.count == 0)
    return;
  fprintf(stderr,
          "powersync: %lld local write%s pending and no --upload-url: they "
          "stay queued, and downloaded changes are applied only once they "
          "are uploaded\n",
          (long long)q.count, q.count == 1 ? "" : "s");
}

static int connect_db(struct sync_app *app) {
  powersync_connector connector = {POWERSYNC_CONNECTOR_VERSION, app,
                                   sync_fetch_credentials, NULL, NULL};
  powersync_connect_options opts = POWERSYNC_CONNECT_OPTIONS_INIT;
  powersync_http_transport transport;
  int rc = sync_transport_init(app, &transport);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("HTTP transport", rc);
  if (app->opt.upload_url)
    connector.upload_data = sync_upload_data;
  opts.params_json = app->opt.params_json;
  opts.format =
      app->opt.bson ? POWERSYNC_SYNC_FORMAT_BSON : POWERSYNC_SYNC_FORMAT_NDJSON;
  opts.retry_delay_ms = (int)(app->opt.retry_delay_s * 1000);
  opts.upload_throttle_ms = 100;
  opts.transport = &transport;
  rc = powersync_db_connect(app->db, &connector, &opts);
  if (rc == POWERSYNC_EINVAL) {
    cli_sdk_error("connect", rc);
    return CLI_USAGE; /* Only the options can be invalid here (--params). */
  }
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("connect", rc);
  return CLI_OK;
}

/* ---- Waiting ------------------------------------------------------------- */

enum outcome { GOING_ON, SYNCED, HOPELESS, TIMED_OUT, STOPPED };

struct wait_state {
  int64_t initial_synced_us; /* last_synced_at before connecting. */
  int synced_once;           /* A sync completed since (--follow). */
  struct timespec deadline;  /* Of --timeout; tv_sec 0: none. */
};

/* Turns the 401 streak and rejections recorded by transport.c into a
 * decision, once the SDK's message for them is in the status. (mu held) */
static void judge_download_error(struct sync_app *app, const char *error) {
  int max_401 = app->opt.token ? STATIC_TOKEN_401_MAX : TOKEN_CMD_401_MAX;
  if (!error)
    return;
  if (app->stream_401s >= max_401)
    sync_app_fatal(app, "the service rejected the token %d times: %s%s",
                   app->stream_401s, error,
                   app->opt.token ? " (--token is fixed: pass a valid one, or "
                                    "use --token-command)"
                                  : "");
  else if (app->stream_rejected)
    sync_app_fatal(app, "the service refused the sync request: %s%s", error,
                   app->stream_rejected == 404 || app->stream_rejected == 405
                       ? " (is --endpoint the URL of a PowerSync service?)"
                       : "");
}

static int deadline_passed(const struct timespec *deadline) {
  struct timespec now;
  if (deadline->tv_sec == 0)
    return 0;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec ||
         (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* What to do after looking at status s. (mu held) */
static enum outcome decide(struct sync_app *app, struct wait_state *w,
                           const powersync_sync_status *s) {
  judge_download_error(app, powersync_sync_status_download_error(s));
  if (app->fatal)
    return HOPELESS;
  if (powersync_sync_status_has_synced(s) &&
      powersync_sync_status_last_synced_at_us(s) > w->initial_synced_us) {
    if (!app->opt.follow)
      return SYNCED;
    w->synced_once = 1;
  }
  if (g_stop_signal)
    return STOPPED;
  if (!w->synced_once && deadline_passed(&w->deadline))
    return TIMED_OUT;
  return GOING_ON;
}

static void wait_slice(struct sync_app *app) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_nsec += WAIT_SLICE_MS * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&app->cv, &app->mu, &until);
}

/* Polls the status until there is an outcome; *last gets the final
 * status (caller frees). */
static enum outcome wait_for_outcome(struct sync_app *app, struct wait_state *w,
                                     powersync_sync_status **last) {
  enum outcome out = GOING_ON;
  *last = NULL;
  while (out == GOING_ON) {
    powersync_sync_status *s = NULL;
    if (powersync_db_sync_status(app->db, &s) != POWERSYNC_OK) {
      pthread_mutex_lock(&app->mu);
      sync_app_fatal(app, "cannot read the sync status: %s",
                     powersync_error_last()->message);
      pthread_mutex_unlock(&app->mu);
    }
    pthread_mutex_lock(&app->mu);
    out = decide(app, w, s);
    if (out == GOING_ON)
      wait_slice(app);
    else
      app->finished = 1;
    pthread_mutex_unlock(&app->mu);
    powersync_sync_status_free(*last);
    *last = s;
  }
  return out;
}

static void report_timeout(const struct sync_app *app,
                           const powersync_sync_status *s) {
  const char *derr = powersync_sync_status_download_error(s);
  const char *uerr = powersync_sync_status_upload_error(s);
  char head[128];
  snprintf(head, sizeof(head), "timed out after %g s without a completed sync",
           app->opt.timeout_s);
  if (derr && !app->stream_ok)
    cli_error("%s: could not connect to %s: %s", head, app->opt.endpoint, derr);
  else if (derr)
    cli_error("%s; last download error: %s", head, derr);
  else if (uerr)
    cli_error("%s; last upload error: %s", head, uerr);
  else
    cli_error("%s", head);
}

/* Prints the outcome and returns the exit code. */
static int finish(struct sync_app *app, enum outcome out,
                  const powersync_sync_status *s) {
  char when[64];
  switch (out) {
  case SYNCED:
    if (app->progress.mode == PROGRESS_NONE)
      return CLI_OK;
    /* progress.c may not have seen the last snapshot yet. */
    if (powersync_sync_status_last_synced_at_us(s) !=
        app->progress.last_synced_us) {
      cli_format_time_us(powersync_sync_status_last_synced_at_us(s), when,
                         sizeof(when));
      fprintf(stderr, "synced at %s\n", when);
    }
    return CLI_OK;
  case HOPELESS:
    return cli_error("%s", app->fatal_msg);
  case TIMED_OUT:
    report_timeout(app, s);
    return CLI_FAIL;
  case STOPPED:
    if (app->opt.follow)
      return CLI_OK;
    return cli_error("interrupted before the sync completed");
  case GOING_ON:
    break;
  }
  return CLI_FAIL;
}

static void set_deadline(struct wait_state *w, double timeout_s) {
  int64_t ns;
  memset(&w->deadline, 0, sizeof(w->deadline));
  if (timeout_s <= 0)
    return;
  clock_gettime(CLOCK_MONOTONIC, &w->deadline);
  ns = (int64_t)w->deadline.tv_nsec + (int64_t)(timeout_s * 1e9);
  w->deadline.tv_sec += (time_t)(ns / 1000000000);
  w->deadline.tv_nsec = (long)(ns % 1000000000);
}

/* ---- The command --------------------------------------------------------- */

/* Connected and listening: waits, then disconnects. */
static int run_connected(struct sync_app *app, struct wait_state *w) {
  powersync_sync_status *last = NULL;
  enum outcome out;
  int rc;
  if (app->progress.mode != PROGRESS_NONE)
    fprintf(stderr, "connecting to %s\n", app->opt.endpoint);
  out = wait_for_outcome(app, w, &last);
  pthread_mutex_lock(&app->mu);
  progress_end(&app->progress);
  pthread_mutex_unlock(&app->mu);
  powersync_db_disconnect(app->db);
  rc = finish(app, out, last);
  powersync_sync_status_free(last);
  return rc;
}

/* Everything between opening and closing the database. */
static int run_sync(struct sync_app *app) {
  powersync_sync_status *initial = NULL;
  powersync_status_listener *listener = NULL;
  struct wait_state w;
  int rc;
  memset(&w, 0, sizeof(w));
  if ((rc = powersync_db_sync_status(app->db, &initial)) != POWERSYNC_OK)
    return cli_sdk_error("reading the sync status", rc);
  w.initial_synced_us = powersync_sync_status_last_synced_at_us(initial);
  progress_init(&app->progress, app->opt.progress, initial);
  powersync_sync_status_free(initial);
  warn_about_pending(app);
  rc = powersync_db_add_status_listener(app->db, on_status, app, &listener);
  if (rc != POWERSYNC_OK)
    return cli_sdk_error("status listener", rc);
  install_signal_handlers();
  set_deadline(&w, app->opt.timeout_s);
  rc = connect_db(app);
  if (rc == CLI_OK)
    rc = run_connected(app, &w);
  powersync_status_listener_remove(listener);
  return rc;
}

int cli_sync(int argc, char **argv) {
  struct sync_options o;
  struct sync_app app;
  int rc, help;

  if ((rc = parse_sync_options(argc, argv, &o, &help)) != CLI_OK || help) {
    if (help)
      fputs(SYNC_USAGE, stdout);
    return rc;
  }
  if (o.verbose)
    powersync_set_log_callback(
        on_log, NULL, o.verbose > 1 ? POWERSYNC_LOG_DEBUG : POWERSYNC_LOG_INFO);
  if (app_init(&app, &o) != 0)
    return cli_error("cannot initialise threads");
  rc = open_with_schema(&o, &app.db);
  if (rc == CLI_OK) {
    rc = run_sync(&app);
    powersync_db_close(app.db);
  }
  powersync_set_log_callback(NULL, NULL, POWERSYNC_LOG_OFF);
  app_free(&app);
  return rc;
}
