/*
 * sync_client.c: connect and disconnect, the tasks, the credentials cache
 * and the events other parts of the SDK hand to a running connection.
 *
 * A connection is one ps__sync_client with three tasks (download, upload,
 * credentials). Disconnecting sets `stopping`, fires the cancellation
 * tokens (which wake a blocked HTTP call at once) and waits until every
 * accepted task has ended, so no callback of the connector runs after
 * powersync_db_disconnect returns. The database's connect mutex serialises
 * connect, disconnect, clear and close.
 *
 * Credentials (sdk.md 7): one cached value per connection. Callers that
 * find a fetch in flight wait for it instead of calling the connector
 * again, so the connector never runs twice at once. A 401 or an expired
 * token drops the cache; a prefetch (token about to expire) replaces it and
 * then tells the download iteration "refreshed_token", which renews the
 * stream without a visible disconnect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "sync_client.h"
#include "util/arena.h"

struct powersync_credentials {
  char *endpoint;
  char *token;
  char error[256]; /* Why powersync_credentials_set refused, if it did. */
};

/* Retries never come faster than this, so a service or callback that fails
 * at once cannot make the client spin. */
#define PS_MIN_RETRY_DELAY_MS 50

enum ps__task_kind { PS_TASK_DOWNLOAD, PS_TASK_UPLOAD, PS_TASK_CREDENTIALS };

struct powersync_task {
  struct ps__sync_client *client;
  enum ps__task_kind kind;
};

/* Threads of the default spawner, joined by disconnect. */
struct ps__default_threads {
  pthread_t threads[3];
  int count;
};

static struct ps__default_threads *
default_threads_of(struct ps__sync_client *c);

/* --- Small helpers ----------------------------------------------------------
 */

void ps__sync_lock(struct ps__sync_client *c) { pthread_mutex_lock(&c->mu); }

void ps__sync_unlock(struct ps__sync_client *c) {
  pthread_mutex_unlock(&c->mu);
}

int ps__sync_stopping(struct ps__sync_client *c) {
  int stopping;
  ps__sync_lock(c);
  stopping = c->stopping;
  ps__sync_unlock(c);
  return stopping;
}

void ps__sync_wait_locked(struct ps__sync_client *c, int64_t ms) {
  struct timespec ts;
  if (ms < 0) {
    pthread_cond_wait(&c->cv, &c->mu);
    return;
  }
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += (time_t)(ms / 1000);
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_cond_timedwait(&c->cv, &c->mu, &ts);
}

int ps__sync_retry_wait(struct ps__sync_client *c) {
  /* +-10 % jitter (as the JS SDK) spreads the reconnects of many clients
   * after a service restart. */
  static _Thread_local unsigned int seed;
  int64_t delay = c->retry_delay_ms, deadline;
  int stopping;
  if (seed == 0)
    seed = (unsigned int)ps__now_ms() ^ (unsigned int)(uintptr_t)&seed;
  if (delay >= 10)
    delay += (int64_t)(rand_r(&seed) % (delay / 5 + 1)) - delay / 10;
  deadline = ps__now_ms() + delay;
  ps__sync_lock(c);
  while (!c->stopping && ps__now_ms() < deadline)
    ps__sync_wait_locked(c, deadline - ps__now_ms());
  stopping = c->stopping;
  ps__sync_unlock(c);
  return stopping;
}

/* Overwrites a secret before freeing it, so a token does not linger in
 * freed heap memory. */
static void free_secret(char *s) {
  if (s) {
    volatile char *p = s;
    while (*p)
      *p++ = '\0';
    free(s);
  }
}

/* --- Credentials ------------------------------------------------------------
 */

/* Records why the answer was refused, so that the failure reported is that
 * reason even when the connector ignores the code and returns OK. */
static int credentials_refused(powersync_credentials *c, int rc) {
  snprintf(c->error, sizeof(c->error), "%s", powersync_error_last()->message);
  return rc;
}

