/*
 * test_bson.c: the BSON reader of src/core/bson.c: every element type, the
 * bounds checks, UTF-8 validation with Rust's error details, the depth limit,
 * and the error offsets the official core reports (cases marked "official"
 * were recorded from the official core 0.5.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/bson.h"

/* A document with one element of every supported type. */
static const unsigned char all_types[] = {
    0x84, 0x00, 0x00, 0x00,                             /* length 132 */
    0x01, 'd', 0x00, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,      /* 1.5 */
    0x02, 's', 0x00, 4, 0, 0, 0, 'h', 0xc3, 0xa9, 0x00, /* "hé" */
    0x03, 'o', 0x00, 12, 0, 0, 0, 0x10, 'x', 0x00, 7, 0, 0, 0,
    0x00, /* {x: 7} */
    0x04, 'a', 0x00, 12, 0, 0, 0, 0x08, '0', 0x00, 1, 0x0a, '1', 0x00,
    0x00,                                                   /* [true, null] */
    0x05, 'b', 0x00, 2, 0, 0, 0, 0x80, 0xde, 0xad,          /* binary */
    0x06, 'u', 0x00,                                        /* undefined */
    0x07, 'i', 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, /* ObjectId */
    0x08, 't', 0x00, 0x02, /* any non-zero byte is true */
    0x09, 'D', 0x00, 0xe8, 0x03, 0, 0, 0, 0, 0, 0, /* 1000 */
    0x0a, 'n', 0x00,                               /* null */
    0x10, 'I', 0x00, 0xff, 0xff, 0xff, 0xff,       /* -1 */
    0x11, 'T', 0x00, 1, 0, 0, 0, 2, 0, 0, 0, 0x12, 'L', 0x00, 0xfe, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, /* -2 */
    0x00,
    /* Bytes after the document are not part of it. */
    0xff, 0xff};

static void next_ok(struct ps__bson_iter *it, enum ps__bson_type type,
                    const char *key, struct ps__bson_value *v) {
  struct ps__bson_element el;
  struct ps__bson_error e;
  assert_int_equal(ps__bson_next(it, &el, &e), 1);
  assert_int_equal(el.type, type);
  assert_int_equal(el.key_len, strlen(key));
  assert_memory_equal(el.key, key, el.key_len);
  assert_int_equal(ps__bson_read(it, v, &e), 0);
  assert_int_equal(v->type, type);
}

static void reads_every_type(void **state) {
  struct ps__bson_doc doc;
  struct ps__bson_iter it;
  struct ps__bson_iter sub;
  struct ps__bson_value v;
  struct ps__bson_value w;
  struct ps__bson_element el;
  struct ps__bson_error e;
  (void)state;
  assert_int_equal(sizeof(all_types), 134);
  assert_int_equal(ps__bson_open(&doc, all_types, sizeof(all_types), &e), 0);
  assert_int_equal(doc.end, 132);
  ps__bson_iter_init(&it, &doc);
  next_ok(&it, PS_BSON_DOUBLE, "d", &v);
  assert_true(v.as.f64 == 1.5);
  next_ok(&it, PS_BSON_STRING, "s", &v);
  assert_int_equal(v.as.str.len, 3);
  assert_memory_equal(v.as.str.ptr, "h\xc3\xa9", 3);
  /* Zero-copy: the string is a slice of the input. */
  assert_ptr_equal(v.as.str.ptr, (const char *)all_types + 22);
  next_ok(&it, PS_BSON_DOCUMENT, "o", &v);
  ps__bson_iter_init(&sub, &v.as.doc);
  next_ok(&sub, PS_BSON_INT32, "x", &w);
  assert_int_equal(w.as.i32, 7);
  assert_int_equal(ps__bson_next(&sub, &el, &e), 0);
  next_ok(&it, PS_BSON_ARRAY, "a", &v);
  ps__bson_iter_init(&sub, &v.as.doc);
  next_ok(&sub, PS_BSON_BOOL, "0", &w);
  assert_int_equal(w.as.boolean, 1);
  next_ok(&sub, PS_BSON_NULL, "1", &w);
  assert_int_equal(ps__bson_next(&sub, &el, &e), 0);
  next_ok(&it, PS_BSON_BINARY, "b", &v);
  assert_int_equal(v.as.bin.subtype, 0x80);
  assert_int_equal(v.as.bin.len, 2);
  assert_memory_equal(v.as.bin.ptr, "\xde\xad", 2);
  next_ok(&it, PS_BSON_UNDEFINED, "u", &v);
  next_ok(&it, PS_BSON_OBJECTID, "i", &v);
  assert_int_equal(v.as.bin.len, 12);
  assert_int_equal(v.as.bin.ptr[11], 12);
  next_ok(&it, PS_BSON_BOOL, "t", &v);
  assert_int_equal(v.as.boolean, 1);
  next_ok(&it, PS_BSON_DATETIME, "D", &v);
  assert_int_equal(v.as.i64, 1000);
  next_ok(&it, PS_BSON_NULL, "n", &v);
  next_ok(&it, PS_BSON_INT32, "I", &v);
  assert_int_equal(v.as.i32, -1);
  next_ok(&it, PS_BSON_TIMESTAMP, "T", &v);
  assert_int_equal(v.as.u64, 0x0000000200000001ULL);
  next_ok(&it, PS_BSON_INT64, "L", &v);
  assert_int_equal(v.as.i64, -2);
  assert_int_equal(ps__bson_next(&it, &el, &e), 0);
}

