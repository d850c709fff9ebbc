/*
 * state.h: the per-connection state of the extension (core-storage.md 2.3).
 *
 * One object per connection, created by sqlite3_powersync_init and shared by
 * every function and module registered there. It is reference counted: each
 * registration holds a reference and drops it in its destructor, so the
 * object lives exactly as long as the connection's registrations.
 *
 * Thread-safety: SQLite serialises calls on one connection; the state is only
 * touched from those calls.
 */
#ifndef PS_EXT_STATE_H
#define PS_EXT_STATE_H

#include <stdint.h>

#include "../core/schema.h"
#include "sqlite_api.h"

/* A set of table names (update hooks); small, so a plain array. */
struct ps__name_set {
  char **names;
  size_t count;
  size_t cap;
};

struct ps__sync;

struct ps__state {
  sqlite3 *db;
  int refcount;

  /* Last schema applied with powersync_replace_schema on this connection, or
   * NULL. Owned. */
  struct ps__schema *schema;

  /* Set while the sync client applies downloaded data or powersync_clear runs
   * raw-table clear statements; local writes are then not recorded. */
  int in_sync_operation;

  /* Transaction id for ps_crud rows of the current transaction (9.4). */
  int has_crud_tx;
  int64_t crud_tx_id;
  const void *crud_tx_owner; /* The CRUD vtab that allocated crud_tx_id. */

  /* powersync_update_hooks (section 11). */
  int hooks_installed;
  struct ps__name_set pending_tables;
  struct ps__name_set committed_tables;

  /* Set while a sync iteration is active (sync half). */
  int sync_iteration_active;

  /* The sync engine (sync_engine.h): cached statements and the iteration.
   * Created on first use, released by the pre-close hook. Owned. */
  struct ps__sync *sync;
};

struct ps__state *ps__state_new(sqlite3 *db);
void ps__state_ref(struct ps__state *st);
/* Drops a reference; usable directly as an xDestroy callback. */
void ps__state_unref(void *st);

/* Replaces the stored schema (takes ownership of schema, may be NULL). */
void ps__state_set_schema(struct ps__state *st, struct ps__schema *schema);

int ps__name_set_add(struct ps__name_set *set, const char *name);
void ps__name_set_clear(struct ps__name_set *set);
/* Moves every name of from into to (deduplicated) and empties from. */
int ps__name_set_merge(struct ps__name_set *to, struct ps__name_set *from);

#endif