int powersync_credentials_set(powersync_credentials *c, const char *endpoint,
                              const char *token) {
  char *url, *ep, *tok;
  if (!c)
    return ps__error_set(POWERSYNC_EINVAL, "credentials: NULL argument");
  if (!endpoint || !token)
    return credentials_refused(
        c, ps__error_set(POWERSYNC_EINVAL, "credentials: NULL argument"));
  if (!*token)
    return credentials_refused(
        c, ps__error_set(POWERSYNC_EINVAL, "credentials: empty token"));
  url = ps__http_join(endpoint, "/");
  if (!url)
    return credentials_refused(c, powersync_error_last()->code);
  free(url);
  ep = strdup(endpoint);
  tok = strdup(token);
  if (!ep || !tok) {
    free(ep);
    free_secret(tok);
    return credentials_refused(
        c, ps__error_set(POWERSYNC_ENOMEM, "out of memory"));
  }
  free(c->endpoint);
  free_secret(c->token);
  c->endpoint = ep;
  c->token = tok;
  return POWERSYNC_OK;
}

/* Calls the connector (no lock held). */
static int fetch_from_connector(struct ps__sync_client *c, char **endpoint,
                                char **token) {
  powersync_credentials creds;
  char message[512];
  int rc;
  memset(&creds, 0, sizeof(creds));
  ps__callback_error_reset();
  rc = c->connector.fetch_credentials(c->connector.user_data, &creds);
  if (rc == POWERSYNC_OK && creds.error[0]) {
    free(creds.endpoint);
    free_secret(creds.token);
    return ps__error_set(POWERSYNC_EINVAL, "fetch_credentials: %s",
                         creds.error);
  }
  if (rc != POWERSYNC_OK) {
    if (!ps__callback_error_take(message, sizeof(message))) {
      if (creds.error[0])
        snprintf(message, sizeof(message), "%s", creds.error);
      else
        snprintf(message, sizeof(message), "returned %d", rc);
    }
    free(creds.endpoint);
    free_secret(creds.token);
    return ps__error_set(POWERSYNC_EUSER, "fetch_credentials failed: %s",
                         message);
  }
  if (!creds.endpoint || !creds.token)
    return ps__error_set(POWERSYNC_EAUTH,
                         "not signed in: fetch_credentials returned no "
                         "credentials");
  *endpoint = creds.endpoint;
  *token = creds.token;
  return POWERSYNC_OK;
}

/* Stores fresh credentials in the cache (mu held). */
static void store_credentials_locked(struct ps__sync_client *c,
                                     const char *endpoint, const char *token) {
  char *ep = strdup(endpoint), *tok = strdup(token);
  if (!ep || !tok) {
    free(ep);
    free_secret(tok);
    return; /* Not cached: the next attempt fetches again. */
  }
  free(c->endpoint);
  free_secret(c->token);
  c->endpoint = ep;
  c->token = tok;
  c->have_credentials = 1;
}

int ps__sync_credentials(struct ps__sync_client *c, char **endpoint,
                         char **token) {
  char *ep = NULL, *tok = NULL;
  int rc;
  *endpoint = *token = NULL;
  ps__sync_lock(c);
  while (!c->have_credentials && c->fetching_credentials && !c->stopping)
    ps__sync_wait_locked(c, -1);
  if (c->stopping) {
    ps__sync_unlock(c);
    return ps__error_set(POWERSYNC_EINTR, "disconnecting");
  }
  if (c->have_credentials) {
    ep = strdup(c->endpoint);
    tok = strdup(c->token);
    ps__sync_unlock(c);
    if (!ep || !tok) {
      free(ep);
      free_secret(tok);
      return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
    }
    *endpoint = ep;
    *token = tok;
    return POWERSYNC_OK;
  }
  c->fetching_credentials = 1;
  ps__sync_unlock(c);

  rc = fetch_from_connector(c, &ep, &tok);

  ps__sync_lock(c);
  c->fetching_credentials = 0;
  if (rc == POWERSYNC_OK)
    store_credentials_locked(c, ep, tok);
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
  if (rc == POWERSYNC_OK) {
    *endpoint = ep;
    *token = tok;
  }
  return rc;
}

