/*
 * main.c: the powersync-devserver executable, a thin shell around
 * server.h:
 *
 *   powersync-devserver --db FILE --config FILE.yaml [--port N]
 *       [--bind ADDR] [--secret S] [--kid K] [--audience A]
 *       [--token-lifetime S] [--keepalive S] [--poll-ms MS]
 *       [--ops-per-line N] [--quiet]
 *   powersync-devserver token --user U [--secret S] [--kid K]
 *       [--audience A] [--token-lifetime S] [--db FILE --config FILE.yaml]
 *       (a token needs only the key options; --db and --config are
 *       accepted so one command line serves both)
 *   powersync-devserver compact --db FILE --config FILE.yaml
 *
 * Serving prints "powersync-devserver listening on <url>" on stdout once
 * the port is bound, logs one line per request on stderr, and exits 0
 * after SIGINT or SIGTERM. Usage errors, unreadable files, a bad config
 * and a busy port exit 2 with a message on stderr.
 *
 * Signals are blocked before any thread starts (threads inherit the mask)
 * and taken with sigwait in the main thread, so no work happens in a
 * signal handler.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "server.h"
#include "storage.h"
#include "sync_config.h"

#define EXIT_USAGE 2
/* Config files are small; this bounds a mistaken path (a database). */
#define MAX_CONFIG_BYTES (4L * 1024 * 1024)

static const char USAGE[] =
    "usage: powersync-devserver --db FILE --config FILE.yaml [--port N]\n"
    "           [--bind ADDR] [--secret S] [--kid K] [--audience A]\n"
    "           [--token-lifetime S] [--keepalive S] [--poll-ms MS]\n"
    "           [--ops-per-line N] [--quiet]\n"
    "       powersync-devserver token --user U [--secret S] [--kid K]\n"
    "           [--audience A] [--token-lifetime S] [--db F --config F]\n"
    "       powersync-devserver compact --db FILE --config FILE.yaml\n";

struct args {
  const char *command; /* "serve", "token" or "compact". */
  const char *db;
  const char *config;
  const char *user;
  int quiet;
  struct psd_server_options opts;
};

static int usage_error(const char *fmt, const char *what) {
  fprintf(stderr, "powersync-devserver: ");
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n%s", USAGE);
  return EXIT_USAGE;
}

/* An integer option value in [min, max]. */
static int int_value(const char *name, const char *value, long long min,
                     long long max, int *out) {
  long long v;
  if (psd_parse_int(value, min, max, &v) != 0) {
    fprintf(stderr, "powersync-devserver: invalid value '%s' for %s\n", value,
            name);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Parses one "--name value" (or a flag) at argv[*i]. Returns 0, or the
 * exit code of a usage error. */
static int parse_option(struct args *a, int argc, char **argv, int *i) {
  const char *name = argv[*i], *value;
  struct psd_server_options *o = &a->opts;
  if (strcmp(name, "--quiet") == 0) {
    a->quiet = 1;
    return 0;
  }
  if (strncmp(name, "--", 2) != 0)
    return usage_error("unexpected argument '%s'", name);
  if (*i + 1 >= argc)
    return usage_error("%s needs a value", name);
  value = argv[++*i];
  if (strcmp(name, "--db") == 0)
    a->db = value;
  else if (strcmp(name, "--config") == 0)
    a->config = value;
  else if (strcmp(name, "--user") == 0)
    a->user = value;
  else if (strcmp(name, "--bind") == 0)
    o->bind_address = value;
  else if (strcmp(name, "--secret") == 0)
    o->jwt_secret = value;
  else if (strcmp(name, "--kid") == 0)
    o->jwt_kid = value;
  else if (strcmp(name, "--audience") == 0)
    o->jwt_audience = value;
  else if (strcmp(name, "--port") == 0)
    return int_value(name, value, 0, 65535, &o->port) ? EXIT_USAGE : 0;
  else if (strcmp(name, "--token-lifetime") == 0)
    return int_value(name, value, 1, 86400, &o->token_lifetime_s) ? EXIT_USAGE
                                                                  : 0;
  else if (strcmp(name, "--keepalive") == 0)
    return int_value(name, value, 1, 3600, &o->keepalive_s) ? EXIT_USAGE : 0;
  else if (strcmp(name, "--poll-ms") == 0)
    return int_value(name, value, 1, 60000, &o->poll_ms) ? EXIT_USAGE : 0;
  else if (strcmp(name, "--ops-per-line") == 0)
    return int_value(name, value, 1, 100000, &o->ops_per_line) ? EXIT_USAGE : 0;
  else
    return usage_error("unknown option '%s'", name);
  return 0;
}

static int parse_args(struct args *a, int argc, char **argv) {
  int i = 1, rc;
  memset(a, 0, sizeof(*a));
  a->command = "serve";
  if (argc > 1 &&
      (strcmp(argv[1], "token") == 0 || strcmp(argv[1], "compact") == 0)) {
    a->command = argv[1];
    i = 2;
  }
  for (; i < argc; i++)
    if ((rc = parse_option(a, argc, argv, &i)) != 0)
      return rc;
  if (strcmp(a->command, "token") == 0) {
    if (!a->user)
      return usage_error("%s needs --user", "token");
    return 0;
  }
  if (!a->db || !a->config)
    return usage_error("%s needs --db and --config", a->command);
  return 0;
}

/* Reads the config file (NUL-terminated; caller frees), or NULL with a
 * message printed. */
static char *read_config(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long size;
  if (!f) {
    fprintf(stderr, "powersync-devserver: cannot read '%s': %s\n", path,
            strerror(errno));
    return NULL;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      size > MAX_CONFIG_BYTES || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "powersync-devserver: '%s' is not a readable config\n",
            path);
    fclose(f);
    return NULL;
  }
  text = malloc((size_t)size + 1);
  if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
    free(text);
    text = NULL;
    fprintf(stderr, "powersync-devserver: cannot read '%s'\n", path);
  } else if (text) {
    text[size] = '\0';
  }
  fclose(f);
  return text;
}

