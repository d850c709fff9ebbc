/*
 * sync_raw_tables.h: writing downloaded rows into raw tables during
 * sync_local (core-sync.md section 15).
 *
 * Raw tables are application-managed tables named in the raw_tables of the
 * schema given to powersync_control('start'). sync_local calls put for every
 * row with data and delete for every row without, using the table's explicit
 * put/delete statements or statements inferred from the local table's columns.
 *
 * Lifetime: one struct ps__raw_table_cache per connection (inferred statement
 * text, keyed by PRAGMA schema_version, lives as long as the connection); one
 * struct ps__raw_apply per sync_local run (prepared statements, finalized by
 * ps__raw_apply_end, which must be called on every path).
 *
 * Thread-safety: as the connection.
 */
#ifndef PS_EXT_SYNC_RAW_TABLES_H
#define PS_EXT_SYNC_RAW_TABLES_H

#include <stddef.h>

#include "../core/schema.h"
#include "error.h"
#include "sqlite_api.h"

struct ps__raw_table_cache;
struct ps__raw_apply;

/* Returns NULL when out of memory. */
struct ps__raw_table_cache *ps__raw_table_cache_new(void);
/* Accepts NULL. */
void ps__raw_table_cache_free(struct ps__raw_table_cache *cache);

/* Starts one sync_local's use of raw tables. cache must outlive the returned
 * object. Returns NULL when out of memory. */
struct ps__raw_apply *ps__raw_apply_begin(sqlite3 *db,
                                          struct ps__raw_table_cache *cache);

/* Upserts the downloaded row (id, data) into raw table t. data is the oplog
 * data text, which must be a JSON object. Errors follow core-sync.md 15.2
 * and 15.5 (local data error for invalid JSON, argument errors for a
 * non-object or a parameter count mismatch, wrapped SQLite errors with the
 * "replacing into" context). Returns 0 or -1 with e set. */
int ps__raw_apply_put(struct ps__raw_apply *apply,
                      const struct ps__raw_table *t, const char *id,
                      const char *data, size_t data_len, struct ps__err *e);

/* Deletes the row id from raw table t (15.3, 15.5). */
int ps__raw_apply_delete(struct ps__raw_apply *apply,
                         const struct ps__raw_table *t, const char *id,
                         struct ps__err *e);

/* Finalizes every statement of this run. Accepts NULL. */
void ps__raw_apply_end(struct ps__raw_apply *apply);

#endif
