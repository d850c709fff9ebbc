/**
 * @file schema.h
 * @brief Building the schema of synced and local tables.
 *
 * A schema lists tables (each exposed as a view over the core's data table)
 * and raw tables. Build it with the functions below or parse the core's
 * schema JSON; powersync_db_open validates it (unique names, index columns
 * exist, names without quotes, dots, brackets, '%', ',', '#' or white space,
 * at most 1999 columns, no user column named id, local-only tables without
 * metadata or old values). Names are compared case-insensitively (ASCII), as
 * SQLite compares identifiers; table names, view names and raw table names
 * share one namespace. Builder calls refuse what they can check at once with
 * POWERSYNC_EINVAL; the rest is reported by powersync_schema_validate.
 *
 * Ownership: a powersync_schema owns its tables and indexes; pointers to them
 * stay valid until the schema is freed.
 * Thread-safety: a schema may be built by one thread at a time; a finished
 * schema may be read (opened, serialised) by several threads.
 */
#ifndef POWERSYNC_SCHEMA_H
#define POWERSYNC_SCHEMA_H

#include "common.h"

POWERSYNC_BEGIN_DECL

typedef struct powersync_schema powersync_schema;
typedef struct powersync_table powersync_table;
typedef struct powersync_index powersync_index;

typedef enum powersync_column_type {
  POWERSYNC_COLUMN_TEXT = 0,
  POWERSYNC_COLUMN_INTEGER = 1,
  POWERSYNC_COLUMN_REAL = 2
} powersync_column_type;

/** Table options (bit flags for powersync_table_set_flags). */
#define POWERSYNC_TABLE_LOCAL_ONLY                    1u /**< Never uploaded. */
#define POWERSYNC_TABLE_INSERT_ONLY                   2u /**< Uploaded, never stored. */
#define POWERSYNC_TABLE_INCLUDE_METADATA              4u /**< Adds the _metadata column. */
#define POWERSYNC_TABLE_INCLUDE_OLD_ONLY_WHEN_CHANGED 8u
#define POWERSYNC_TABLE_IGNORE_EMPTY_UPDATE           16u

/** A new empty schema; NULL when out of memory. */
POWERSYNC_API powersync_schema *powersync_schema_new(void);

/**
 * Parses the core's schema JSON (core-storage.md section 5) and validates the
 * result as powersync_schema_validate does. Column types must be TEXT,
 * INTEGER or REAL (any case); index column types are taken from the table's
 * columns; raw tables are kept as given (written back compactly).
 * @return POWERSYNC_OK, POWERSYNC_EINVAL (NULL argument) or POWERSYNC_ESCHEMA
 *   (message names the problem). *out is NULL on failure.
 */
POWERSYNC_API int powersync_schema_from_json(powersync_schema **out,
                                             const char *json);

/** Accepts NULL. */
POWERSYNC_API void powersync_schema_free(powersync_schema *schema);

/**
 * Adds a table named name (the name used in sync and in the upload queue).
 * @param[out] out the table, owned by schema.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL for an invalid or duplicate name.
 */
POWERSYNC_API int powersync_schema_add_table(powersync_schema *schema,
                                             const char *name,
                                             powersync_table **out);

/**
 * Adds a column.
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (invalid or duplicate name, "id",
 *   more than 1999 columns, unknown type).
 */
POWERSYNC_API int powersync_table_add_column(powersync_table *table,
                                             const char *name,
                                             powersync_column_type type);

/**
 * Names the view differently from the table (NULL: same as the table).
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (invalid name, or the name of
 *   another table, view or raw table).
 */
POWERSYNC_API int powersync_table_set_view_name(powersync_table *table,
                                                const char *view_name);

/**
 * Sets the POWERSYNC_TABLE_* flags (replacing previous ones).
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (unknown bits; LOCAL_ONLY with
 *   INCLUDE_METADATA, INCLUDE_OLD_ONLY_WHEN_CHANGED or include_old).
 */
POWERSYNC_API int powersync_table_set_flags(powersync_table *table,
                                            unsigned int flags);

/**
 * Records previous values of updated and deleted rows in the upload queue:
 * of the listed columns (count of them), or of all columns when columns is
 * NULL. There is no way back to "none" (build a new table instead).
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (a local-only table; a NULL
 *   column name).
 */
POWERSYNC_API int powersync_table_set_include_old(powersync_table *table,
                                                  const char *const *columns,
                                                  size_t count);

/**
 * Adds an index.
 * @param[out] out the index, owned by the table.
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (invalid or duplicate name).
 */
POWERSYNC_API int powersync_table_add_index(powersync_table *table,
                                            const char *name,
                                            powersync_index **out);

/**
 * Adds a column of the table to the index. Whether the table has the column
 * is checked by powersync_schema_validate (so indexes may be declared first).
 * @return POWERSYNC_OK or POWERSYNC_EINVAL (invalid name).
 */
POWERSYNC_API int powersync_index_add_column(powersync_index *index,
                                             const char *column, int ascending);

/**
 * Adds a raw table given as the core's raw table JSON object
 * (core-storage.md 5.4). It needs table_name (statements are inferred) or
 * both put and delete; its name and table_name must not clash with other
 * tables, views or raw tables.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL (NULL argument) or
 *   POWERSYNC_ESCHEMA.
 */
POWERSYNC_API int powersync_schema_add_raw_table_json(powersync_schema *schema,
                                                      const char *json);

/**
 * Checks the schema as powersync_db_open would.
 * @return POWERSYNC_OK or POWERSYNC_ESCHEMA with the first problem named.
 */
POWERSYNC_API int powersync_schema_validate(const powersync_schema *schema);

/**
 * The schema as the core's JSON (every table key written explicitly; raw
 * tables as given). Does not validate: call powersync_schema_validate first.
 * Ownership: free *out with powersync_free().
 * @return POWERSYNC_OK, POWERSYNC_EINVAL or POWERSYNC_ENOMEM.
 */
POWERSYNC_API int powersync_schema_to_json(const powersync_schema *schema,
                                           char **out);

POWERSYNC_END_DECL

#endif
