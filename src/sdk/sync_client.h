/*
 * sync_client.h: the state one connection shares between its tasks
 * (sync_client.c, sync_download.c, sync_upload.c).
 *
 * One mutex (mu) guards the mutable members; cv is broadcast whenever one
 * of them changes, so every waiting task re-checks its own condition.
 * Tasks never hold mu while calling the database, the network or the
 * connector.
 */
#ifndef PS_SDK_SYNC_CLIENT_H
#define PS_SDK_SYNC_CLIENT_H

#include <pthread.h>

#include "sync_internal.h"

/* Events that other tasks hand to the download iteration; it is the only
 * place that calls powersync_control during an iteration (sdk.md 9.3). */
#define PS_EVENT_COMPLETED_UPLOAD 1u
#define PS_EVENT_REFRESHED_TOKEN  2u
#define PS_EVENT_SUBSCRIPTIONS    4u

struct ps__sync_client {
  powersync_db *db;
  powersync_connector connector;
  powersync_http_transport transport;

  /* Options, copied. */
  char *params_json;       /* JSON object. */
  char *app_metadata_json; /* JSON object or NULL. */
  int include_defaults;
  int retry_delay_ms;
  int upload_throttle_ms;
  int read_timeout_ms;
  powersync_sync_format format;
  int accept_gzip;

  int lock_fd; /* The cross-process sync lock (sync_lock.c), or -1. */

  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stopping;      /* Disconnect requested: every task ends. */
  int tasks_running; /* Accepted tasks that have not ended yet. */

  /* Credentials cache (sdk.md 7). */
  char *endpoint;
  char *token;
  int have_credentials;
  int fetching_credentials;  /* A connector call is in flight. */
  int prefetch_requested;    /* For the credentials task. */
  unsigned int prefetch_gen; /* The iteration that asked for it. */

  /* The download iteration. */
  unsigned int events;        /* PS_EVENT_* waiting to be handled. */
  int iteration_active;       /* Between "start" and "stop". */
  unsigned int iteration_gen; /* Counts iterations. */
  void *download_stream;      /* The open sync stream, woken for events. */
  struct ps__cancel download_cancel;

  /* The upload task. */
  int upload_requested;
  struct ps__cancel upload_cancel;
  uint64_t crud_listener_id;
  int crud_listener_added;
};

/* Locks and unlocks c->mu. */
void ps__sync_lock(struct ps__sync_client *c);
void ps__sync_unlock(struct ps__sync_client *c);

/* 1 once disconnect was requested. */
int ps__sync_stopping(struct ps__sync_client *c);

/* Waits on c->cv up to ms milliseconds (mu held); returns early when
 * woken. */
void ps__sync_wait_locked(struct ps__sync_client *c, int64_t ms);

/* Sleeps for the retry delay with +-10 % jitter, or until disconnect;
 * returns 1 when disconnecting. */
int ps__sync_retry_wait(struct ps__sync_client *c);

/* Credentials: the cached ones, or freshly fetched (concurrent callers
 * share one fetch). Copies go to *endpoint and *token (caller frees). */
int ps__sync_credentials(struct ps__sync_client *c, char **endpoint,
                         char **token);
/* Drops the cache (after a 401 or an expired token). */
void ps__sync_invalidate_credentials(struct ps__sync_client *c);
/* Asks the credentials task for new credentials in the background. */
void ps__sync_request_prefetch(struct ps__sync_client *c);

/* Hands events to the download iteration (ignored while none is active). */
void ps__sync_post_event(struct ps__sync_client *c, unsigned int event);
/* Asks the upload task for a round. */
void ps__sync_request_upload(struct ps__sync_client *c);

/* The tasks' bodies (sync_download.c, sync_upload.c, sync_client.c). */
void ps__sync_download_task(struct ps__sync_client *c);
void ps__sync_upload_task(struct ps__sync_client *c);

/* Runs SELECT powersync_control(op, payload) in its own write transaction
 * on the writer. payload: text (is_blob 0, NULL for SQL NULL) or a blob.
 * *result: the returned text (caller frees; NULL when the core returned
 * NULL). On failure the thread's error holds the core's message. */
int ps__sync_control(powersync_db *db, const char *op, const void *payload,
                     size_t payload_len, int is_blob, char **result);

#endif
