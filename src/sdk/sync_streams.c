/*
 * sync_streams.c: sync stream subscriptions (sync.h "Sync streams", sdk.md
 * section 13, core-sync.md section 16).
 *
 * Two things are kept apart:
 *
 * - The persisted subscription is the core's: a row of
 *   ps_stream_subscriptions written by powersync_control('subscriptions',
 *   ...) in a write transaction. Subscribing always writes it, even for a
 *   stream already held, because that refreshes its expiry.
 * - The held set is ours: a registry of (name, parameters) keys with a
 *   count of live handles. It is what the core is told in "start"'s
 *   active_streams and in update_subscriptions, so that held subscriptions
 *   keep having their expiry extended. Only a key appearing or disappearing
 *   changes that set, so only then is the running connection told
 *   (ps__sync_subscriptions_changed).
 *
 * Parameter identity is textual in the core ({"a":1,"b":2} and
 * {"b":2,"a":1} would be two subscriptions), so parameters are normalised
 * (keys sorted recursively, no whitespace) before they are sent or used as
 * a key.
 *
 * The registry's mutex is never held while calling into the database or
 * the sync client: both take locks of their own and may call back here
 * (ps__streams_active_json).
 *
 * Each registry entry has an id; a handle refers to its entry by that id,
 * so a handle that outlived powersync_db_unsubscribe_stream_all (which
 * drops the entry) cannot decrement a later subscription to the same key.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "../util/arena.h"
#include "sync_internal.h"

#define STREAMS_TAG "streams"

/* One held key. */
struct stream_key {
  struct stream_key *next;
  uint64_t id;
  char *name;
  char *params; /* Normalised: "null" or an object. */
  size_t count; /* Live handles. */
};

struct ps__streams {
  pthread_mutex_t mu;
  struct stream_key *keys; /* In order of first subscription. */
  uint64_t next_id;
};

struct powersync_stream_subscription {
  powersync_db *db;
  uint64_t key_id;
  char *name;
  char *params; /* Normalised. */
};

/* ---- Parameters ----------------------------------------------------------
 */

int ps__json_normalize_params(const char *params_json, char **out) {
  struct ps__arena arena;
  const struct ps__json_value *root;
  struct ps__buf b;
  int rc = POWERSYNC_OK;
  *out = NULL;
  if (!params_json)
    params_json = "null";
  ps__arena_init(&arena, 0);
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  root = ps__json_parse(&arena, params_json, strlen(params_json), NULL, 0);
  if (!root || (root->type != PS_JSON_NULL && root->type != PS_JSON_OBJECT))
    rc = POWERSYNC_EINVAL;
  else
    ps__json_write(&b, root, 1); /* "null" for null. */
  if (rc == POWERSYNC_OK && !(*out = ps__buf_take(&b)))
    rc = POWERSYNC_ENOMEM;
  ps__buf_free(&b);
  ps__arena_free(&arena);
  return rc;
}

/* ---- The registry --------------------------------------------------------
 */

struct ps__streams *ps__streams_new(void) {
  struct ps__streams *reg = calloc(1, sizeof(*reg));
  if (!reg)
    return NULL;
  pthread_mutex_init(&reg->mu, NULL);
  reg->next_id = 1;
  return reg;
}

static void key_free(struct stream_key *k) {
  free(k->name);
  free(k->params);
  free(k);
}

void ps__streams_free(struct ps__streams *reg) {
  size_t held = 0;
  if (!reg)
    return;
  while (reg->keys) {
    struct stream_key *k = reg->keys;
    reg->keys = k->next;
    held += k->count;
    key_free(k);
  }
  if (held)
    ps__log(POWERSYNC_LOG_WARN, STREAMS_TAG,
            "%zu stream subscription handle(s) were not released before "
            "closing",
            held);
  pthread_mutex_destroy(&reg->mu);
  free(reg);
}

static struct stream_key **
find_key_locked(struct ps__streams *reg, const char *name, const char *params) {
  struct stream_key **p;
  for (p = &reg->keys; *p; p = &(*p)->next)
    if (strcmp((*p)->name, name) == 0 && strcmp((*p)->params, params) == 0)
      break;
  return p;
}

/* Adds one handle to the key, creating it (appended, so insertion order is
 * kept). *created tells whether the key is new. */
static int registry_hold(struct ps__streams *reg, const char *name,
                         const char *params, uint64_t *id_out, int *created) {
  struct stream_key **p, *k;
  int rc = POWERSYNC_OK;
  *created = 0;
  pthread_mutex_lock(&reg->mu);
  p = find_key_locked(reg, name, params);
  if (*p) {
    (*p)->count++;
    *id_out = (*p)->id;
  } else if ((k = calloc(1, sizeof(*k))) != NULL &&
             (k->name = strdup(name)) != NULL &&
             (k->params = strdup(params)) != NULL) {
    k->id = reg->next_id++;
    k->count = 1;
    *p = k;
    *id_out = k->id;
    *created = 1;
  } else {
    if (k)
      key_free(k);
    rc = POWERSYNC_ENOMEM;
  }
  pthread_mutex_unlock(&reg->mu);
  return rc;
}