static void skips_unread_values(void **state) {
  struct ps__bson_doc doc;
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_error e;
  int n = 0;
  int rc;
  (void)state;
  assert_int_equal(ps__bson_open(&doc, all_types, sizeof(all_types), &e), 0);
  ps__bson_iter_init(&it, &doc);
  /* ps__bson_next() skips (and validates) a value that was not read. */
  while ((rc = ps__bson_next(&it, &el, &e)) == 1)
    n++;
  assert_int_equal(rc, 0);
  assert_int_equal(n, 13);
}

static void expect_error(const void *data, size_t len, const char *message) {
  struct ps__bson_doc doc;
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_error e;
  char text[256];
  int rc = ps__bson_open(&doc, data, len, &e);
  if (rc == 0) {
    ps__bson_iter_init(&it, &doc);
    while ((rc = ps__bson_next(&it, &el, &e)) == 1) {
      if (ps__bson_skip(&it, &e)) {
        rc = -1;
        break;
      }
    }
  }
  assert_int_equal(rc, -1);
  ps__bson_error_format(&e, text, sizeof(text));
  assert_string_equal(text, message);
}

static void rejects_malformed_documents(void **state) {
  (void)state;
  /* official */
  expect_error("", 0, "bson error, at 0: unexpected end of file");
  expect_error("\x05\x00\x00", 3, "bson error, at 0: unexpected end of file");
  expect_error("\xff\xff\xff\xff\x00", 5,
               "bson error, at 4: invalid document size");
  expect_error("\x04\x00\x00\x00\x00", 5,
               "bson error, at 4: invalid document size");
  expect_error("\x06\x00\x00\x00\x00", 5,
               "bson error, at 4: unexpected end of file");
  expect_error("\x05\x00\x00\x00\x01", 5,
               "bson error, at 4: unexpected end of document");
  expect_error("\x08\x00\x00\x00\x63\x61\x00\x00", 8,
               "bson error, at 4: unknown element code: 99");
  expect_error("\x08\x00\x00\x00\xff\x61\x00\x00", 8,
               "bson error, at 4: unknown element code: -1");
  expect_error("\x09\x00\x00\x00\x10\x61\x61\x61\x61", 9,
               "bson error, at 4: unterminated cstring");
  expect_error("\x0c\x00\x00\x00\x10\xff\x61\x00\x05\x00\x00\x00\x00", 13,
               "bson error, at 4: cstring with non-utf8 content: invalid "
               "utf-8 sequence of 1 bytes from index 0");
  /* An int32 that runs past the end of its document. */
  expect_error("\x0a\x00\x00\x00\x10\x61\x00\x01\x00\x00\xaa\xaa", 12,
               "bson error, at 6: unexpected end of file");
  /* A 0x00 before the declared end is read as a type byte. */
  expect_error("\x07\x00\x00\x00\x00\x00\x00", 7,
               "bson error, at 4: unknown element code: 0");
  /* Strings: negative and zero lengths, invalid and truncated UTF-8. */
  expect_error("\x0d\x00\x00\x00\x02\x61\x00\xff\xff\xff\xff\x00\x00", 13,
               "bson error, at 10: invalid document size");
  expect_error("\x0c\x00\x00\x00\x02\x61\x00\x00\x00\x00\x00\x00", 12,
               "bson error, at 10: invalid document size");
  expect_error("\x0f\x00\x00\x00\x02\x61\x00\x03\x00\x00\x00\x61\xe2\x00\x00",
               15,
               "bson error, at 13: cstring with non-utf8 content: incomplete "
               "utf-8 byte sequence from index 1");
  /* Errors inside a nested document, found while skipping it. */
  expect_error("\x12\x00\x00\x00\x03\x66\x6f\x6f\x00\x08\x00\x00\x00\x63\x61"
               "\x00\x00\x00",
               18, "bson error, at 12: unknown element code: 99");
}