void ps__sync_invalidate_credentials(struct ps__sync_client *c) {
  int had;
  ps__sync_lock(c);
  had = c->have_credentials;
  c->have_credentials = 0;
  free(c->endpoint);
  free_secret(c->token);
  c->endpoint = c->token = NULL;
  ps__sync_unlock(c);
  ps__log(POWERSYNC_LOG_DEBUG, "sync", "credentials invalidated");
  if (had && c->connector.invalidate_credentials)
    c->connector.invalidate_credentials(c->connector.user_data);
}

void ps__sync_request_prefetch(struct ps__sync_client *c) {
  ps__sync_lock(c);
  c->prefetch_requested = 1;
  c->prefetch_gen = c->iteration_gen;
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
}

/* Tells the iteration that asked for a prefetch that new credentials are
 * cached (mu held). A later iteration already connected with them. */
static void announce_refresh_locked(struct ps__sync_client *c,
                                    unsigned int gen) {
  if (!c->iteration_active || c->iteration_gen != gen)
    return;
  c->events |= PS_EVENT_REFRESHED_TOKEN;
  if (c->download_stream)
    c->transport.wake(c->download_stream);
}

/* The credentials task: serves prefetch requests until disconnect. A fetch
 * already in flight (another task found the cache empty) is shared rather
 * than repeated. A failed prefetch is only a warning: the old token works
 * until it expires, and expiry then takes the invalidate path. */
static void credentials_task(struct ps__sync_client *c) {
  ps__sync_lock(c);
  for (;;) {
    char *ep = NULL, *tok = NULL;
    unsigned int gen;
    int rc;
    while (!c->stopping && !c->prefetch_requested)
      ps__sync_wait_locked(c, -1);
    if (c->stopping)
      break;
    c->prefetch_requested = 0;
    gen = c->prefetch_gen;
    if (c->fetching_credentials) {
      while (c->fetching_credentials && !c->stopping)
        ps__sync_wait_locked(c, -1);
      if (c->stopping)
        break;
      if (c->have_credentials) {
        announce_refresh_locked(c, gen);
        continue;
      }
    }
    c->fetching_credentials = 1;
    ps__sync_unlock(c);
    ps__log(POWERSYNC_LOG_DEBUG, "sync", "prefetching credentials");
    rc = fetch_from_connector(c, &ep, &tok);
    if (rc != POWERSYNC_OK)
      ps__log(POWERSYNC_LOG_WARN, "sync", "could not prefetch credentials: %s",
              powersync_error_last()->message);
    ps__sync_lock(c);
    c->fetching_credentials = 0;
    pthread_cond_broadcast(&c->cv);
    if (rc == POWERSYNC_OK) {
      store_credentials_locked(c, ep, tok);
      free(ep);
      free_secret(tok);
      announce_refresh_locked(c, gen);
    }
  }
  ps__sync_unlock(c);
}

/* --- Events -----------------------------------------------------------------
 */

void ps__sync_post_event(struct ps__sync_client *c, unsigned int event) {
  ps__sync_lock(c);
  if (c->iteration_active) {
    c->events |= event;
    /* download_stream is cleared under mu before the stream is closed, so
     * waking it here cannot touch a closed stream. */
    if (c->download_stream)
      c->transport.wake(c->download_stream);
  }
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
}

void ps__sync_request_upload(struct ps__sync_client *c) {
  ps__sync_lock(c);
  c->upload_requested = 1;
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
}

/* Local writes land in ps_crud: each commit that touched it asks for an
 * upload round (the upload task throttles them). */
static void on_tables_changed(const char *const *tables, size_t count,
                              void *user_data) {
  size_t i;
  for (i = 0; i < count; i++) {
    if (strcmp(tables[i], "ps_crud") == 0) {
      ps__sync_request_upload(user_data);
      return;
    }
  }
}