/* Drops one handle of the key with this id; 1 when the key went away. */
static int registry_release(struct ps__streams *reg, uint64_t id) {
  struct stream_key **p, *gone = NULL;
  pthread_mutex_lock(&reg->mu);
  for (p = &reg->keys; *p && (*p)->id != id; p = &(*p)->next) {
  }
  if (*p && --(*p)->count == 0) {
    gone = *p;
    *p = gone->next;
  }
  pthread_mutex_unlock(&reg->mu);
  if (gone)
    key_free(gone);
  return gone != NULL;
}

/* Drops the key regardless of its handles; 1 when it existed. */
static int registry_drop(struct ps__streams *reg, const char *name,
                         const char *params) {
  struct stream_key **p, *gone;
  pthread_mutex_lock(&reg->mu);
  p = find_key_locked(reg, name, params);
  gone = *p;
  if (gone)
    *p = gone->next;
  pthread_mutex_unlock(&reg->mu);
  if (gone)
    key_free(gone);
  return gone != NULL;
}

char *ps__streams_active_json(struct ps__streams *reg) {
  struct stream_key *k;
  struct ps__buf b;
  int first = 1;
  if (!reg)
    return NULL;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_putc(&b, '[');
  pthread_mutex_lock(&reg->mu);
  for (k = reg->keys; k; k = k->next) {
    if (k->count == 0)
      continue;
    ps__buf_puts(&b, first ? "{\"name\":" : ",{\"name\":");
    ps__json_write_string(&b, k->name, strlen(k->name));
    /* Normalised parameters are JSON text already. */
    ps__buf_printf(&b, ",\"params\":%s}", k->params);
    first = 0;
  }
  pthread_mutex_unlock(&reg->mu);
  ps__buf_putc(&b, ']');
  return ps__buf_take(&b); /* NULL when an append failed. */
}

/* ---- Talking to the core -------------------------------------------------
 */

/* A powersync_control('subscriptions', payload) call and its outcome: the
 * transaction reports a failing callback as POWERSYNC_EUSER, so the real
 * error is kept here and restored afterwards. */
struct control_call {
  const char *payload;
  int rc;
  char message[512];
};

