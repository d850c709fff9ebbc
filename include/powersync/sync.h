/**
 * @file sync.h
 * @brief Syncing with a PowerSync service: the backend connector, connect and
 * disconnect, the HTTP transport, the tasks that do the work, sync status,
 * and sync stream subscriptions.
 *
 * powersync_db_connect() starts three long-lived tasks for a database:
 * - download: streams sync lines from the service into the database and
 *   reconnects after failures (retry delay), token refreshes and
 *   subscription changes;
 * - upload: hands local writes to the connector's upload callback whenever
 *   the queue is not empty (after each write, throttled), retries failures
 *   until it succeeds or the client disconnects, and then asks the service
 *   for a write checkpoint so that downloaded data applies again;
 * - credentials: fetches new credentials in the background when the
 *   service says that the token is about to expire.
 * By default each runs on a thread of the SDK. An application with its own
 * threads passes a spawn function and runs each task with
 * powersync_task_run() wherever it likes.
 *
 * Credentials are cached for the whole connection: the connector is asked
 * again only after a 401, after the service ended the stream for an
 * expired token, or for a prefetch before expiry. Tokens never appear in
 * the log.
 */
#ifndef POWERSYNC_SYNC_H
#define POWERSYNC_SYNC_H

#include "common.h"
#include "db.h"

POWERSYNC_BEGIN_DECL

/* ---- Connector ------------------------------------------------------------
 */

/** Where fetch_credentials puts its answer. */
typedef struct powersync_credentials powersync_credentials;

/**
 * Sets the answer of a fetch_credentials callback (both strings copied).
 * endpoint: an absolute http:// or https:// URL of the service (trailing
 * slashes are ignored); token: the JWT sent as "Authorization: Token ...".
 * @return POWERSYNC_OK, POWERSYNC_EINVAL (NULL or invalid arguments),
 *   POWERSYNC_ENOMEM.
 * Thread-safety: call only from the callback that received c.
 */
POWERSYNC_API int powersync_credentials_set(powersync_credentials *c,
                                            const char *endpoint,
                                            const char *token);

/**
 * Fetches fresh credentials (the SDK caches them; never return a cached
 * value from here). Return POWERSYNC_OK after powersync_credentials_set, or
 * POWERSYNC_OK without setting anything when no user is signed in (the
 * attempt fails with POWERSYNC_EAUTH and is retried after the retry delay),
 * or any non-zero value for a failure; powersync_callback_error() attaches
 * a message.
 * Callback thread: an SDK task (download, upload or credentials); at most
 * one call per connection runs at a time.
 */
typedef int (*powersync_fetch_credentials_cb)(void *user_data,
                                              powersync_credentials *out);

/**
 * Uploads local writes: read them with powersync_db_crud_batch() or
 * powersync_db_crud_next_transaction(), send them to the backend, and
 * complete them. Return 0 on success, non-zero on failure (retried after
 * the retry delay, forever, until it succeeds or the client disconnects).
 * Returning 0 without completing the head of the queue is treated as a
 * failure the second time, so a broken callback cannot spin.
 * Callback thread: the upload task; never concurrently with itself.
 */
typedef int (*powersync_upload_data_cb)(void *user_data, powersync_db *db);

/** Told that cached credentials were dropped (optional). Callback thread:
 * an SDK task. */
typedef void (*powersync_invalidate_credentials_cb)(void *user_data);

#define POWERSYNC_CONNECTOR_VERSION 1

/** The application's side of syncing. Copied by powersync_db_connect;
 * user_data must stay valid until powersync_db_disconnect returns. */
typedef struct powersync_connector {
  unsigned int version; /**< POWERSYNC_CONNECTOR_VERSION. */
  void *user_data;
  powersync_fetch_credentials_cb fetch_credentials; /**< Required. */
  powersync_upload_data_cb upload_data; /**< NULL: local writes stay queued. */
  powersync_invalidate_credentials_cb invalidate_credentials; /**< Optional. */
} powersync_connector;

/**
 * Attaches message (copied) to the failure a callback is about to return;
 * it then appears in the sync status and the log. Thread-safety: any
 * thread; affects the calling thread only.
 */