void ps__sync_subscriptions_changed(powersync_db *db) {
  struct ps__sync_slot *slot = ps__db_sync_slot(db);
  pthread_mutex_lock(&slot->event_mu);
  if (slot->client)
    ps__sync_post_event(slot->client, PS_EVENT_SUBSCRIPTIONS);
  pthread_mutex_unlock(&slot->event_mu);
}

/* --- powersync_control ------------------------------------------------------
 */

static int control_in_tx(sqlite3 *conn, const char *op, const void *payload,
                         size_t payload_len, int is_blob, char **result) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, "SELECT powersync_control(?1, ?2)", -1,
                              &stmt, NULL);
  if (rc != SQLITE_OK)
    return ps__error_sqlite(conn, rc);
  sqlite3_bind_text(stmt, 1, op, -1, SQLITE_STATIC);
  if (is_blob)
    sqlite3_bind_blob64(stmt, 2, payload, payload_len, SQLITE_STATIC);
  else if (payload)
    sqlite3_bind_text64(stmt, 2, payload, payload_len, SQLITE_STATIC,
                        SQLITE_UTF8);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char *text = sqlite3_column_text(stmt, 0);
    if (text) {
      *result = strdup((const char *)text);
      if (!*result) {
        sqlite3_finalize(stmt);
        return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
      }
    }
    rc = sqlite3_step(stmt);
  }
  if (rc != SQLITE_DONE) {
    rc = ps__error_sqlite(conn, rc);
    sqlite3_finalize(stmt);
    free(*result);
    *result = NULL;
    return rc;
  }
  sqlite3_finalize(stmt);
  return POWERSYNC_OK;
}

int ps__sync_control(powersync_db *db, const char *op, const void *payload,
                     size_t payload_len, int is_blob, char **result) {
  powersync_lease *lease = NULL;
  sqlite3 *conn;
  int rc;
  *result = NULL;
  rc = powersync_db_lease_write(db, -1, &lease);
  if (rc != POWERSYNC_OK)
    return rc;
  conn = powersync_lease_sqlite(lease);
  rc = sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    rc = ps__error_sqlite(conn, rc);
  } else {
    rc = control_in_tx(conn, op, payload, payload_len, is_blob, result);
    if (rc == POWERSYNC_OK) {
      int crc = sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL);
      if (crc != SQLITE_OK) {
        rc = ps__error_sqlite(conn, crc);
        free(*result);
        *result = NULL;
      }
    }
    if (rc != POWERSYNC_OK && !sqlite3_get_autocommit(conn)) {
      /* Keep the core's message, not ROLLBACK's. */
      powersync_error saved = *powersync_error_last();
      char message[512];
      snprintf(message, sizeof(message), "%s", saved.message);
      sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
      ps__error_set(saved.code, "%s", message);
    }
  }
  powersync_lease_release(lease);
  return rc;
}

/* --- Tasks ------------------------------------------------------------------
 */

const char *powersync_task_name(const powersync_task *task) {
  if (!task)
    return "";
  switch (task->kind) {
  case PS_TASK_DOWNLOAD:
    return "download";
  case PS_TASK_UPLOAD:
    return "upload";
  case PS_TASK_CREDENTIALS:
    return "credentials";
  }
  return "";
}

void powersync_task_run(powersync_task *task) {
  struct ps__sync_client *c;
  if (!task)
    return;
  c = task->client;
  if (!ps__sync_stopping(c)) {
    switch (task->kind) {
    case PS_TASK_DOWNLOAD:
      ps__sync_download_task(c);
      break;
    case PS_TASK_UPLOAD:
      ps__sync_upload_task(c);
      break;
    case PS_TASK_CREDENTIALS:
      credentials_task(c);
      break;
    }
  }
  free(task);
  ps__sync_lock(c);
  c->tasks_running--;
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
}

static void *default_thread_main(void *arg) {
  powersync_task_run(arg);
  return NULL;
}

