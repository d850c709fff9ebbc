/*
 * sync_internal.h: how the parts of the sync client talk to each other.
 *
 *   sync_status.c   the status hub: the core's status JSON plus the SDK's
 *                   own fields, immutable snapshots, listeners, waits.
 *   sync_streams.c  stream subscriptions: persisted through the core,
 *                   reference-counted handles, the active set.
 *   sync_client.c   connect/disconnect, tasks, the credentials cache.
 *   sync_download.c one download iteration and the loop around it.
 *   sync_upload.c   the upload loop and the write-checkpoint steps.
 *   http.c          endpoint URLs, request headers, small JSON requests.
 *   http_curl.c     the libcurl transport.
 *
 * Every database owns one status hub and one stream registry for its whole
 * life (created by powersync_db_open, freed by powersync_db_close after the
 * client is disconnected), so status and subscriptions work offline too.
 */
#ifndef PS_SDK_SYNC_INTERNAL_H
#define PS_SDK_SYNC_INTERNAL_H

#include <pthread.h>

#include "sdk_internal.h"

/* --- Status hub (sync_status.c) ---------------------------------------------
 */

struct ps__status_hub;

/* dispatcher: where listeners run (borrowed; outlives the hub's use of it,
 * see ps__status_hub_close). */
struct ps__status_hub *ps__status_hub_new(struct ps__dispatcher *dispatcher);
/* Wakes waiters (they return POWERSYNC_ECLOSED) and stops notifying; called
 * by powersync_db_close before the dispatcher is freed. */
void ps__status_hub_close(struct ps__status_hub *hub);
void ps__status_hub_free(struct ps__status_hub *hub);

/* Each setter publishes a new snapshot when the status changed: listeners
 * are notified through the dispatcher and waiters re-check. Thread-safe. */

/* Replaces the core part with a status object as the core writes it
 * (UpdateSyncStatus's "status", powersync_offline_sync_status()). Returns
 * POWERSYNC_EPROTOCOL for JSON it cannot read (nothing changes then). */
int ps__status_set_core(struct ps__status_hub *hub, const char *json,
                        size_t len);
/* connected = connecting = false and no download in progress; the rest of
 * the core part is kept. */
void ps__status_set_disconnected(struct ps__status_hub *hub);
void ps__status_set_uploading(struct ps__status_hub *hub, int uploading);
/* msg NULL clears. Copied. */
void ps__status_set_download_error(struct ps__status_hub *hub, const char *msg);
void ps__status_set_upload_error(struct ps__status_hub *hub, const char *msg);
/* 1 while the core part says connected or connecting. */
int ps__status_is_connected(struct ps__status_hub *hub);

/* The current snapshot, referenced (release with powersync_sync_status_free);
 * NULL only when out of memory. */
powersync_sync_status *ps__status_current(struct ps__status_hub *hub);

/* Waits for pred like powersync_db_wait_for_status. */
int ps__status_wait(struct ps__status_hub *hub, powersync_status_predicate pred,
                    void *user_data, int timeout_ms);

/* The hub of db (db.c). */
struct ps__status_hub *ps__db_status_hub(powersync_db *db);

/* Reads powersync_offline_sync_status() on a reader and installs it as the
 * core part (used at open, after clearing, after subscribing offline). */
int ps__status_refresh_offline(powersync_db *db);

/* --- Stream registry (sync_streams.c) ---------------------------------------
 */

struct ps__streams;

struct ps__streams *ps__streams_new(void);
void ps__streams_free(struct ps__streams *reg);
/* The registry of db (db.c). */
struct ps__streams *ps__db_streams(powersync_db *db);

/* The locally active subscriptions as the core wants them in "start"'s
 * active_streams and in update_subscriptions: [{"name":..,"params":..}]
 * (params null or an object). Caller frees with free(); NULL when out of
 * memory. */
char *ps__streams_active_json(struct ps__streams *reg);

/* Writes params_json (NULL, "null" or a JSON object) with object keys
 * sorted, recursively, so that equal parameters compare equal as text.
 * Returns POWERSYNC_OK, POWERSYNC_EINVAL (not an object), POWERSYNC_ENOMEM.
 * *out: "null" or the object; caller frees. */