static int control_tx(sqlite3 *conn, void *arg) {
  struct control_call *c = arg;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(
      conn, "SELECT powersync_control('subscriptions', ?)", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_text(stmt, 1, c->payload, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
      rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) {
    c->rc = ps__error_sqlite(conn, rc);
    snprintf(c->message, sizeof(c->message), "%s",
             powersync_error_last()->message);
  }
  sqlite3_finalize(stmt);
  return rc != SQLITE_OK;
}

static int run_control(powersync_db *db, const char *payload) {
  struct control_call c;
  int rc;
  memset(&c, 0, sizeof(c));
  c.payload = payload;
  rc = powersync_db_write_transaction(db, control_tx, &c);
  if (rc == POWERSYNC_EUSER && c.rc != POWERSYNC_OK)
    return ps__error_set(c.rc, "%s", c.message);
  return rc;
}

/* {"subscribe":{"stream":{"name":N,"params":P},"ttl":T,"priority":R}},
 * leaving out ttl and priority when not given. */
static char *subscribe_payload(const char *name, const char *params,
                               int64_t ttl_s, int priority) {
  struct ps__buf b;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_puts(&b, "{\"subscribe\":{\"stream\":{\"name\":");
  ps__json_write_string(&b, name, strlen(name));
  ps__buf_printf(&b, ",\"params\":%s}", params);
  if (ttl_s > 0)
    ps__buf_printf(&b, ",\"ttl\":%" PRId64, ttl_s);
  if (priority >= 0)
    ps__buf_printf(&b, ",\"priority\":%d", priority);
  ps__buf_puts(&b, "}}");
  return ps__buf_take(&b);
}

/* {"unsubscribe":{"name":N,"params":P}}. */
static char *unsubscribe_payload(const char *name, const char *params) {
  struct ps__buf b;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_puts(&b, "{\"unsubscribe\":{\"name\":");
  ps__json_write_string(&b, name, strlen(name));
  ps__buf_printf(&b, ",\"params\":%s}}", params);
  return ps__buf_take(&b);
}

/* While offline nothing else updates the status, so the new or changed
 * subscription is read back from the database (sdk.md 12.2). A failure
 * only leaves the status stale. */
static void refresh_if_offline(powersync_db *db) {
  if (ps__status_is_connected(ps__db_status_hub(db)))
    return;
  if (ps__status_refresh_offline(db) != POWERSYNC_OK)
    ps__log(POWERSYNC_LOG_WARN, STREAMS_TAG,
            "cannot refresh the offline status: %s",
            powersync_error_last()->message);
}

/* Validates name and normalises params_json into *params. */
static int check_key(powersync_db *db, const char *name,
                     const char *params_json, char **params) {
  int rc;
  *params = NULL;
  if (!db || !name || !*name)
    return ps__error_set(POWERSYNC_EINVAL, "db and a non-empty name are "
                                           "required");
  rc = ps__json_normalize_params(params_json, params);
  if (rc == POWERSYNC_EINVAL)
    return ps__error_set(rc, "stream parameters must be a JSON object or "
                             "null");
  if (rc != POWERSYNC_OK)
    return ps__error_set(rc, "out of memory");
  if (!ps__db_streams(db))
    return ps__error_set(POWERSYNC_ECLOSED, "the database is closed");
  return POWERSYNC_OK;
}

/* ---- Public API ----------------------------------------------------------
 */

static void subscription_free(struct powersync_stream_subscription *sub) {
  free(sub->name);
  free(sub->params);
  free(sub);
}

static struct powersync_stream_subscription *
subscription_new(powersync_db *db, const char *name, char *params) {
  struct powersync_stream_subscription *sub = calloc(1, sizeof(*sub));
  if (!sub)
    return NULL;
  sub->db = db;
  sub->params = params;
  sub->name = strdup(name);
  if (!sub->name) {
    sub->params = NULL;
    subscription_free(sub);
    return NULL;
  }
  return sub;
}

int powersync_db_subscribe_stream(powersync_db *db, const char *name,
                                  const char *params_json, int64_t ttl_s,
                                  int priority,
                                  powersync_stream_subscription **out) {
  struct powersync_stream_subscription *sub;
  char *params = NULL, *payload;
  int created = 0, rc;
  ps__error_reset();
  if (!out)
    return ps__error_set(POWERSYNC_EINVAL, "out is NULL");
  *out = NULL;
  rc = check_key(db, name, params_json, &params);
  if (rc != POWERSYNC_OK) {
    free(params);
    return rc;
  }
  /* Everything that can run out of memory comes before the write, so a
   * stored subscription always has its handle. */
  payload = subscribe_payload(name, params, ttl_s, priority);
  sub = subscription_new(db, name, params);
  if (!payload || !sub) {
    free(payload);
    if (sub)
      subscription_free(sub);
    else
      free(params);
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  }
  rc = run_control(db, payload);
  free(payload);
  if (rc == POWERSYNC_OK) {
    refresh_if_offline(db);
    rc = registry_hold(ps__db_streams(db), sub->name, sub->params, &sub->key_id,
                       &created);
    if (rc != POWERSYNC_OK)
      ps__error_set(rc, "out of memory");
  }
  if (rc != POWERSYNC_OK) {
    subscription_free(sub);
    return rc;
  }
  if (created)
    ps__sync_subscriptions_changed(db);
  *out = sub;
  return POWERSYNC_OK;
}

/* The predicate of powersync_stream_wait_for_first_sync. */
static int stream_synced(const powersync_sync_status *s, void *arg) {
  const struct powersync_stream_subscription *sub = arg;
  const powersync_stream_status *st =
      powersync_sync_status_for_stream(s, sub->name, sub->params);
  return st && st->has_synced;
}

int powersync_stream_wait_for_first_sync(powersync_stream_subscription *sub,
                                         int timeout_ms) {
  ps__error_reset();
  if (!sub)
    return ps__error_set(POWERSYNC_EINVAL, "sub is NULL");
  return ps__status_wait(ps__db_status_hub(sub->db), stream_synced, sub,
                         timeout_ms);
}

void powersync_stream_unsubscribe(powersync_stream_subscription *sub) {
  if (!sub)
    return;
  if (registry_release(ps__db_streams(sub->db), sub->key_id))
    ps__sync_subscriptions_changed(sub->db);
  subscription_free(sub);
}

int powersync_db_unsubscribe_stream_all(powersync_db *db, const char *name,
                                        const char *params_json) {
  char *params = NULL, *payload = NULL;
  int rc;
  ps__error_reset();
  rc = check_key(db, name, params_json, &params);
  if (rc == POWERSYNC_OK && !(payload = unsubscribe_payload(name, params)))
    rc = ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  if (rc == POWERSYNC_OK)
    rc = run_control(db, payload);
  if (rc == POWERSYNC_OK) {
    registry_drop(ps__db_streams(db), name, params);
    /* Also when the key was not held here: the stored subscription
     * changed, and a running connection re-collects its request. */
    ps__sync_subscriptions_changed(db);
    refresh_if_offline(db);
  }
  free(payload);
  free(params);
  return rc;
}