static int default_spawn(void *user_data, powersync_task *task) {
  struct ps__default_threads *t = user_data;
  if (t->count >= 3 || pthread_create(&t->threads[t->count], NULL,
                                      default_thread_main, task) != 0)
    return -1;
  t->count++;
  return 0;
}

/* Creates and hands out one task; counts it as running once accepted. */
static int spawn_task(struct ps__sync_client *c, enum ps__task_kind kind,
                      powersync_spawn_cb spawn, void *spawn_user_data) {
  powersync_task *task = calloc(1, sizeof(*task));
  if (!task)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  task->client = c;
  task->kind = kind;
  ps__sync_lock(c);
  c->tasks_running++;
  ps__sync_unlock(c);
  if (spawn(spawn_user_data, task) != 0) {
    ps__sync_lock(c);
    c->tasks_running--;
    ps__sync_unlock(c);
    free(task);
    return ps__error_set(POWERSYNC_EUSER, "could not start the %s task",
                         kind == PS_TASK_DOWNLOAD ? "download"
                         : kind == PS_TASK_UPLOAD ? "upload"
                                                  : "credentials");
  }
  return POWERSYNC_OK;
}

/* --- Connect and disconnect -------------------------------------------------
 */

/* The client and its default threads live in one allocation. */
struct ps__client_block {
  struct ps__sync_client client;
  struct ps__default_threads threads;
};

static struct ps__default_threads *
default_threads_of(struct ps__sync_client *c) {
  return &((struct ps__client_block *)(void *)c)->threads;
}

static void client_free(struct ps__sync_client *c) {
  if (!c)
    return;
  ps__sync_file_unlock(c->lock_fd);
  ps__cancel_destroy(&c->download_cancel);
  ps__cancel_destroy(&c->upload_cancel);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c->params_json);
  free(c->app_metadata_json);
  free(c->endpoint);
  free_secret(c->token);
  free(c);
}

/* Validates a JSON object option; with strings_only every member must be a
 * string (app metadata). Returns a copy, or NULL for NULL input. */
static int copy_json_object(const char *json, const char *what,
                            int strings_only, char **out) {
  struct ps__arena arena;
  const struct ps__json_value *v;
  char *copy;
  int rc = POWERSYNC_OK;
  *out = NULL;
  if (!json)
    return POWERSYNC_OK;
  ps__arena_init(&arena, 0);
  v = ps__json_parse(&arena, json, strlen(json), NULL, 0);
  if (!v || v->type != PS_JSON_OBJECT) {
    rc = ps__error_set(POWERSYNC_EINVAL, "%s must be a JSON object", what);
  } else if (strings_only) {
    size_t i;
    for (i = 0; i < v->as.obj.count; i++) {
      if (v->as.obj.members[i].value->type != PS_JSON_STRING) {
        rc = ps__error_set(POWERSYNC_EINVAL,
                           "%s: the value of \"%s\" is not a string", what,
                           v->as.obj.members[i].key);
        break;
      }
    }
  }
  ps__arena_free(&arena);
  if (rc != POWERSYNC_OK)
    return rc;
  copy = strdup(json);
  if (!copy)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  *out = copy;
  return POWERSYNC_OK;
}

static int check_connector(const powersync_connector *connector) {
  if (!connector)
    return ps__error_set(POWERSYNC_EINVAL, "connector is NULL");
  if (connector->version < 1 ||
      connector->version > POWERSYNC_CONNECTOR_VERSION)
    return ps__error_set(POWERSYNC_EINVAL, "unknown connector version %u",
                         connector->version);
  if (!connector->fetch_credentials)
    return ps__error_set(POWERSYNC_EINVAL,
                         "connector has no fetch_credentials");
  return POWERSYNC_OK;
}

static int check_transport(const powersync_http_transport *t) {
  if (t->version < 1 || t->version > POWERSYNC_HTTP_TRANSPORT_VERSION ||
      !t->open || !t->response || !t->read || !t->wake || !t->close)
    return ps__error_set(POWERSYNC_EINVAL,
                         "the HTTP transport is incomplete or of an "
                         "unknown version");
  return POWERSYNC_OK;
}

