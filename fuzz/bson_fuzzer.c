/*
 * bson_fuzzer.c: fuzz target for the BSON reader (src/core/bson.c).
 *
 * Any input: opening and walking the document must not crash or read out of
 * bounds; every string, binary and nested document returned must lie inside
 * the input; a rejected input must format a "bson error, at <offset>: ..."
 * message. The document is walked twice, once reading every value (nested
 * documents recursively) and once with ps__bson_skip(), and both walks must
 * agree on whether the input is valid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bson.h"
#include "fuzzer.h"

static const unsigned char *input_start;
static size_t input_len;

static void fail(const char *what) {
  fprintf(stderr, "bson_fuzzer: %s\n", what);
  abort();
}

static void check_inside(const void *p, size_t len) {
  const unsigned char *q = p;
  if (len && (q < input_start || q + len > input_start + input_len))
    fail("slice outside the input");
}

static void check_error(const struct ps__bson_error *e) {
  char text[256];
  ps__bson_error_format(e, text, sizeof(text));
  if (strncmp(text, "bson error, at ", 15) != 0)
    fail("error message");
  if (e->offset > input_len)
    fail("error offset past the input");
}

/* Reads every value; returns 0 or -1. */
static int walk(const struct ps__bson_doc *doc) {
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_value v;
  struct ps__bson_error e;
  int rc;
  check_inside(doc->base + doc->start, doc->end - doc->start);
  ps__bson_iter_init(&it, doc);
  while ((rc = ps__bson_next(&it, &el, &e)) == 1) {
    check_inside(el.key, el.key_len + 1);
    if (ps__bson_read(&it, &v, &e)) {
      check_error(&e);
      return -1;
    }
    switch (v.type) {
    case PS_BSON_STRING:
      check_inside(v.as.str.ptr, v.as.str.len);
      break;
    case PS_BSON_BINARY:
    case PS_BSON_OBJECTID:
      check_inside(v.as.bin.ptr, v.as.bin.len);
      break;
    case PS_BSON_DOCUMENT:
    case PS_BSON_ARRAY:
      if (v.as.doc.depth > PS_BSON_MAX_DEPTH)
        fail("depth limit");
      if (walk(&v.as.doc))
        return -1;
      break;
    default:
      break;
    }
  }
  if (rc < 0)
    check_error(&e);
  return rc < 0 ? -1 : 0;
}

static int skip_all(const struct ps__bson_doc *doc) {
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_error e;
  int rc;
  ps__bson_iter_init(&it, doc);
  while ((rc = ps__bson_next(&it, &el, &e)) == 1) {
    if (ps__bson_skip(&it, &e))
      return -1;
  }
  return rc < 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ps__bson_doc doc;
  struct ps__bson_error e;
  /* A private copy, so that reading past size is caught by ASan. */
  unsigned char *copy = malloc(size ? size : 1);
  if (!copy)
    return 0;
  if (size)
    memcpy(copy, data, size);
  input_start = copy;
  input_len = size;
  if (ps__bson_open(&doc, copy, size, &e) == 0) {
    if (walk(&doc) != skip_all(&doc))
      fail("walk and skip disagree");
  } else {
    check_error(&e);
  }
  free(copy);
  return 0;
}
