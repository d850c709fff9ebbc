/*
 * json_fuzzer.c: fuzz target for the JSON reader and writer (src/core/json.c).
 *
 * Any input: the parser must not crash, and a rejected input must leave a
 * terminated, non-empty message. An accepted input is written with and
 * without sorted keys; each output must parse again into a tree that
 * ps__json_equal() finds equal to the first, and writing that tree again must
 * give the same bytes (the float formatter's output reads back exactly). The
 * first eight bytes are also taken as the bits of a double, which must be
 * written in a form that reads back as the same double.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "fuzzer.h"

/* Bounds memory per input so that the fuzzer reports leaks and bugs rather
 * than running out of memory on huge documents. */
#define FUZZ_ARENA_MAX ((size_t)64 * 1024 * 1024)

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "json_fuzzer: %s: %s\n", what, detail);
  abort();
}

static void check_roundtrip(const struct ps__json_value *v, int sort_keys) {
  struct ps__buf first;
  struct ps__buf second;
  struct ps__arena arena;
  struct ps__json_value *back;
  char err[256];

  ps__buf_init(&first, 0);
  ps__json_write(&first, v, sort_keys);
  if (ps__buf_failed(&first))
    fail("write failed", sort_keys ? "sorted" : "unsorted");

  ps__arena_init(&arena, FUZZ_ARENA_MAX);
  back = ps__json_parse(&arena, first.data, first.len, err, sizeof err);
  if (!back)
    fail("written output does not parse", err);
  if (!ps__json_equal(v, back))
    fail("written output parses to a different value", ps__buf_cstr(&first));

  ps__buf_init(&second, 0);
  ps__json_write(&second, back, sort_keys);
  if (second.len != first.len || memcmp(second.data, first.data, first.len))
    fail("writing is not a fixed point", ps__buf_cstr(&first));

  ps__buf_free(&second);
  ps__arena_free(&arena);
  ps__buf_free(&first);
}

static void check_double(const uint8_t *data) {
  struct ps__buf out;
  struct ps__arena arena;
  struct ps__json_value *v;
  double d;
  char err[256];
  memcpy(&d, data, sizeof d);
  ps__buf_init(&out, 0);
  ps__json_write_double(&out, d);
  if (isnan(d) || isinf(d)) {
    if (strcmp(ps__buf_cstr(&out), "null") != 0)
      fail("non-finite double not written as null", ps__buf_cstr(&out));
    ps__buf_free(&out);
    return;
  }
  ps__arena_init(&arena, 0);
  v = ps__json_parse(&arena, out.data, out.len, err, sizeof err);
  if (!v)
    fail("written double does not parse", err);
  if (v->type != PS_JSON_FLOAT || memcmp(&v->as.f, &d, sizeof d) != 0)
    fail("written double reads back differently", ps__buf_cstr(&out));
  ps__arena_free(&arena);
  ps__buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ps__arena arena;
  struct ps__json_value *v;
  char err[256];
  /* A private copy, so that reading past size is caught by ASan even when
   * the caller's buffer is larger. */
  char *text = malloc(size ? size : 1);
  if (!text)
    return 0;
  if (size)
    memcpy(text, data, size);

  ps__arena_init(&arena, FUZZ_ARENA_MAX);
  memset(err, 'x', sizeof err);
  v = ps__json_parse(&arena, text, size, err, sizeof err);
  if (!v) {
    if (!memchr(err, '\0', sizeof err) || err[0] == '\0')
      fail("error message", "missing or unterminated");
  } else {
    if (!ps__json_equal(v, v))
      fail("value differs from itself", text);
    check_roundtrip(v, 0);
    check_roundtrip(v, 1);
  }
  ps__arena_free(&arena);

  if (size >= sizeof(double))
    check_double(data);
  free(text);
  return 0;
}