static int client_new(powersync_db *db, const powersync_connector *connector,
                      const powersync_connect_options *o,
                      struct ps__sync_client **out) {
  struct ps__client_block *block = calloc(1, sizeof(*block));
  struct ps__sync_client *c;
  int rc;
  *out = NULL;
  if (!block)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  c = &block->client;
  c->db = db;
  c->lock_fd = -1;
  c->connector = *connector;
  if (o->transport)
    c->transport = *o->transport;
  else
    powersync_http_transport_curl(&c->transport);
  c->include_defaults = o->include_default_streams != 0;
  c->retry_delay_ms = o->retry_delay_ms < PS_MIN_RETRY_DELAY_MS
                          ? PS_MIN_RETRY_DELAY_MS
                          : o->retry_delay_ms;
  c->upload_throttle_ms = o->upload_throttle_ms;
  c->read_timeout_ms = o->read_timeout_ms;
  c->format = o->format;
  c->accept_gzip = o->accept_gzip != 0;
  pthread_mutex_init(&c->mu, NULL);
  {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &attr);
    pthread_condattr_destroy(&attr);
  }
  ps__cancel_init(&c->download_cancel);
  ps__cancel_init(&c->upload_cancel);
  rc = copy_json_object(o->params_json ? o->params_json : "{}", "params_json",
                        0, &c->params_json);
  if (rc == POWERSYNC_OK)
    rc = copy_json_object(o->app_metadata_json, "app_metadata_json", 1,
                          &c->app_metadata_json);
  if (rc == POWERSYNC_OK)
    rc = ps__sync_file_lock(ps__db_file_name(db), &c->lock_fd);
  if (rc != POWERSYNC_OK) {
    client_free(c);
    return rc;
  }
  *out = c;
  return POWERSYNC_OK;
}

static int check_options(const powersync_connect_options *o) {
  if (o->version < 1 || o->version > POWERSYNC_CONNECT_OPTIONS_VERSION)
    return ps__error_set(POWERSYNC_EINVAL, "unknown connect options version %u",
                         o->version);
  if (o->retry_delay_ms < 0 || o->upload_throttle_ms < 0 ||
      o->read_timeout_ms < 0)
    return ps__error_set(POWERSYNC_EINVAL,
                         "retry delay, upload throttle and read timeout "
                         "must not be negative");
  if (o->format != POWERSYNC_SYNC_FORMAT_BSON &&
      o->format != POWERSYNC_SYNC_FORMAT_NDJSON)
    return ps__error_set(POWERSYNC_EINVAL, "unknown sync format %d",
                         (int)o->format);
  if (o->transport)
    return check_transport(o->transport);
  return POWERSYNC_OK;
}

/* Stops c's tasks and frees it (connect mutex held). */
static void disconnect_locked(powersync_db *db) {
  struct ps__sync_slot *slot = ps__db_sync_slot(db);
  struct ps__sync_client *c = slot->client;
  struct ps__default_threads *threads;
  int i;
  if (!c)
    return;
  ps__log(POWERSYNC_LOG_INFO, "sync", "disconnecting");
  /* Unpublished first: a task that changes subscriptions while we wait
   * for it must not block on us (its event is moot anyway). */
  pthread_mutex_lock(&slot->event_mu);
  slot->client = NULL;
  pthread_mutex_unlock(&slot->event_mu);
  ps__sync_lock(c);
  c->stopping = 1;
  pthread_cond_broadcast(&c->cv);
  ps__sync_unlock(c);
  ps__cancel_fire(&c->download_cancel);
  ps__cancel_fire(&c->upload_cancel);
  ps__sync_lock(c);
  while (c->tasks_running > 0)
    ps__sync_wait_locked(c, -1);
  ps__sync_unlock(c);
  threads = default_threads_of(c);
  for (i = 0; i < threads->count; i++)
    pthread_join(threads->threads[i], NULL);
  if (c->crud_listener_added)
    ps__db_remove_change_listener(db, c->crud_listener_id);
  client_free(c);
  ps__status_set_disconnected(ps__db_status_hub(db));
}

