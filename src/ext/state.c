/*
 * state.c: lifetime of the per-connection state.
 */
#include "state.h"

#include "sync_engine.h"

#include <stdlib.h>
#include <string.h>

struct ps__state *ps__state_new(sqlite3 *db) {
  struct ps__state *st = calloc(1, sizeof(*st));
  if (!st)
    return NULL;
  st->db = db;
  st->refcount = 1;
  return st;
}

void ps__state_ref(struct ps__state *st) { st->refcount++; }

void ps__state_unref(void *p) {
  struct ps__state *st = p;
  if (!st || --st->refcount > 0)
    return;
  /* Normally released by the pre-close hook already. */
  ps__sync_free(st->sync);
  ps__schema_free(st->schema);
  ps__name_set_clear(&st->pending_tables);
  ps__name_set_clear(&st->committed_tables);
  free(st->pending_tables.names);
  free(st->committed_tables.names);
  free(st);
}

void ps__state_set_schema(struct ps__state *st, struct ps__schema *schema) {
  ps__schema_free(st->schema);
  st->schema = schema;
}

int ps__name_set_add(struct ps__name_set *set, const char *name) {
  size_t i;
  char *copy;
  for (i = 0; i < set->count; i++) {
    if (strcmp(set->names[i], name) == 0)
      return 0;
  }
  if (set->count == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 8;
    char **names = realloc(set->names, cap * sizeof(*names));
    if (!names)
      return -1;
    set->names = names;
    set->cap = cap;
  }
  copy = strdup(name);
  if (!copy)
    return -1;
  set->names[set->count++] = copy;
  return 0;
}

void ps__name_set_clear(struct ps__name_set *set) {
  size_t i;
  for (i = 0; i < set->count; i++)
    free(set->names[i]);
  set->count = 0;
}

int ps__name_set_merge(struct ps__name_set *to, struct ps__name_set *from) {
  size_t i;
  int rc = 0;
  for (i = 0; i < from->count && rc == 0; i++)
    rc = ps__name_set_add(to, from->names[i]);
  ps__name_set_clear(from);
  return rc;
}
