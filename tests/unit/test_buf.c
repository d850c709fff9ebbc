/*
 * test_buf.c: the growable buffer and the arena of src/util.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"
#include "util/buf.h"

static void buf_appends_and_formats(void **state) {
  struct ps__buf b;
  char *taken;
  (void)state;
  ps__buf_init(&b, 0);
  assert_string_equal(ps__buf_cstr(&b), "");
  ps__buf_puts(&b, "abc");
  ps__buf_putc(&b, '-');
  ps__buf_printf(&b, "%d/%s", 42, "x");
  assert_string_equal(ps__buf_cstr(&b), "abc-42/x");
  ps__buf_truncate(&b, 3);
  assert_string_equal(ps__buf_cstr(&b), "abc");
  taken = ps__buf_take(&b);
  assert_string_equal(taken, "abc");
  free(taken);
  assert_int_equal(b.len, 0);
  ps__buf_free(&b);
}

static void buf_grows_past_many_blocks(void **state) {
  struct ps__buf b;
  size_t i;
  (void)state;
  ps__buf_init(&b, 0);
  for (i = 0; i < 10000; i++)
    ps__buf_putc(&b, (char)('a' + i % 26));
  assert_int_equal(b.len, 10000);
  assert_int_equal(ps__buf_cstr(&b)[9999], 'a' + 9999 % 26);
  assert_int_equal(ps__buf_failed(&b), 0);
  ps__buf_free(&b);
}

static void buf_refuses_to_grow_past_max(void **state) {
  struct ps__buf b;
  (void)state;
  ps__buf_init(&b, 4);
  ps__buf_puts(&b, "abcd");
  assert_int_equal(ps__buf_failed(&b), 0);
  ps__buf_putc(&b, 'e');
  assert_int_equal(ps__buf_failed(&b), PS_BUF_FAILED_TOOBIG);
  /* Sticky: later appends that would fit are ignored too. */
  ps__buf_truncate(&b, 0);
  ps__buf_putc(&b, 'x');
  assert_int_equal(ps__buf_failed(&b), PS_BUF_FAILED_TOOBIG);
  assert_null(ps__buf_take(&b));
  ps__buf_free(&b);
}

static void arena_allocates_zeroed_aligned_memory(void **state) {
  struct ps__arena a;
  size_t i;
  (void)state;
  ps__arena_init(&a, 0);
  for (i = 1; i < 3000; i += 7) {
    unsigned char *p = ps__arena_alloc(&a, i);
    size_t j;
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % sizeof(void *), 0);
    for (j = 0; j < i; j++)
      assert_int_equal(p[j], 0);
    memset(p, 0xff, i);
  }
  assert_string_equal(ps__arena_strndup(&a, "hello", 4), "hell");
  ps__arena_free(&a);
}

static void arena_respects_its_maximum(void **state) {
  struct ps__arena a;
  (void)state;
  ps__arena_init(&a, 2048);
  assert_non_null(ps__arena_alloc(&a, 100));
  assert_null(ps__arena_alloc(&a, 1 << 20));
  ps__arena_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buf_appends_and_formats),
      cmocka_unit_test(buf_grows_past_many_blocks),
      cmocka_unit_test(buf_refuses_to_grow_past_max),
      cmocka_unit_test(arena_allocates_zeroed_aligned_memory),
      cmocka_unit_test(arena_respects_its_maximum),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
