/*
 * credentials.c: where `powersync sync` gets its token: --token (fixed) or
 * --token-command (a shell command run every time the SDK asks, because
 * the SDK asks again exactly when the previous token was rejected or is
 * about to expire, so a command that mints tokens keeps the sync alive).
 *
 * The command prints the token; surrounding white space is ignored. When
 * it prints a JSON object instead, its "token" member is used, so that
 * `curl -s 'http://127.0.0.1:8080/api/auth/token?user_id=me'` against
 * powersync-devserver works as a token command as it is.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sync_app.h"

#define TOKEN_OUTPUT_MAX 65536

/* ---- Running the command -------------------------------------------------
 */

static char *trim(char *s) {
  char *end;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                     end[-1] == '\r'))
    *--end = '\0';
  return s;
}

/* The string value of "key" in a flat JSON object (no escapes expected:
 * JWTs are base64url), or NULL. */
static char *json_member(const char *json, const char *key) {
  char pattern[64];
  const char *p = json, *start, *end;
  snprintf(pattern, sizeof(pattern), "\"%s\"", key);
  while ((p = strstr(p, pattern)) != NULL) {
    p += strlen(pattern);
    p += strspn(p, " \t\r\n");
    if (*p != ':')
      continue;
    p++;
    p += strspn(p, " \t\r\n");
    if (*p != '"')
      return NULL;
    start = p + 1;
    end = strchr(start, '"');
    if (!end)
      return NULL;
    return strndup(start, (size_t)(end - start));
  }
  return NULL;
}

/* Describes how a command ended, for messages. */
static void describe_exit(int status, char *out, size_t size) {
  if (status == -1)
    snprintf(out, size, "could not be run");
  else if (WIFEXITED(status))
    snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status))
    snprintf(out, size, "was killed by signal %d", WTERMSIG(status));
  else
    snprintf(out, size, "failed");
}

/* Reads the command's whole standard output. */
static void read_output(FILE *f, cli_buf *b) {
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
    if (b->len < TOKEN_OUTPUT_MAX)
      cli_buf_append(b, chunk, n);
}

static int run_token_command(const char *cmd, char **out, char *err,
                             size_t errlen) {
  cli_buf b = {0};
  FILE *f;
  char how[64], *text;
  int status;
  *out = NULL;
  fflush(NULL); /* The child must not inherit unflushed output. */
  f = popen(cmd, "r");
  if (!f) {
    snprintf(err, errlen, "token command '%s' could not be started", cmd);
    return -1;
  }
  read_output(f, &b);
  status = pclose(f);
  if (status != 0) {
    describe_exit(status, how, sizeof(how));
    snprintf(err, errlen, "token command '%s' %s", cmd, how);
    cli_buf_free(&b);
    return -1;
  }
  text = trim(b.data ? b.data : "");
  *out = text[0] == '{' ? json_member(text, "token") : strdup(text);
  cli_buf_free(&b);
  if (!*out || !**out) {
    free(*out);
    *out = NULL;
    snprintf(err, errlen, "token command '%s' printed no token", cmd);
    return -1;
  }
  return 0;
}

/* A fresh token: --token, or the command's output. */
static int fetch_token(struct sync_app *app, char **out, char *err,
                       size_t errlen) {
  if (app->opt.token) {
    *out = strdup(app->opt.token);
    if (!*out) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    return 0;
  }
  return run_token_command(app->opt.token_command, out, err, errlen);
}

/* Records the outcome of a fetch (mu not held): remembers the token, or
 * counts the failure; a token command failing twice in a row ends
 * --until-synced (the timeout would only hide it). */
static void record_fetch(struct sync_app *app, const char *token,
                         const char *err) {
  pthread_mutex_lock(&app->mu);
  if (token) {
    char *copy = strdup(token);
    if (copy) {
      free(app->token);
      app->token = copy;
    }
    app->token_failures = 0;
  } else if (++app->token_failures >= 2 && !app->opt.follow) {
    sync_app_fatal(app, "cannot get a token: %s", err);
  }
  pthread_cond_broadcast(&app->cv);
  pthread_mutex_unlock(&app->mu);
}

/* ---- Callbacks -----------------------------------------------------------
 */

int sync_fetch_credentials(void *user_data, powersync_credentials *out) {
  struct sync_app *app = user_data;
  char err[512], *token = NULL;
  int rc;
  if (fetch_token(app, &token, err, sizeof(err)) != 0) {
    record_fetch(app, NULL, err);
    powersync_callback_error(err);
    return POWERSYNC_EAUTH;
  }
  record_fetch(app, token, NULL);
  rc = powersync_credentials_set(out, app->opt.endpoint, token);
  free(token);
  if (rc != POWERSYNC_OK) {
    /* The endpoint (or token) is unusable: no retry can change that. */
    pthread_mutex_lock(&app->mu);
    sync_app_fatal(app, "invalid credentials: %s",
                   powersync_error_last()->message);
    pthread_cond_broadcast(&app->cv);
    pthread_mutex_unlock(&app->mu);
  }
  return rc;
}

int sync_token_for_upload(struct sync_app *app, char **out, char *err,
                          size_t errlen) {
  pthread_mutex_lock(&app->mu);
  *out = app->token ? strdup(app->token) : NULL;
  pthread_mutex_unlock(&app->mu);
  if (*out)
    return 0;
  if (fetch_token(app, out, err, errlen) != 0) {
    record_fetch(app, NULL, err);
    return -1;
  }
  record_fetch(app, *out, NULL);
  return 0;
}

void sync_token_forget(struct sync_app *app) {
  pthread_mutex_lock(&app->mu);
  if (!app->opt.token) { /* A fixed token cannot get better. */
    free(app->token);
    app->token = NULL;
  }
  pthread_mutex_unlock(&app->mu);
}
