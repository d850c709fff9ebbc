/*
 * arena.h: a bump allocator for parse trees.
 *
 * A parser allocates every node of one document from an arena and the caller
 * releases the whole document with one ps__arena_free(), so parse trees need no
 * per-node ownership rules.
 */
#ifndef PS_UTIL_ARENA_H
#define PS_UTIL_ARENA_H

#include <stddef.h>

struct ps__arena_block;

struct ps__arena {
  struct ps__arena_block
      *head;    /* Most recent block; allocations come from it. */
  size_t total; /* Bytes allocated in all blocks. */
  size_t max;   /* Upper bound of total; 0 = unlimited. */
};

void ps__arena_init(struct ps__arena *a, size_t max);
void ps__arena_free(struct ps__arena *a);
/* Returns zeroed, suitably aligned memory, or NULL when out of memory or
 * past the arena's maximum. */
void *ps__arena_alloc(struct ps__arena *a, size_t size);
/* Copies len bytes and appends a NUL. */
char *ps__arena_strndup(struct ps__arena *a, const char *s, size_t len);

#endif
