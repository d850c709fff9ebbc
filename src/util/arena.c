/*
 * arena.c: bump allocator; blocks double in size up to a cap so that small
 * documents stay small and big ones need few allocations.
 */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_FIRST_BLOCK   1024
#define ARENA_LARGEST_BLOCK (64 * 1024)

struct ps__arena_block {
  struct ps__arena_block *next;
  size_t size;
  size_t used;
  alignas(max_align_t) unsigned char data[];
};

void ps__arena_init(struct ps__arena *a, size_t max) {
  a->head = NULL;
  a->total = 0;
  a->max = max;
}

void ps__arena_free(struct ps__arena *a) {
  struct ps__arena_block *b = a->head;
  while (b) {
    struct ps__arena_block *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
  a->total = 0;
}

void *ps__arena_alloc(struct ps__arena *a, size_t size) {
  const size_t align = alignof(max_align_t);
  struct ps__arena_block *b = a->head;
  size_t rounded;
  if (size > ((size_t)-1) / 2)
    return NULL;
  rounded = (size + align - 1) & ~(align - 1);
  if (!b || b->size - b->used < rounded) {
    size_t block = b ? b->size * 2 : ARENA_FIRST_BLOCK;
    if (block > ARENA_LARGEST_BLOCK)
      block = ARENA_LARGEST_BLOCK;
    if (block < rounded)
      block = rounded;
    if (a->max && a->total + block > a->max)
      return NULL;
    b = malloc(sizeof(*b) + block);
    if (!b)
      return NULL;
    b->next = a->head;
    b->size = block;
    b->used = 0;
    a->head = b;
    a->total += block;
  }
  {
    void *p = b->data + b->used;
    b->used += rounded;
    memset(p, 0, size);
    return p;
  }
}

char *ps__arena_strndup(struct ps__arena *a, const char *s, size_t len) {
  char *p = ps__arena_alloc(a, len + 1);
  if (!p)
    return NULL;
  if (len)
    memcpy(p, s, len);
  p[len] = '\0';
  return p;
}