POWERSYNC_API void powersync_callback_error(const char *message);

/* ---- HTTP transport -------------------------------------------------------
 */

/** One request header. */
typedef struct powersync_http_header {
  const char *name;
  const char *value;
} powersync_http_header;

/** A request; every pointer is borrowed for the duration of open(). */
typedef struct powersync_http_request {
  const char *method; /**< "GET" or "POST". */
  const char *url;
  const powersync_http_header *headers;
  size_t header_count;
  const void *body; /**< NULL for none. */
  size_t body_size;
  int connect_timeout_ms; /**< 0: the transport's default. */
  int read_timeout_ms;    /**< Fail (POWERSYNC_ETIMEOUT) when no byte arrives
                             for this long; 0: never. */
  int accept_gzip;        /**< Ask for and transparently decode gzip. */
} powersync_http_request;

/** The response head. */
typedef struct powersync_http_response {
  int status;             /**< HTTP status code. */
  char content_type[128]; /**< Content-Type, truncated; "" when absent. */
} powersync_http_response;

#define POWERSYNC_HTTP_TRANSPORT_VERSION 1

/**
 * A pluggable HTTP client. Each request is a stream object driven by one
 * task thread: open, response, read until end, close. wake() is the only
 * function called from other threads.
 *
 * Blocking calls (response, read) return POWERSYNC_EINTR promptly when
 * wake() is called while they block, or was called since the previous
 * blocking call returned; the caller then decides whether to continue
 * (calling again resumes the same request) or to close. Errors:
 * POWERSYNC_ENETWORK (connection failed or broke, truncated body),
 * POWERSYNC_ETIMEOUT (read timeout), POWERSYNC_ENOMEM; set a message with
 * powersync_callback_error().
 */
typedef struct powersync_http_transport {
  unsigned int version; /**< POWERSYNC_HTTP_TRANSPORT_VERSION. */
  void *user_data;
  /** Starts req (copying what it needs) and returns its stream object. */
  int (*open)(void *user_data, const powersync_http_request *req,
              void **stream_out);
  /** Blocks until the response head has arrived. */
  int (*response)(void *stream, powersync_http_response *out);
  /** Blocks until body bytes are available and copies up to cap of them;
   * *n_out == 0 with POWERSYNC_OK means the body ended cleanly. The
   * transport must not read far ahead: data it holds is bounded (by its
   * buffer size), which is how a slow consumer slows the server down. */
  int (*read)(void *stream, void *buf, size_t cap, size_t *n_out);
  /** Makes the current or next blocking call on stream return
   * POWERSYNC_EINTR. Safe from any thread until close() is called. */
  void (*wake)(void *stream);
  /** Aborts the request if unfinished and frees stream. */
  void (*close)(void *stream);
} powersync_http_transport;

/**
 * The default transport, built on libcurl (HTTP/1.1 and HTTP/2, TLS with the
 * system's CA store, gzip). user_data is unused.
 * Thread-safety: reentrant; the result may be copied freely.
 */
POWERSYNC_API int powersync_http_transport_curl(powersync_http_transport *out);

/* ---- Tasks ----------------------------------------------------------------
 */

/** A long-lived task of the sync client (download, upload or credentials). */
typedef struct powersync_task powersync_task;

/**
 * Runs task on the calling thread until the client disconnects, then frees
 * it. Thread-safety: once per task, on any thread the application chooses.
 */
POWERSYNC_API void powersync_task_run(powersync_task *task);

/** "download", "upload" or "credentials" (static). */
POWERSYNC_API const char *powersync_task_name(const powersync_task *task);

/**
 * Hands a task to the application, which must run it with
 * powersync_task_run() soon, on a thread where blocking is fine (the tasks
 * block on the network and on the database). Return 0 when accepted; a
 * non-zero value makes powersync_db_connect fail (tasks already accepted
 * then end at once). powersync_db_disconnect waits until every accepted
 * task has been run to its end.
 * Callback thread: the thread calling powersync_db_connect.
 */
typedef int (*powersync_spawn_cb)(void *user_data, powersync_task *task);

