/*
 * sync_app.h: the state of one `powersync sync` run, shared between the
 * main thread (cmd_sync.c, which decides when the command is done) and the
 * SDK threads that run the tool's callbacks: the connector's credentials
 * (credentials.c) and upload (upload.c) callbacks, the HTTP transport
 * wrapper that watches the service's answers (transport.c) and the status
 * listener that reports progress (progress.c, called from cmd_sync.c).
 *
 * The callbacks only record facts (an answer's HTTP status, a failed token
 * command, a rejected upload) under mu and signal cv; the main thread
 * turns them into decisions (synced, hopeless, timed out).
 */
#ifndef PS_CLI_SYNC_APP_H
#define PS_CLI_SYNC_APP_H

#include <pthread.h>

#include "cli.h"
#include "progress.h"

struct sync_options {
  const char *db_path;
  const char *schema_path;
  const char *endpoint;
  const char *token;         /* Fixed token (--token), or NULL. */
  const char *token_command; /* --token-command, or NULL. */
  const char *upload_url;    /* NULL: local writes stay queued. */
  const char *params_json;
  int bson;
  int follow;       /* Run until a signal instead of the first sync. */
  double timeout_s; /* 0: no limit. */
  double retry_delay_s;
  int verbose; /* SDK log level: 0 none, 1 info, 2 debug. */
  progress_mode progress;
};

struct sync_app {
  struct sync_options opt;
  powersync_db *db;
  powersync_http_transport curl; /* The transport transport.c wraps. */

  pthread_mutex_t mu;  /* Guards everything below; also serialises output. */
  pthread_cond_t cv;   /* Signalled whenever something below changes. */
  char *token;         /* The token fetched last (NULL: none yet). */
  int token_failures;  /* Consecutive failed token fetches. */
  int stream_401s;     /* Consecutive 401 answers to /sync/stream. */
  int stream_rejected; /* A 4xx answer to /sync/stream that retrying
                          cannot change (not 401, 408, 429); 0: none. */
  int stream_ok;       /* Some /sync/stream request was answered 200. */
  int upload_401s;     /* Consecutive 401 answers to uploads. */
  int finished;        /* The command is ending: report nothing more. */
  int fatal;           /* fatal_msg explains why the command must end. */
  char fatal_msg[1024];
  struct progress progress;
};

/* Ends the command with message (the first reason wins). Call with mu
 * held. */
void sync_app_fatal(struct sync_app *app, const char *fmt, ...)
    CLI_PRINTF(2, 3);

/* ---- credentials.c ------------------------------------------------------- */

/* The connector's fetch_credentials: --endpoint and a token from --token
 * or a fresh run of --token-command. */
int sync_fetch_credentials(void *user_data, powersync_credentials *out);
/* The token for an upload: the one fetched last, or a new one. Returns 0
 * with *out (caller frees) or -1 with a message in err. */
int sync_token_for_upload(struct sync_app *app, char **out, char *err,
                          size_t errlen);
/* Drops the remembered token after the backend rejected it. */
void sync_token_forget(struct sync_app *app);

/* ---- upload.c ------------------------------------------------------------ */

/* The connector's upload_data: POSTs whole transactions from the upload
 * queue to --upload-url as {"batch":[...]} and completes them on 2xx. */
int sync_upload_data(void *user_data, powersync_db *db);

/* ---- transport.c --------------------------------------------------------- */

/* A transport that forwards to libcurl's (app->curl, filled here) and
 * records the status of every /sync/stream answer in app. */
int sync_transport_init(struct sync_app *app, powersync_http_transport *out);

#endif
