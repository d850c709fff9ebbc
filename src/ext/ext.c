/*
 * ext.c: the entry point of the PowerSync SQLite extension.
 *
 *   sqlite> .load ./powersync
 *   sqlite> SELECT powersync_rs_version();
 *
 * sqlite3_powersync_init checks the SQLite version, creates the connection's
 * state object and registers every SQL function and virtual table module. It
 * does not touch the database file; powersync_init() creates the internal
 * tables.
 */
#include <stdio.h>

#include "../../include/powersync/ext.h"
#include "register.h"
#include "sqlite_api.h"
#include "state.h"

#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT1
#endif

/* The oldest SQLite we run on: 3.38 brought the JSON operators and built-in
 * JSON functions that generated SQL and migrations use (STRICT tables need
 * 3.37, RETURNING and DROP COLUMN 3.35). The official core needs 3.44. */
#define PS_MIN_SQLITE_VERSION 3038000

int ps__create_function(sqlite3 *db, struct ps__state *st, const char *name,
                        int n_arg, int flags,
                        void (*fn)(sqlite3_context *, int, sqlite3_value **)) {
  int rc;
  ps__state_ref(st);
  /* On failure SQLite calls the destructor, releasing the reference. */
  rc = sqlite3_create_function_v2(db, name, n_arg, SQLITE_UTF8 | flags, st, fn,
                                  NULL, NULL, ps__state_unref);
  return rc;
}

typedef int (*register_fn)(sqlite3 *, struct ps__state *);

static const register_fn registrations[] = {
    ps__register_small_functions, ps__register_migrations,
    ps__register_clear,           ps__register_control,
    ps__register_update_hooks,    ps__register_replace_schema,
    ps__register_raw_trigger,     ps__register_close_vtab,
    ps__register_crud_vtabs,
};

static char *init_error(const char *fmt, const char *detail, int number) {
  return sqlite3_mprintf(fmt, detail, number);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
    POWERSYNC_EXT_API int sqlite3_powersync_init(
        sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  struct ps__state *st;
  size_t i;
  int rc = SQLITE_OK;
#ifndef SQLITE_CORE
  SQLITE_EXTENSION_INIT2(pApi);
#else
  (void)pApi;
#endif
  if (sqlite3_libversion_number() < PS_MIN_SQLITE_VERSION) {
    if (pzErrMsg)
      *pzErrMsg = init_error(
          "Could not initialize PowerSync: Version 0.5.3 of the PowerSync "
          "SQLite extension requires SQLite version number 3038000 or later, "
          "but was loaded against %s (%d)",
          sqlite3_libversion(), sqlite3_libversion_number());
    return SQLITE_ABORT;
  }
  st = ps__state_new(db);
  if (!st)
    return SQLITE_NOMEM;
  for (i = 0; i < sizeof(registrations) / sizeof(registrations[0]); i++) {
    rc = registrations[i](db, st);
    if (rc != SQLITE_OK)
      break;
  }
  if (rc != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("Could not initialize PowerSync: %s",
                                sqlite3_errstr(rc));
  /* Each registration holds its own reference. */
  ps__state_unref(st);
  return rc;
}

#ifdef SQLITE_CORE
POWERSYNC_EXT_API int powersync_init_static(void) {
  return sqlite3_auto_extension((void (*)(void))sqlite3_powersync_init);
}
#endif