/* ---- Connect and disconnect -----------------------------------------------
 */

typedef enum powersync_sync_format {
  POWERSYNC_SYNC_FORMAT_BSON = 0,  /**< Ask for BSON, accept NDJSON too. */
  POWERSYNC_SYNC_FORMAT_NDJSON = 1 /**< Ask for NDJSON only. */
} powersync_sync_format;

#define POWERSYNC_CONNECT_OPTIONS_VERSION 1

/** Options of powersync_db_connect. Initialise with
 * POWERSYNC_CONNECT_OPTIONS_INIT; members are only ever appended. */
typedef struct powersync_connect_options {
  unsigned int version;          /**< POWERSYNC_CONNECT_OPTIONS_VERSION. */
  const char *params_json;       /**< Connection parameters: a JSON object,
                                    or NULL for {}. */
  const char *app_metadata_json; /**< A JSON object of strings, or NULL. */
  int include_default_streams;   /**< Default 1. */
  int retry_delay_ms;     /**< Default 5000 (with +-10 % jitter); values below
                             50 count as 50. */
  int upload_throttle_ms; /**< Default 1000. */
  int read_timeout_ms;    /**< Silent-connection timeout; default 60000. */
  powersync_sync_format format;              /**< Default BSON. */
  int accept_gzip;                           /**< Default 1. */
  const powersync_http_transport *transport; /**< NULL: libcurl. Copied;
                                                its user_data must outlive
                                                the connection. */
  powersync_spawn_cb spawn;                  /**< NULL: SDK threads. */
  void *spawn_user_data;
} powersync_connect_options;

#define POWERSYNC_CONNECT_OPTIONS_INIT                                         \
  {                                                                            \
    POWERSYNC_CONNECT_OPTIONS_VERSION, NULL, NULL, 1, 5000, 1000, 60000,       \
        POWERSYNC_SYNC_FORMAT_BSON, 1, NULL, NULL, NULL                        \
  }

/**
 * Starts syncing db with the service the connector names. A connection that
 * is already running is disconnected first. Returns once the tasks have
 * been started; wait with powersync_db_wait_for_first_sync() or a status
 * listener for progress.
 *
 * One client per database file: while connected, db holds an exclusive
 * lock on "<database file>-sync-lock" (released on disconnect, close, or
 * when the process dies), so another process, or another powersync_db of
 * this one, connecting the same file gets POWERSYNC_EBUSY instead of two
 * clients corrupting each other's downloads.
 * @return POWERSYNC_OK; POWERSYNC_EINVAL (NULL or invalid connector or
 *   options, params_json not an object); POWERSYNC_ECLOSED;
 *   POWERSYNC_EBUSY (another client syncs the same file);
 *   POWERSYNC_EUSER (spawn refused a task); POWERSYNC_ENOMEM.
 * Thread-safety: safe from any thread, but not from a connector, status or
 *   watch callback of db.
 */
POWERSYNC_API int powersync_db_connect(powersync_db *db,
                                       const powersync_connector *connector,
                                       const powersync_connect_options *opts);

/**
 * Stops syncing: aborts the open HTTP request, cancels retry delays, waits
 * for the tasks to end (including an upload callback in progress) and drops
 * the cached credentials. The status then reports neither connected nor
 * connecting; has_synced, last_synced_at and errors are kept. Idempotent.
 * powersync_db_close() disconnects too.
 * Thread-safety: as powersync_db_connect; not while the calling thread holds
 *   a lease of db (the tasks' final step needs the writer).
 */
POWERSYNC_API int powersync_db_disconnect(powersync_db *db);

/**
 * Disconnects, then deletes synced data, the upload queue (writes not yet
 * uploaded are LOST), stream subscriptions and the sync state; flags as
 * powersync_db_clear (POWERSYNC_CLEAR_LOCAL, POWERSYNC_CLEAR_SOFT).
 * Thread-safety: as powersync_db_connect.
 */
POWERSYNC_API int powersync_db_disconnect_and_clear(powersync_db *db,
                                                    unsigned int flags);

/* ---- Sync status ----------------------------------------------------------
 */