int ps__json_normalize_params(const char *params_json, char **out);

/* --- Sync client (sync_client.c) --------------------------------------------
 */

struct ps__sync_client;

/* Tells a running connection that the set of active subscriptions changed
 * (the download iteration sends update_subscriptions). No-op while
 * disconnected. */
void ps__sync_subscriptions_changed(powersync_db *db);

/* Disconnects and frees the client of db, if any (powersync_db_close). */
void ps__sync_shutdown(powersync_db *db);

/* A copy of the schema JSON last applied through db (for "start"), or NULL
 * when db was opened without a schema. Caller frees with free(). */
char *ps__db_schema_json(powersync_db *db);

/* Where db keeps its client (db.c owns the memory; sync_client.c manages
 * the contents). client is written with both db's connect mutex and
 * event_mu held, so either suffices to read it: connect, disconnect, clear
 * and close use the connect mutex; ps__sync_subscriptions_changed uses only
 * event_mu, because it may run on a task that disconnect waits for. */
struct ps__sync_slot {
  pthread_mutex_t event_mu;
  struct ps__sync_client *client;
  int closed; /* powersync_db_close began (connect mutex): connect fails. */
};
struct ps__sync_slot *ps__db_sync_slot(powersync_db *db);
/* The database's file name as SQLite resolved it ("" for in-memory and
 * temporary databases). Borrowed; lives as long as db. */
const char *ps__db_file_name(powersync_db *db);

/* --- Sync lock (sync_lock.c) ------------------------------------------------
 */

/* Takes the cross-process sync lock of db_file: *fd_out gets its
 * descriptor, or -1 when no lock applies (no file name, or the lock file
 * cannot be created). POWERSYNC_EBUSY when another client holds it. */
int ps__sync_file_lock(const char *db_file, int *fd_out);
/* Releases a lock from ps__sync_file_lock (-1: nothing). */
void ps__sync_file_unlock(int fd);
pthread_mutex_t *ps__db_connect_mutex(powersync_db *db);

/* --- HTTP helpers (http.c) --------------------------------------------------
 */

/* Validates endpoint (absolute http/https URL with a host) and returns it
 * joined with path (which starts with '/'), trailing slashes of endpoint
 * removed. NULL with the thread's error set (POWERSYNC_EINVAL) when
 * invalid. Caller frees. */
char *ps__http_join(const char *endpoint, const char *path);

/* "powersync-c/<version> <os>/<release>" (static storage). */
const char *ps__http_user_agent(void);

/* Cancellation of blocking HTTP calls from another thread: the task
 * attaches the stream it blocks on; ps__cancel_fire marks the token and
 * wakes that stream, and later attaches fail at once. */
struct ps__cancel {
  pthread_mutex_t mu;
  int cancelled;
  const powersync_http_transport *transport;
  void *stream; /* The attached request, or NULL. */
};
void ps__cancel_init(struct ps__cancel *c);
void ps__cancel_destroy(struct ps__cancel *c);
/* Returns POWERSYNC_EINTR (and attaches nothing) once fired. */
int ps__cancel_attach(struct ps__cancel *c, const powersync_http_transport *t,
                      void *stream);
void ps__cancel_detach(struct ps__cancel *c);
void ps__cancel_fire(struct ps__cancel *c);
int ps__cancel_fired(struct ps__cancel *c);

/* After a transport call failed with rc: sets the thread's error to the
 * message the transport attached with powersync_callback_error (reset it
 * before the call with ps__callback_error_reset), else to a generic one
 * naming req's method and host (never its headers). Returns rc. */
int ps__http_transport_failed(int rc, const powersync_http_request *req);

/* A whole request whose response body is small (write checkpoints): opens,
 * waits for the head, reads at most max_body bytes (more is
 * POWERSYNC_EPROTOCOL). *body_out is NUL-terminated (caller frees) for any
 * status. cancel (may be NULL) aborts it with POWERSYNC_EINTR. */
int ps__http_fetch(const powersync_http_transport *t,
                   const powersync_http_request *req, size_t max_body,
                   struct ps__cancel *cancel, int *status_out, char **body_out);

#endif
