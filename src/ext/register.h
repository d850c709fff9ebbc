/*
 * register.h: one registration function per file of the extension; ext.c calls
 * them all from sqlite3_powersync_init. Each returns an SQLite result code.
 */
#ifndef PS_EXT_REGISTER_H
#define PS_EXT_REGISTER_H

#include "sqlite_api.h"
#include "state.h"

/* powersync_rs_version, uuid, gen_random_uuid, powersync_diff,
 * powersync_remove_duplicate_key_encoding, powersync_json_merge,
 * powersync_strip_subtype, powersync_drop_view, powersync_in_sync_operation,
 * powersync_client_id (fn_small.c). */
int ps__register_small_functions(sqlite3 *db, struct ps__state *st);
/* powersync_init, powersync_test_migration (migrations.c). */
int ps__register_migrations(sqlite3 *db, struct ps__state *st);
/* powersync_clear, powersync_trigger_resync (fn_clear.c). */
int ps__register_clear(sqlite3 *db, struct ps__state *st);
/* powersync_control, powersync_offline_sync_status (fn_control.c). */
int ps__register_control(sqlite3 *db, struct ps__state *st);
/* powersync_update_hooks (fn_update_hooks.c). */
int ps__register_update_hooks(sqlite3 *db, struct ps__state *st);
/* powersync_replace_schema (schema_apply.c). */
int ps__register_replace_schema(sqlite3 *db, struct ps__state *st);
/* powersync_create_raw_table_crud_trigger (raw_trigger.c). */
int ps__register_raw_trigger(sqlite3 *db, struct ps__state *st);
/* Module powersync_internal_close (vtab_close.c). */
int ps__register_close_vtab(sqlite3 *db, struct ps__state *st);
/* Modules powersync_crud and powersync_crud_ (vtab_crud.c). */
int ps__register_crud_vtabs(sqlite3 *db, struct ps__state *st);

/* Registers a scalar function holding a reference to st. */
int ps__create_function(sqlite3 *db, struct ps__state *st, const char *name,
                        int n_arg, int flags,
                        void (*fn)(sqlite3_context *, int, sqlite3_value **));

#endif