/** An immutable snapshot of the sync status. */
typedef struct powersync_sync_status powersync_sync_status;

/** Progress of a download, in operations. */
typedef struct powersync_sync_progress {
  int64_t total;      /**< Operations this checkpoint needs. */
  int64_t downloaded; /**< Of which received so far. */
} powersync_sync_progress;

/** Sync state of one priority (0 is the highest). */
typedef struct powersync_priority_status {
  int priority;
  int has_synced;
  int64_t last_synced_at_us; /**< Microseconds since the epoch; 0: never. */
} powersync_priority_status;

/** Status of one sync stream. Strings are borrowed from the snapshot. */
typedef struct powersync_stream_status {
  const char *name;
  const char *parameters_json; /**< "null" when none. */
  int priority;   /**< -1 when the core reports none (outside a sync). */
  int active;     /**< Acknowledged by the service in the last checkpoint. */
  int is_default; /**< Subscribed automatically by the service. */
  int has_explicit_subscription;
  int64_t expires_at_us; /**< 0: no expiry. */
  int has_synced;
  int64_t last_synced_at_us; /**< 0: never. */
  int has_progress;          /**< 1 while downloading. */
  powersync_sync_progress progress;
} powersync_stream_status;

/**
 * The current status (never NULL on success).
 * @return POWERSYNC_OK, POWERSYNC_EINVAL, POWERSYNC_ECLOSED, POWERSYNC_ENOMEM.
 * Ownership: release with powersync_sync_status_free().
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_sync_status(powersync_db *db,
                                           powersync_sync_status **out);
/** Accepts NULL. Thread-safety: any thread. */
POWERSYNC_API void powersync_sync_status_free(powersync_sync_status *s);

/* Getters: a snapshot may be read from several threads at once; NULL reads
 * as the default (0, NULL). */
POWERSYNC_API int
powersync_sync_status_connected(const powersync_sync_status *s);
POWERSYNC_API int
powersync_sync_status_connecting(const powersync_sync_status *s);
POWERSYNC_API int
powersync_sync_status_downloading(const powersync_sync_status *s);
POWERSYNC_API int
powersync_sync_status_uploading(const powersync_sync_status *s);
/** A full sync (every priority) completed at least once. */
POWERSYNC_API int
powersync_sync_status_has_synced(const powersync_sync_status *s);
/** Of the last full sync, microseconds since the epoch; 0: never. */
POWERSYNC_API int64_t
powersync_sync_status_last_synced_at_us(const powersync_sync_status *s);
/** The last download or upload failure, cleared when the next sync or upload
 * succeeds; NULL when none. Borrowed from the snapshot. */
POWERSYNC_API const char *
powersync_sync_status_download_error(const powersync_sync_status *s);
POWERSYNC_API const char *
powersync_sync_status_upload_error(const powersync_sync_status *s);

/**
 * Download progress over buckets with priority <= priority (negative: all).
 * @return 1 while downloading (out filled), 0 otherwise (out zeroed).
 */
POWERSYNC_API int powersync_sync_status_progress(const powersync_sync_status *s,
                                                 int priority,
                                                 powersync_sync_progress *out);

/** Entries per priority, ordered from the highest priority (0) down. */
POWERSYNC_API size_t
powersync_sync_status_priority_count(const powersync_sync_status *s);
POWERSYNC_API powersync_priority_status
powersync_sync_status_priority_at(const powersync_sync_status *s, size_t i);
/** The state that data of the given priority is in: the first entry whose
 * priority is >= priority, else {priority, 0, 0}. */
POWERSYNC_API powersync_priority_status powersync_sync_status_for_priority(
    const powersync_sync_status *s, int priority);

POWERSYNC_API size_t
powersync_sync_status_stream_count(const powersync_sync_status *s);
/** NULL when out of range. Borrowed from the snapshot. */
POWERSYNC_API const powersync_stream_status *
powersync_sync_status_stream_at(const powersync_sync_status *s, size_t i);
/** The stream with this name and parameters (a JSON object, or NULL for
 * none; compared after normalising key order), or NULL. */