int powersync_db_connect(powersync_db *db, const powersync_connector *connector,
                         const powersync_connect_options *opts) {
  static const powersync_connect_options defaults =
      POWERSYNC_CONNECT_OPTIONS_INIT;
  struct ps__sync_client *c = NULL;
  powersync_spawn_cb spawn;
  void *spawn_user_data;
  int rc;

  ps__error_reset();
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  if (!opts)
    opts = &defaults;
  rc = check_connector(connector);
  if (rc == POWERSYNC_OK)
    rc = check_options(opts);
  if (rc != POWERSYNC_OK)
    return rc;

  pthread_mutex_lock(ps__db_connect_mutex(db));
  if (ps__db_sync_slot(db)->closed) {
    pthread_mutex_unlock(ps__db_connect_mutex(db));
    return ps__error_set(POWERSYNC_ECLOSED, "the database is closing");
  }
  disconnect_locked(db);
  rc = client_new(db, connector, opts, &c);
  if (rc == POWERSYNC_OK)
    rc = ps__db_add_change_listener(db, on_tables_changed, NULL, c,
                                    &c->crud_listener_id);
  if (rc != POWERSYNC_OK) {
    client_free(c);
    pthread_mutex_unlock(ps__db_connect_mutex(db));
    return rc;
  }
  c->crud_listener_added = 1;
  c->upload_requested = 1; /* Writes made offline go out at once. */
  pthread_mutex_lock(&ps__db_sync_slot(db)->event_mu);
  ps__db_sync_slot(db)->client = c;
  pthread_mutex_unlock(&ps__db_sync_slot(db)->event_mu);

  spawn = opts->spawn ? opts->spawn : default_spawn;
  spawn_user_data = opts->spawn ? opts->spawn_user_data : default_threads_of(c);
  rc = spawn_task(c, PS_TASK_CREDENTIALS, spawn, spawn_user_data);
  if (rc == POWERSYNC_OK)
    rc = spawn_task(c, PS_TASK_UPLOAD, spawn, spawn_user_data);
  if (rc == POWERSYNC_OK)
    rc = spawn_task(c, PS_TASK_DOWNLOAD, spawn, spawn_user_data);
  if (rc != POWERSYNC_OK) {
    powersync_error saved = *powersync_error_last();
    char message[512];
    snprintf(message, sizeof(message), "%s", saved.message);
    disconnect_locked(db);
    pthread_mutex_unlock(ps__db_connect_mutex(db));
    return ps__error_set(saved.code, "%s", message);
  }
  pthread_mutex_unlock(ps__db_connect_mutex(db));
  ps__log(POWERSYNC_LOG_INFO, "sync", "connecting");
  return POWERSYNC_OK;
}

int powersync_db_disconnect(powersync_db *db) {
  ps__error_reset();
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  pthread_mutex_lock(ps__db_connect_mutex(db));
  disconnect_locked(db);
  pthread_mutex_unlock(ps__db_connect_mutex(db));
  return POWERSYNC_OK;
}

int powersync_db_disconnect_and_clear(powersync_db *db, unsigned int flags) {
  ps__error_reset();
  if (!db)
    return ps__error_set(POWERSYNC_EINVAL, "db is NULL");
  pthread_mutex_lock(ps__db_connect_mutex(db));
  disconnect_locked(db);
  pthread_mutex_unlock(ps__db_connect_mutex(db));
  /* A connect racing in between makes the clear fail with EBUSY rather
   * than clear under a running client. */
  return powersync_db_clear(db, flags);
}

void ps__sync_shutdown(powersync_db *db) {
  if (!db)
    return;
  pthread_mutex_lock(ps__db_connect_mutex(db));
  ps__db_sync_slot(db)->closed = 1;
  disconnect_locked(db);
  pthread_mutex_unlock(ps__db_connect_mutex(db));
}
