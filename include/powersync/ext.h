/**
 * @file ext.h
 * @brief The PowerSync SQLite extension, for linking it statically.
 *
 * The loadable extension (powersync.so) needs no header: SQLite finds its
 * entry point, sqlite3_powersync_init, by the file name
 * (`.load ./powersync` in the sqlite3 shell, or
 * sqlite3_load_extension(db, "powersync", NULL, &err)).
 *
 * Programs that link libpowersync statically register the extension with
 * powersync_init_static() before opening connections, or call
 * sqlite3_powersync_init on one connection.
 */
#ifndef POWERSYNC_EXT_H
#define POWERSYNC_EXT_H

#include <sqlite3.h>

#if defined(_WIN32)
#define POWERSYNC_EXT_API
#else
#define POWERSYNC_EXT_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Registers the PowerSync SQL functions and virtual tables on db.
 *
 * @param[in] db the connection.
 * @param[out] pzErrMsg receives an error message allocated with
 *   sqlite3_malloc on failure (may be NULL).
 * @param[in] pApi the SQLite API table (NULL when linked statically).
 * @return SQLITE_OK, SQLITE_ABORT when SQLite is older than 3.38.0, or the
 *   code of a failed registration.
 * Thread-safety: as any call on db.
 */
POWERSYNC_EXT_API int
sqlite3_powersync_init(sqlite3 *db, char **pzErrMsg,
                       const struct sqlite3_api_routines *pApi);

/**
 * Registers sqlite3_powersync_init as an automatic extension, so every
 * connection opened afterwards in this process has PowerSync
 * (static builds only).
 *
 * @return the result of sqlite3_auto_extension.
 * Thread-safety: safe to call from any thread.
 */
POWERSYNC_EXT_API int powersync_init_static(void);

#ifdef __cplusplus
}
#endif

#endif