POWERSYNC_API const powersync_stream_status *
powersync_sync_status_for_stream(const powersync_sync_status *s,
                                 const char *name, const char *params_json);

/** The whole snapshot as one JSON object (for logs and tools). Borrowed. */
POWERSYNC_API const char *
powersync_sync_status_json(const powersync_sync_status *s);

/** Called with each new status (and first with the current one).
 * Callback thread: where db's callbacks run (db.h dispatch mode), one at a
 * time; slow listeners may skip intermediate snapshots but always see the
 * latest. The snapshot is borrowed for the call; keep it with
 * powersync_sync_status_ref(). */
typedef void (*powersync_status_cb)(const powersync_sync_status *status,
                                    void *user_data);

/** Takes a reference: the caller releases it with
 * powersync_sync_status_free(). Returns s. Thread-safety: any thread. */
POWERSYNC_API powersync_sync_status *
powersync_sync_status_ref(const powersync_sync_status *s);

typedef struct powersync_status_listener powersync_status_listener;

/**
 * Registers cb. Ownership: remove with powersync_status_listener_remove()
 * before closing db. Thread-safety: safe from any thread.
 */
POWERSYNC_API int
powersync_db_add_status_listener(powersync_db *db, powersync_status_cb cb,
                                 void *user_data,
                                 powersync_status_listener **out);
/** After this returns cb is not running and will not run (unless called
 * from cb itself, which is allowed). Accepts NULL. */
POWERSYNC_API void
powersync_status_listener_remove(powersync_status_listener *listener);

/** Returns non-zero when the wait is over. Callback thread: the waiting
 * thread. */
typedef int (*powersync_status_predicate)(const powersync_sync_status *status,
                                          void *user_data);

/**
 * Blocks until pred holds for the current or a later status.
 * @param timeout_ms negative: forever.
 * @return POWERSYNC_OK, POWERSYNC_ETIMEOUT, POWERSYNC_ECLOSED,
 *   POWERSYNC_EINVAL. Thread-safety: any thread but a callback thread of db.
 */
POWERSYNC_API int powersync_db_wait_for_status(powersync_db *db,
                                               powersync_status_predicate pred,
                                               void *user_data, int timeout_ms);

/** Waits until data of the given priority (negative: a full sync) has
 * synced at least once. Returns as powersync_db_wait_for_status. */
POWERSYNC_API int powersync_db_wait_for_first_sync(powersync_db *db,
                                                   int priority,
                                                   int timeout_ms);

/* ---- Sync streams ---------------------------------------------------------
 */

typedef struct powersync_stream_subscription powersync_stream_subscription;

/**
 * Subscribes to the stream name with parameters params_json (a JSON object,
 * or NULL). The subscription is stored in the database (it survives
 * restarts) until ttl_s seconds after the last handle was released (<= 0:
 * the default, one day); priority overrides the stream's priority
 * (negative: none). While connected, the service is asked for the stream
 * at once (the connection is renewed without a visible disconnect).
 * @return POWERSYNC_OK, POWERSYNC_EINVAL, POWERSYNC_ECLOSED, an SQLite code.
 * Ownership: release the handle with powersync_stream_unsubscribe().
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int powersync_db_subscribe_stream(
    powersync_db *db, const char *name, const char *params_json, int64_t ttl_s,
    int priority, powersync_stream_subscription **out);

/** Waits until the stream has synced at least once; as
 * powersync_db_wait_for_status. */
POWERSYNC_API int
powersync_stream_wait_for_first_sync(powersync_stream_subscription *sub,
                                     int timeout_ms);

/** Releases the handle; the stream stays requested while other handles of
 * the same name and parameters exist. Accepts NULL. Must be called before
 * closing db. Thread-safety: any thread, once per handle. */
POWERSYNC_API void
powersync_stream_unsubscribe(powersync_stream_subscription *sub);

/** Removes the stored subscription of name and parameters regardless of
 * handles and TTL. Thread-safety: safe from any thread. */
POWERSYNC_API int powersync_db_unsubscribe_stream_all(powersync_db *db,
                                                      const char *name,
                                                      const char *params_json);

POWERSYNC_END_DECL

#endif
