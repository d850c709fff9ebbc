/*
 * common.c: helpers every command of the `powersync` tool uses: uniform
 * error messages (so that failures look alike whichever command reports
 * them), a string builder, file reading, time formatting, argument value
 * parsing and opening a database the way the offline commands need it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "cli.h"

/* ---- Diagnostics --------------------------------------------------------- */

int cli_error(const char *fmt, ...) {
  va_list ap;
  fputs("powersync: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "powersync%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'powersync %s%s--help'.\n", cmd ? cmd : "",
          cmd ? " " : "");
  return CLI_USAGE;
}

int cli_sdk_error(const char *what, int rc) {
  const char *msg = powersync_error_last()->message;
  if (msg && *msg)
    return cli_error("%s: %s: %s", what, powersync_errstr(rc), msg);
  return cli_error("%s: %s", what, powersync_errstr(rc));
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts) {
  char spec[64];
  int opt;
  /* A leading ':' makes getopt report a missing value as ':'. */
  snprintf(spec, sizeof(spec), ":%s", shortopts);
  opterr = 0;
  opt = getopt_long(argc, argv, spec, longopts, NULL);
  if (opt == ':') {
    cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    return '?';
  }
  if (opt == '?') {
    if (optopt && !(optind > 0 && strncmp(argv[optind - 1], "--", 2) == 0))
      cli_usage_error(cmd, "unknown option '-%c'", optopt);
    else
      cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    return '?';
  }
  return opt;
}

/* ---- String builder ------------------------------------------------------ */

static int buf_reserve(cli_buf *b, size_t extra) {
  size_t want, cap;
  char *grown;
  if (b->failed)
    return -1;
  if (extra > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return -1;
  }
  want = b->len + extra + 1;
  if (want <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < want)
    cap *= 2;
  grown = realloc(b->data, cap);
  if (!grown) {
    b->failed = 1;
    return -1;
  }
  b->data = grown;
  b->cap = cap;
  return 0;
}

void cli_buf_append(cli_buf *b, const void *data, size_t n) {
  if (buf_reserve(b, n) != 0)
    return;
  if (n)
    memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void cli_buf_puts(cli_buf *b, const char *s) {
  cli_buf_append(b, s, strlen(s));
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || buf_reserve(b, (size_t)n) != 0) {
    b->failed = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

const char *cli_buf_str(const cli_buf *b) { return b->data ? b->data : ""; }

void cli_buf_free(cli_buf *b) {
  free(b->data);
  memset(b, 0, sizeof(*b));
}

/* ---- Files, time, numbers ------------------------------------------------ */

int cli_read_file(const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  cli_buf b = {0};
  char chunk[8192];
  size_t n;
  int err;
  *out = NULL;
  if (!f)
    return -1;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    cli_buf_append(&b, chunk, n);
  err = ferror(f) ? (errno ? errno : EIO) : 0;
  fclose(f);
  if (!err && b.failed)
    err = ENOMEM;
  if (err) {
    cli_buf_free(&b);
    errno = err;
    return -1;
  }
  *out = b.data ? b.data : strdup("");
  if (!*out) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

void cli_format_time_us(int64_t us, char *out, size_t size) {
  time_t secs = (time_t)(us / 1000000);
  struct tm tm;
  char date[64];
  if (!gmtime_r(&secs, &tm) ||
      strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
    snprintf(out, size, "%lld us", (long long)us);
    return;
  }
  snprintf(out, size, "%s.%03dZ", date, (int)((us % 1000000) / 1000));
}

int64_t cli_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double cli_parse_seconds(const char *s) {
  char *end = NULL;
  double v;
  if (!s || !*s)
    return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < 0 || v > 1e7)
    return -1;
  return v;
}

int cli_is_http_url(const char *url) {
  const char *host;
  if (strncmp(url, "http://", 7) == 0)
    host = url + 7;
  else if (strncmp(url, "https://", 8) == 0)
    host = url + 8;
  else
    return 0;
  return *host && *host != '/' && *host != ':' && *host != '?';
}

/* ---- Databases and parameters -------------------------------------------- */

int cli_open_db(const char *path, int must_exist, powersync_db **out) {
  powersync_db_options opts = POWERSYNC_DB_OPTIONS_INIT;
  struct stat st;
  int rc;
  *out = NULL;
  if (must_exist && strcmp(path, ":memory:") != 0 && stat(path, &st) != 0)
    return cli_error("cannot open database '%s': %s", path, strerror(errno));
  opts.readers = 1;
  rc = powersync_db_open(out, path, NULL, &opts);
  if (rc != POWERSYNC_OK) {
    char what[1100];
    snprintf(what, sizeof(what), "cannot open database '%s'", path);
    return cli_sdk_error(what, rc);
  }
  return CLI_OK;
}

/* A value for one argument: the widest numeric reading that consumes the
 * whole string, else text. */
static powersync_value param_value(const char *arg, int all_text) {
  char *end = NULL;
  if (all_text)
    return powersync_text(arg);
  if (strcmp(arg, "NULL") == 0 || strcmp(arg, "null") == 0)
    return powersync_null();
  if (*arg && strspn(arg, "+-0123456789") == strlen(arg)) {
    long long v;
    errno = 0;
    v = strtoll(arg, &end, 10);
    if (!errno && !*end)
      return powersync_int(v);
  }
  if (*arg && strspn(arg, "+-0123456789.eE") == strlen(arg)) {
    double d;
    errno = 0;
    d = strtod(arg, &end);
    if (!errno && !*end && isfinite(d))
      return powersync_real(d);
  }
  return powersync_text(arg);
}

powersync_value *cli_parse_params(char **args, size_t n, int all_text,
                                  int *failed) {
  powersync_value *values;
  size_t i;
  *failed = 0;
  if (n == 0)
    return NULL;
  values = calloc(n, sizeof(*values));
  if (!values) {
    *failed = 1;
    return NULL;
  }
  for (i = 0; i < n; i++)
    values[i] = param_value(args[i], all_text);
  return values;
}
