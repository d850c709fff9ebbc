/*
 * schema_sql.h: the SQL text of everything generated for a schema: data
 * tables, indexes, views and INSTEAD OF triggers of JSON tables
 * (core-storage.md section 6) and AFTER triggers of raw tables (8.3).
 *
 * The text must be byte-identical to the official core's: stored CREATE
 * statements are compared with freshly generated ones to decide whether a
 * view must be re-created, so any difference re-creates objects on every
 * schema application of a database written by the other implementation.
 *
 * All functions append to a buffer; failures (out of memory) are sticky in
 * the buffer. Functions that can fail for other reasons return -1 and name the
 * problem in err.
 */
#ifndef PS_EXT_SCHEMA_SQL_H
#define PS_EXT_SCHEMA_SQL_H

#include "../core/schema.h"
#include "../util/buf.h"

/* Column names in table order, optionally filtered. */
struct ps__column_list {
  const char **names;
  size_t count;
};

/* json_object() calls take at most this many key/value pairs, which keeps
 * every call within SQLite's historic limit of 100 function arguments. */
#define PS_JSON_OBJECT_MAX_PAIRS 50
/* Beyond this a table's JSON fragment is refused, as by the official core. */
#define PS_JSON_FRAGMENT_MAX_COLUMNS 1999

/* "ps_data__<name>" or "ps_data_local__<name>". */
void ps__sql_internal_name(struct ps__buf *b, const struct ps__table *t);

void ps__sql_create_data_table(struct ps__buf *b, const struct ps__table *t);
void ps__sql_index_name(struct ps__buf *b, const struct ps__table *t,
                        const struct ps__index *ix);
void ps__sql_create_index(struct ps__buf *b, const struct ps__table *t,
                          const struct ps__index *ix);
void ps__sql_create_view(struct ps__buf *b, const struct ps__table *t);

/* The trigger texts compared with stored ones (7.3). Empty when a table has
 * no such trigger. The delete text may hold two statements joined by ";\n".
 * Return -1 with err set when a JSON fragment would be too large. */
int ps__sql_delete_triggers(struct ps__buf *b, const struct ps__table *t,
                            char *err, size_t errlen);
int ps__sql_insert_trigger(struct ps__buf *b, const struct ps__table *t,
                           char *err, size_t errlen);
int ps__sql_update_trigger(struct ps__buf *b, const struct ps__table *t,
                           char *err, size_t errlen);

/* The raw-table trigger of 8.3; write_type is "INSERT", "UPDATE" or
 * "DELETE"; columns are the table's columns other than id, already filtered
 * by synced_columns. */
int ps__sql_raw_trigger(struct ps__buf *b, const struct ps__raw_table *t,
                        const char *trigger_name, const char *write_type,
                        const struct ps__column_list *columns, char *err,
                        size_t errlen);

#endif
