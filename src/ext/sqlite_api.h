/*
 * sqlite_api.h: how every file of the extension reaches SQLite.
 *
 * The same sources build twice: as the loadable extension (SQLite routines are
 * called through the sqlite3_api table handed to sqlite3_powersync_init) and,
 * with SQLITE_CORE defined, into the static library that the SDK links against
 * an SQLite it links itself (direct calls).
 */
#ifndef PS_EXT_SQLITE_API_H
#define PS_EXT_SQLITE_API_H

#include <sqlite3ext.h>
#ifndef SQLITE_CORE
SQLITE_EXTENSION_INIT3
#endif

/* Flags of newer SQLite versions; older versions ignore unknown bits. */
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif
#ifndef SQLITE_SUBTYPE
#define SQLITE_SUBTYPE 0x000100000
#endif

#endif