static void log_line(void *user_data, const char *line) {
  (void)user_data;
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

static int cmd_token(const struct args *a) {
  char *token = psd_dev_token(&a->opts, a->user, a->opts.token_lifetime_s);
  if (!token) {
    fprintf(stderr, "powersync-devserver: cannot sign a token\n");
    return 1;
  }
  printf("%s\n", token);
  free(token);
  return 0;
}

static int cmd_compact(const struct args *a, const char *yaml) {
  struct psd_sync_config *cfg = NULL;
  struct psd_storage *storage = NULL;
  sqlite3 *db = NULL;
  char err[512];
  int rc = EXIT_USAGE;
  if (access(a->db, F_OK) != 0) {
    fprintf(stderr, "powersync-devserver: no database '%s'\n", a->db);
    return EXIT_USAGE;
  }
  if (sqlite3_open_v2(a->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    fprintf(stderr, "powersync-devserver: cannot open '%s': %s\n", a->db,
            sqlite3_errmsg(db));
    sqlite3_close(db);
    return EXIT_USAGE;
  }
  if (psd_sync_config_load(yaml, strlen(yaml), db, &cfg, err, sizeof(err)) !=
      0) {
    fprintf(stderr, "powersync-devserver: %s: %s\n", a->config, err);
    goto done;
  }
  if (psd_storage_open(a->db, cfg, &storage, err, sizeof(err)) != 0) {
    fprintf(stderr, "powersync-devserver: %s\n", err);
    goto done;
  }
  if (psd_storage_compact(storage, err, sizeof(err)) != 0) {
    fprintf(stderr, "powersync-devserver: compact: %s\n", err);
    rc = 1;
    goto done;
  }
  printf("compacted %s\n", a->db);
  rc = 0;
done:
  if (storage)
    psd_storage_close(storage);
  if (cfg)
    psd_sync_config_free(cfg);
  sqlite3_close(db);
  return rc;
}

static int cmd_serve(struct args *a, const char *yaml) {
  struct psd_server *server = NULL;
  sigset_t set;
  char err[512];
  int sig = 0;
  /* Before any thread exists, so every thread inherits the mask. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  a->opts.source_path = a->db;
  a->opts.config_yaml = yaml;
  if (!a->quiet)
    a->opts.log = log_line;
  if (psd_server_start(&a->opts, &server, err, sizeof(err)) != 0) {
    fprintf(stderr, "powersync-devserver: %s\n", err);
    return EXIT_USAGE;
  }
  printf("powersync-devserver listening on %s\n", psd_server_url(server));
  fflush(stdout);
  while (sigwait(&set, &sig) != 0)
    ;
  if (!a->quiet)
    fprintf(stderr, "powersync-devserver: %s, stopping\n",
            sig == SIGINT ? "interrupted" : "terminated");
  psd_server_stop(server);
  return 0;
}

int main(int argc, char **argv) {
  struct args a;
  char *yaml;
  int rc;
  if (argc > 1 &&
      (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(USAGE, stdout);
    return 0;
  }
  rc = parse_args(&a, argc, argv);
  if (rc != 0)
    return rc;
  if (strcmp(a.command, "token") == 0)
    return cmd_token(&a);
  yaml = read_config(a.config);
  if (!yaml)
    return EXIT_USAGE;
  if (strcmp(a.command, "compact") == 0)
    rc = cmd_compact(&a, yaml);
  else
    rc = cmd_serve(&a, yaml);
  free(yaml);
  return rc;
}