/* The official core's offsets do not count single-byte reads (type bytes,
 * bools, binary subtypes, terminators). */
static void offsets_lag_behind_single_byte_reads(void **state) {
  /* {b: true, s: <string cut short>}: the string's content would start at
   * offset 15; it is reported one byte earlier for each of the two type
   * bytes and the bool. */
  static const unsigned char doc_bytes[] = {0x14, 0,    0,   0, 0x08, 'b', 0,
                                            1,    0x02, 's', 0, 9,    0,   0,
                                            0,    'x',  'y', 0, 0,    0};
  (void)state;
  expect_error(doc_bytes, sizeof(doc_bytes),
               "bson error, at 12: unexpected end of file");
}

static void utf8_check_matches_rust(void **state) {
  static const struct {
    const char *s;
    size_t len;
    int valid;
    size_t up_to;
    int error_len;
  } cases[] = {
      {"plain", 5, 1, 0, 0},
      {"\xc3\xa9\xe2\x82\xac\xf0\x9f\xa6\x80", 9, 1, 0, 0},
      {"a\xff", 2, 0, 1, 1},
      {"a\xc0\x80", 3, 0, 1, 1},        /* Overlong. */
      {"\xed\xa0\x80", 3, 0, 0, 1},     /* Surrogate. */
      {"\xf4\x90\x80\x80", 4, 0, 0, 1}, /* Above U+10FFFF. */
      {"\xe2\x82", 2, 0, 0, 0},         /* Incomplete at the end. */
      {"\xe2\x82x", 3, 0, 0, 2},
      {"\xf0\x9f\xa6x", 4, 0, 0, 3},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    size_t up_to = 99;
    int error_len = 99;
    int valid = ps__bson_utf8_check((const unsigned char *)cases[i].s,
                                    cases[i].len, &up_to, &error_len);
    assert_int_equal(valid, cases[i].valid);
    if (!valid) {
      assert_int_equal(up_to, cases[i].up_to);
      assert_int_equal(error_len, cases[i].error_len);
    }
  }
}

static void limits_nesting_depth(void **state) {
  unsigned char buf[PS_BSON_MAX_DEPTH * 8 + 16];
  size_t depth;
  (void)state;
  for (depth = PS_BSON_MAX_DEPTH; depth <= PS_BSON_MAX_DEPTH + 1; depth++) {
    /* depth nested documents {"x": {"x": ...}}, each 8 bytes of header and
     * terminator around the next. */
    size_t n = 0;
    size_t i;
    struct ps__bson_doc doc;
    struct ps__bson_iter it;
    struct ps__bson_element el;
    struct ps__bson_error e;
    int rc;
    for (i = 0; i < depth; i++) {
      size_t len = 5 + (depth - 1 - i) * 8;
      if (i > 0) {
        buf[n++] = 0x03;
        buf[n++] = 'x';
        buf[n++] = 0;
      }
      buf[n++] = (unsigned char)len;
      buf[n++] = (unsigned char)(len >> 8);
      buf[n++] = 0;
      buf[n++] = 0;
    }
    for (i = 0; i < depth; i++)
      buf[n++] = 0;
    assert_int_equal(ps__bson_open(&doc, buf, n, &e), 0);
    ps__bson_iter_init(&it, &doc);
    assert_int_equal(ps__bson_next(&it, &el, &e), 1);
    rc = ps__bson_skip(&it, &e);
    if (depth <= PS_BSON_MAX_DEPTH) {
      assert_int_equal(rc, 0);
    } else {
      assert_int_equal(rc, -1);
      assert_int_equal(e.code, PS_BSON_E_DEPTH);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(reads_every_type),
      cmocka_unit_test(skips_unread_values),
      cmocka_unit_test(rejects_malformed_documents),
      cmocka_unit_test(offsets_lag_behind_single_byte_reads),
      cmocka_unit_test(utf8_check_matches_rust),
      cmocka_unit_test(limits_nesting_depth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
