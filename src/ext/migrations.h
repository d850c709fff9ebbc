/*
 * migrations.h: the internal schema migrations behind powersync_init() and
 * powersync_test_migration() (core-storage.md section 4), for other parts of
 * the extension and the SDK that need to bring a connection's database to a
 * known version without going through SQL.
 */
#ifndef PS_EXT_MIGRATIONS_H
#define PS_EXT_MIGRATIONS_H

#include "error.h"
#include "sqlite_api.h"

/* The internal schema version this library creates; powersync_init()
 * migrates to it. */
#define PS_MIGRATION_LATEST_VERSION 14

/* Migrates the internal tables of db up or down to version target, exactly as
 * powersync_test_migration(target) does, and returns SQLITE_OK or the code of
 * e, which then holds the error text. The caller must have started a
 * transaction and rolls it back on failure: the work done before the failure
 * is left in place. Nothing is written when the database is already at
 * target, so this works on read-only connections then. */
int ps__migrate(sqlite3 *db, int target, struct ps__err *e);

#endif
