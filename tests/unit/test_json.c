/*
 * test_json.c: the JSON reader and writer of src/core/json.c: value kinds,
 * number classification and rounding, string escapes and UTF-8 validation,
 * error messages with positions, the nesting limit, duplicate keys, the
 * serde_json-compatible output format (core-storage.md 2.4.3), deep
 * equality, source offsets and positions, and the duplicate-keeping and
 * partial modes of ps__json_parse_ex().
 */
#include <float.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/json.h"

/* Every test parses into this arena; the teardown frees it. */
static struct ps__arena arena;

static int setup(void **state) {
  (void)state;
  ps__arena_init(&arena, 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ps__arena_free(&arena);
  return 0;
}

static struct ps__json_value *parse_len(const char *text, size_t len) {
  char err[256];
  struct ps__json_value *v = ps__json_parse(&arena, text, len, err, sizeof err);
  if (!v)
    fail_msg("parse of '%s' failed: %s", text, err);
  return v;
}

static struct ps__json_value *parse(const char *text) {
  return parse_len(text, strlen(text));
}

static void assert_parse_error_len(const char *text, size_t len,
                                   const char *expected) {
  char err[256];
  struct ps__json_value *v;
  memset(err, 'x', sizeof err);
  v = ps__json_parse(&arena, text, len, err, sizeof err);
  if (v)
    fail_msg("parse of '%s' succeeded, expected '%s'", text, expected);
  assert_string_equal(err, expected);
}

static void assert_parse_error(const char *text, const char *expected) {
  assert_parse_error_len(text, strlen(text), expected);
}

/* Compact serialisation of v; the result lives until the next call. */
static const char *write_json(const struct ps__json_value *v, int sort_keys) {
  static char result[4096];
  struct ps__buf b;
  ps__buf_init(&b, 0);
  ps__json_write(&b, v, sort_keys);
  assert_int_equal(ps__buf_failed(&b), 0);
  assert_true(b.len < sizeof result);
  memcpy(result, ps__buf_cstr(&b), b.len + 1);
  ps__buf_free(&b);
  return result;
}

static void assert_rewrites(const char *in, int sort_keys, const char *out) {
  assert_string_equal(write_json(parse(in), sort_keys), out);
}

static const char *write_double(double d) {
  static char result[64];
  struct ps__buf b;
  ps__buf_init(&b, 0);
  ps__json_write_double(&b, d);
  assert_true(b.len < sizeof result);
  memcpy(result, ps__buf_cstr(&b), b.len + 1);
  ps__buf_free(&b);
  return result;
}

static double parse_float(const char *text) {
  struct ps__json_value *v = parse(text);
  assert_int_equal(v->type, PS_JSON_FLOAT);
  return v->as.f;
}

static int json_equal_text(const char *a, const char *b) {
  return ps__json_equal(parse(a), parse(b));
}

/* ------------------------------------------------------------------------ */
/* Reader: value kinds                                                      */
/* ------------------------------------------------------------------------ */

static void json_parses_literals(void **state) {
  (void)state;
  assert_int_equal(parse("null")->type, PS_JSON_NULL);
  assert_int_equal(parse("true")->type, PS_JSON_TRUE);
  assert_int_equal(parse("false")->type, PS_JSON_FALSE);
  /* RFC 8259 whitespace around the root is allowed. */
  assert_int_equal(parse(" \t\r\n true \n\t\r ")->type, PS_JSON_TRUE);
}

static void json_parses_containers(void **state) {
  struct ps__json_value *v;
  (void)state;
  v = parse("[]");
  assert_int_equal(v->type, PS_JSON_ARRAY);
  assert_int_equal(v->as.arr.count, 0);
  v = parse("{}");
  assert_int_equal(v->type, PS_JSON_OBJECT);
  assert_int_equal(v->as.obj.count, 0);

  v = parse(" [ 1 , \"two\" , [ ] , { \"k\" : null } ] ");
  assert_int_equal(v->type, PS_JSON_ARRAY);
  assert_int_equal(v->as.arr.count, 4);
  assert_int_equal(v->as.arr.items[0]->type, PS_JSON_INT);
  assert_int_equal(v->as.arr.items[0]->as.i, 1);
  assert_int_equal(v->as.arr.items[1]->type, PS_JSON_STRING);
  assert_string_equal(v->as.arr.items[1]->as.str.ptr, "two");
  assert_int_equal(v->as.arr.items[2]->type, PS_JSON_ARRAY);
  assert_int_equal(v->as.arr.items[3]->type, PS_JSON_OBJECT);
  assert_int_equal(v->as.arr.items[3]->as.obj.count, 1);

  v = parse("{\"a\":{\"b\":[true,false]},\"c\":\"d\"}");
  assert_int_equal(v->as.obj.count, 2);
  assert_string_equal(v->as.obj.members[0].key, "a");
  assert_int_equal(v->as.obj.members[0].key_len, 1);
  assert_string_equal(v->as.obj.members[1].key, "c");
  assert_int_equal(ps__json_get(ps__json_get(v, "a"), "b")->as.arr.count, 2);
  assert_string_equal(ps__json_get(v, "c")->as.str.ptr, "d");
  assert_null(ps__json_get(v, "missing"));
  assert_null(ps__json_get(v, "ab"));
  assert_null(ps__json_get(ps__json_get(v, "c"), "c"));
  assert_null(ps__json_get(NULL, "c"));
}

static void json_get_matches_whole_keys_only(void **state) {
  struct ps__json_value *v;
  (void)state;
  /* A key with an embedded NUL must not match its prefix. */
  v = parse("{\"a\\u0000b\":1,\"a\":2}");
  assert_int_equal(v->as.obj.count, 2);
  assert_int_equal(v->as.obj.members[0].key_len, 3);
  assert_int_equal(ps__json_get(v, "a")->as.i, 2);
}

/* ------------------------------------------------------------------------ */
/* Reader: numbers                                                          */
/* ------------------------------------------------------------------------ */

static void json_classifies_integers_like_serde(void **state) {
  struct ps__json_value *v;
  (void)state;
  v = parse("0");
  assert_int_equal(v->type, PS_JSON_INT);
  assert_int_equal(v->as.i, 0);
  v = parse("-1");
  assert_int_equal(v->type, PS_JSON_INT);
  assert_int_equal(v->as.i, -1);
  v = parse("9223372036854775807");
  assert_int_equal(v->type, PS_JSON_INT);
  assert_true(v->as.i == INT64_MAX);
  v = parse("9223372036854775808");
  assert_int_equal(v->type, PS_JSON_UINT);
  assert_true(v->as.u == (uint64_t)INT64_MAX + 1);
  v = parse("18446744073709551615");
  assert_int_equal(v->type, PS_JSON_UINT);
  assert_true(v->as.u == UINT64_MAX);
  v = parse("-9223372036854775808");
  assert_int_equal(v->type, PS_JSON_INT);
  assert_true(v->as.i == INT64_MIN);

  /* Beyond the 64-bit ranges integers become floats. */
  v = parse("18446744073709551616");
  assert_int_equal(v->type, PS_JSON_FLOAT);
  assert_true(v->as.f == 18446744073709551616.0);
  v = parse("-9223372036854775809");
  assert_int_equal(v->type, PS_JSON_FLOAT);
  assert_true(v->as.f == -9223372036854775808.0);
  v = parse("123456789012345678901234567890");
  assert_int_equal(v->type, PS_JSON_FLOAT);
  assert_true(v->as.f == 123456789012345678901234567890.0);

  /* "-0" is the float -0.0; "0" stays an integer. */
  v = parse("-0");
  assert_int_equal(v->type, PS_JSON_FLOAT);
  assert_true(v->as.f == 0.0 && signbit(v->as.f));
}

static void json_fraction_or_exponent_makes_a_float(void **state) {
  (void)state;
  assert_true(parse_float("1.0") == 1.0);
  assert_true(parse_float("1e2") == 100.0);
  assert_true(parse_float("1E2") == 100.0);
  assert_true(parse_float("1e+2") == 100.0);
  assert_true(parse_float("1e-2") == 0.01);
  assert_true(parse_float("-1.5") == -1.5);
  assert_true(parse_float("0.0") == 0.0);
  assert_false(signbit(parse_float("0.0")));
  assert_true(signbit(parse_float("-0.0")));
  assert_true(signbit(parse_float("-0e10")));
  assert_true(parse_float("0e999999999999999999999") == 0.0);
}

static void json_floats_are_correctly_rounded(void **state) {
  double min_sub = 4.9406564584124654e-324;
  char many[320];
  (void)state;
  assert_true(parse_float("0.1") == 0.1);
  assert_true(parse_float("0.30000000000000004") == 0.1 + 0.2);
  assert_true(parse_float("1.7976931348623157e308") == DBL_MAX);
  assert_true(parse_float("2.2250738585072014e-308") == DBL_MIN);
  assert_true(parse_float("5e-324") == min_sub);
  /* Half the smallest subnormal: just above rounds up, just below to 0. */
  assert_true(parse_float("2.4703282292062328e-324") == min_sub);
  assert_true(parse_float("2.4703282292062327e-324") == 0.0);
  /* 2^53 + 1 is a tie between 2^53 and 2^53 + 2: ties go to even. */
  assert_true(parse_float("9007199254740993.0") == 9007199254740992.0);
  assert_true(parse_float("9007199254740993.0000000000000001") ==
              9007199254740994.0);
  /* The exact binary value of 0.1, all 55 digits. */
  assert_true(
      parse_float(
          "0.1000000000000000055511151231257827021181583404541015625") == 0.1);
  /* Leading and trailing zeros do not count against any limit:
   * "0.<300 zeros>1e301" and "1<300 zeros>e-300" are both 1.0. */
  memcpy(many, "0.", 2);
  memset(many + 2, '0', 300);
  strcpy(many + 302, "1e301");
  assert_true(parse_float(many) == 1.0);
  many[0] = '1';
  memset(many + 1, '0', 300);
  strcpy(many + 301, "e-300");
  assert_true(parse_float(many) == 1.0);
  assert_true(parse_float("1e-400") == 0.0);
  assert_true(signbit(parse_float("-1e-400")));
}

static void json_rejects_out_of_range_numbers(void **state) {
  (void)state;
  assert_parse_error("1e400", "number out of range at line 1 column 5");
  assert_parse_error("[-1.8e308]", "number out of range at line 1 column 9");
  assert_parse_error("1e99999999999999999999999",
                     "number out of range at line 1 column 25");
}

static void json_parses_numbers_independently_of_locale(void **state) {
  static const char *const comma_locales[] = {
      "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "de_DE", NULL};
  const char *const *l;
  int found = 0;
  (void)state;
  for (l = comma_locales; *l; l++) {
    if (setlocale(LC_NUMERIC, *l) && localeconv()->decimal_point[0] == ',') {
      found = 1;
      break;
    }
  }
  if (!found) {
    setlocale(LC_NUMERIC, "C");
    skip();
  }
  /* Both directions must ignore the locale's decimal comma. */
  assert_true(parse_float("1.5") == 1.5);
  assert_true(parse_float("123456.789e-3") == 123.456789);
  assert_string_equal(write_double(1.5), "1.5");
  assert_string_equal(write_double(1.2345678901234568e+17),
                      "1.2345678901234568e+17");
  setlocale(LC_NUMERIC, "C");
}

/* ------------------------------------------------------------------------ */
/* Reader: strings                                                          */
/* ------------------------------------------------------------------------ */

static void json_decodes_escapes(void **state) {
  struct ps__json_value *v;
  (void)state;
  v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
  assert_int_equal(v->type, PS_JSON_STRING);
  assert_string_equal(v->as.str.ptr, "\"\\/\b\f\n\r\t");
  assert_int_equal(v->as.str.len, 8);

  v = parse("\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"");
  assert_string_equal(v->as.str.ptr,
                      "A\xC3\xA9\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");

  /* A surrogate pair is one 4-byte character. */
  v = parse("\"\\ud83d\\ude00|\\uD800\\uDC00|\\uDBFF\\uDFFF\"");
  assert_string_equal(v->as.str.ptr,
                      "\xF0\x9F\x98\x80|\xF0\x90\x80\x80|\xF4\x8F\xBF\xBF");

  /* \u0000 yields a NUL byte inside the string; the length counts it. */
  v = parse("\"a\\u0000b\"");
  assert_int_equal(v->as.str.len, 3);
  assert_memory_equal(v->as.str.ptr, "a\0b", 4);

  v = parse("\"\"");
  assert_int_equal(v->as.str.len, 0);
  assert_string_equal(v->as.str.ptr, "");
}

static void json_keeps_raw_utf8(void **state) {
  struct ps__json_value *v;
  (void)state;
  v = parse("\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F/\"");
  assert_string_equal(v->as.str.ptr,
                      "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F/");
  /* The extremes of each sequence length. */
  v = parse("\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80"
            "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"");
  assert_int_equal(v->as.str.len, 2 + 2 + 3 + 3 + 3 + 4 + 4);
}

static void json_rejects_invalid_utf8(void **state) {
  static const char *const bad[] = {
      "\"\x80\"",             /* Lone continuation byte. */
      "\"\xC0\x80\"",         /* Overlong NUL. */
      "\"\xC1\xBF\"",         /* Overlong ASCII. */
      "\"\xE0\x80\x80\"",     /* Overlong 3-byte form. */
      "\"\xE0\x9F\xBF\"",     /* Overlong 3-byte form. */
      "\"\xED\xA0\x80\"",     /* UTF-16 surrogate U+D800. */
      "\"\xED\xBF\xBF\"",     /* UTF-16 surrogate U+DFFF. */
      "\"\xF0\x80\x80\x80\"", /* Overlong 4-byte form. */
      "\"\xF0\x8F\xBF\xBF\"", /* Overlong 4-byte form. */
      "\"\xF4\x90\x80\x80\"", /* Above U+10FFFF. */
      "\"\xF5\x80\x80\x80\"", /* Never valid lead byte. */
      "\"\xFF\"",             /* Never valid byte. */
      "\"\xC3\"",             /* Truncated by the closing quote. */
      "\"\xE2\x82\"",         /* Truncated by the closing quote. */
      "\"\xC3\x28\"",         /* Bad continuation byte. */
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char err[128];
    if (ps__json_parse(&arena, bad[i], strlen(bad[i]), err, sizeof err))
      fail_msg("invalid UTF-8 #%zu was accepted", i);
    assert_string_equal(err, "invalid unicode code point at line 1 column 2");
  }
  /* Truncated at the end of the input. */
  assert_parse_error("\"\xF0\x9F\x98", "EOF while parsing a string at line 1 "
                                       "column 4");
  /* Invalid bytes outside strings are plain syntax errors. */
  assert_parse_error("\xEF\xBB\xBF{}", "expected value at line 1 column 1");
}

static void json_rejects_bad_escapes(void **state) {
  (void)state;
  assert_parse_error("\"\\x\"", "invalid escape at line 1 column 3");
  assert_parse_error("\"\\U0041\"", "invalid escape at line 1 column 3");
  assert_parse_error("\"\\u12G4\"", "invalid escape at line 1 column 6");
  assert_parse_error("\"\\u12\"", "invalid escape at line 1 column 6");
  assert_parse_error("\"\\u12",
                     "EOF while parsing a string at line 1 column 5");
  assert_parse_error("\"\\", "EOF while parsing a string at line 1 column 2");
  assert_parse_error("\"\\'\"", "invalid escape at line 1 column 3");
}

static void json_rejects_lone_surrogates(void **state) {
  (void)state;
  assert_parse_error("\"\\ud83d\"",
                     "unexpected end of hex escape at line 1 column 8");
  assert_parse_error("\"\\ud83dx\"",
                     "unexpected end of hex escape at line 1 column 8");
  assert_parse_error("\"\\ud83d\\n\"",
                     "unexpected end of hex escape at line 1 column 9");
  assert_parse_error(
      "\"\\ud83d\\u0041\"",
      "lone leading surrogate in hex escape at line 1 column 13");
  assert_parse_error(
      "\"\\ud83d\\ud83d\"",
      "lone leading surrogate in hex escape at line 1 column 13");
  assert_parse_error(
      "\"\\ude00\"",
      "lone trailing surrogate in hex escape at line 1 column 7");
  assert_parse_error("\"\\ud83d", "EOF while parsing a string at line 1 "
                                  "column 7");
  assert_parse_error("\"\\ud83d\\",
                     "EOF while parsing a string at line 1 column 8");
}

static void json_rejects_control_characters(void **state) {
  (void)state;
  assert_parse_error("\"a\tb\"", "control character (\\u0000-\\u001F) found "
                                 "while parsing a string at line 1 column 3");
  assert_parse_error("\"a\nb\"", "control character (\\u0000-\\u001F) found "
                                 "while parsing a string at line 2 column 0");
  assert_parse_error_len("\"a\0b\"", 5,
                         "control character (\\u0000-\\u001F) found while "
                         "parsing a string at line 1 column 3");
  assert_parse_error("\"\x1F\"", "control character (\\u0000-\\u001F) found "
                                 "while parsing a string at line 1 column 2");
  /* 0x7F is not a control character for JSON. */
  assert_int_equal(parse("\"\x7F\"")->as.str.len, 1);
}

/* ------------------------------------------------------------------------ */
/* Reader: errors                                                           */
/* ------------------------------------------------------------------------ */

static void json_reports_syntax_errors_like_serde(void **state) {
  static const struct {
    const char *in;
    const char *err;
  } cases[] = {
      {"", "EOF while parsing a value at line 1 column 0"},
      {"   ", "EOF while parsing a value at line 1 column 3"},
      {"x", "expected value at line 1 column 1"},
      {"nul", "EOF while parsing a value at line 1 column 3"},
      {"nulL", "expected ident at line 1 column 4"},
      {"tru", "EOF while parsing a value at line 1 column 3"},
      {"trux", "expected ident at line 1 column 4"},
      {"fals", "EOF while parsing a value at line 1 column 4"},
      {"True", "expected value at line 1 column 1"},
      {"\"abcd", "EOF while parsing a string at line 1 column 5"},
      {"\"", "EOF while parsing a string at line 1 column 1"},
      {"{\"a\":1} x", "trailing characters at line 1 column 9"},
      {"1 2", "trailing characters at line 1 column 3"},
      {"[1,]", "trailing comma at line 1 column 4"},
      {"[1, ]", "trailing comma at line 1 column 5"},
      {"{\"a\":1,}", "trailing comma at line 1 column 8"},
      {"[", "EOF while parsing a list at line 1 column 1"},
      {"[1", "EOF while parsing a list at line 1 column 2"},
      {"[1,", "EOF while parsing a value at line 1 column 3"},
      {"[1 2]", "expected `,` or `]` at line 1 column 4"},
      {"[1:2]", "expected `,` or `]` at line 1 column 3"},
      {"[,1]", "expected value at line 1 column 2"},
      {"{", "EOF while parsing an object at line 1 column 1"},
      {"{\"a\"", "EOF while parsing an object at line 1 column 4"},
      {"{\"a\":", "EOF while parsing a value at line 1 column 5"},
      {"{\"a\":1", "EOF while parsing an object at line 1 column 6"},
      {"{\"a\":1,", "EOF while parsing a value at line 1 column 7"},
      {"{\"a\" 1}", "expected `:` at line 1 column 6"},
      {"{\"a\":1 \"b\":2}", "expected `,` or `}` at line 1 column 8"},
      {"{1:2}", "key must be a string at line 1 column 2"},
      {"{'a':2}", "key must be a string at line 1 column 2"},
      {"{\"a\":1,2:3}", "key must be a string at line 1 column 8"},
      {"]", "expected value at line 1 column 1"},
      {"-", "EOF while parsing a value at line 1 column 1"},
      {"-a", "invalid number at line 1 column 2"},
      {"+1", "expected value at line 1 column 1"},
      {".5", "expected value at line 1 column 1"},
      {"01", "invalid number at line 1 column 2"},
      {"-01", "invalid number at line 1 column 3"},
      {"00", "invalid number at line 1 column 2"},
      {"1.", "EOF while parsing a value at line 1 column 2"},
      {"1.e3", "invalid number at line 1 column 3"},
      {"1e", "EOF while parsing a value at line 1 column 2"},
      {"1e+", "EOF while parsing a value at line 1 column 3"},
      {"1ex", "invalid number at line 1 column 3"},
      {"1.5.2", "trailing characters at line 1 column 4"},
      {"NaN", "expected value at line 1 column 1"},
      {"Infinity", "expected value at line 1 column 1"},
      {"[1]\v", "trailing characters at line 1 column 4"},
      {"\f[1]", "expected value at line 1 column 1"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_parse_error(cases[i].in, cases[i].err);
}

static void json_error_positions_count_lines(void **state) {
  (void)state;
  assert_parse_error("{\n  \"a\": 1,\n  \"b\" 2\n}",
                     "expected `:` at line 3 column 7");
  assert_parse_error("[\n1,\n2,\n]", "trailing comma at line 4 column 1");
  assert_parse_error("[1]\n\n  x", "trailing characters at line 3 column 3");
  assert_parse_error("[1,\n", "EOF while parsing a value at line 2 column 0");
  /* Columns count bytes, as serde_json does. */
  assert_parse_error("[\"\xC3\xA9\" x]",
                     "expected `,` or `]` at line 1 column 7");
}

static void json_nul_bytes_in_text_are_not_terminators(void **state) {
  (void)state;
  assert_parse_error_len("1\0", 2, "trailing characters at line 1 column 2");
  assert_parse_error_len("\0", 1, "expected value at line 1 column 1");
  /* Only len bytes are read, even if the text goes on. */
  assert_int_equal(parse_len("[1]garbage", 3)->as.arr.count, 1);
}

static void json_error_buffer_is_optional_and_truncated(void **state) {
  char small[8];
  char err[64];
  (void)state;
  assert_null(ps__json_parse(&arena, "x", 1, NULL, 0));
  assert_null(ps__json_parse(&arena, "x", 1, small, sizeof small));
  assert_string_equal(small, "expecte");
  /* A successful parse leaves an empty message. */
  strcpy(err, "stale");
  assert_non_null(ps__json_parse(&arena, "1", 1, err, sizeof err));
  assert_string_equal(err, "");
  /* NULL text with length 0 is the empty document. */
  assert_null(ps__json_parse(&arena, NULL, 0, err, sizeof err));
  assert_string_equal(err, "EOF while parsing a value at line 1 column 0");
}

static void json_reports_arena_exhaustion(void **state) {
  struct ps__arena small;
  char err[64];
  char text[20000];
  size_t i;
  (void)state;
  text[0] = '[';
  for (i = 1; i < sizeof(text) - 1; i += 2) {
    text[i] = '1';
    text[i + 1] = ',';
  }
  text[sizeof(text) - 2] = '1';
  text[sizeof(text) - 1] = ']';
  ps__arena_init(&small, 4096);
  assert_null(ps__json_parse(&small, text, sizeof text, err, sizeof err));
  assert_string_equal(err, "out of memory");
  ps__arena_free(&small);
}

/* Builds n nested arrays ("[[...]]") or objects ({"a":{"a":...}}). */
static char *nested(size_t n, int objects) {
  char *s = malloc(n * 6 + 2);
  size_t i;
  size_t k = 0;
  assert_non_null(s);
  for (i = 0; i < n; i++) {
    if (objects) {
      memcpy(s + k, "{\"a\":", 5);
      k += 5;
    } else {
      s[k++] = '[';
    }
  }
  if (objects)
    s[k++] = '1';
  for (i = 0; i < n; i++)
    s[k++] = objects ? '}' : ']';
  s[k] = '\0';
  return s;
}

static void json_enforces_depth_limit(void **state) {
  char *s;
  (void)state;
  s = nested(PS_JSON_MAX_DEPTH, 0);
  assert_non_null(parse(s));
  free(s);
  s = nested(PS_JSON_MAX_DEPTH + 1, 0);
  assert_parse_error(s, "recursion limit exceeded at line 1 column 128");
  free(s);
  s = nested(PS_JSON_MAX_DEPTH, 1);
  assert_non_null(parse(s));
  free(s);
  s = nested(PS_JSON_MAX_DEPTH + 1, 1);
  assert_parse_error(s, "recursion limit exceeded at line 1 column 636");
  free(s);
  /* Far deeper input fails the same way without using more stack. */
  s = nested(100000, 0);
  assert_parse_error(s, "recursion limit exceeded at line 1 column 128");
  free(s);
  /* Depth counts nesting, not the number of containers. */
  assert_non_null(parse("[[[]],[[]],{\"a\":[{}]}]"));
}

/* ------------------------------------------------------------------------ */
/* Reader: duplicate keys                                                   */
/* ------------------------------------------------------------------------ */

static void json_duplicate_keys_last_wins_first_position(void **state) {
  struct ps__json_value *v;
  (void)state;
  v = parse("{\"b\":1,\"a\":2,\"b\":3}");
  assert_int_equal(v->as.obj.count, 2);
  assert_string_equal(v->as.obj.members[0].key, "b");
  assert_int_equal(v->as.obj.members[0].value->as.i, 3);
  assert_string_equal(v->as.obj.members[1].key, "a");
  assert_string_equal(write_json(v, 0), "{\"b\":3,\"a\":2}");

  v = parse("{\"a\":1,\"a\":{\"x\":1,\"x\":[2]},\"a\":null,\"a\":\"s\"}");
  assert_int_equal(v->as.obj.count, 1);
  assert_string_equal(write_json(v, 0), "{\"a\":\"s\"}");

  /* Escaped and raw spellings of a key are the same key. */
  v = parse("{\"\\u00e9\":1,\"\xC3\xA9\":2}");
  assert_int_equal(v->as.obj.count, 1);
  assert_int_equal(v->as.obj.members[0].value->as.i, 2);
  /* Keys that differ after a NUL are different keys. */
  v = parse("{\"a\\u0000x\":1,\"a\\u0000y\":2,\"a\":3}");
  assert_int_equal(v->as.obj.count, 3);
}

static void json_duplicate_keys_in_big_objects(void **state) {
  struct ps__buf in;
  struct ps__json_value *v;
  size_t i;
  (void)state;
  /* 300 distinct keys, each written three times in interleaved rounds: the
   * big-object path must keep first positions and last values. */
  ps__buf_init(&in, 0);
  ps__buf_putc(&in, '{');
  for (i = 0; i < 900; i++) {
    size_t key = i % 300;
    size_t round = i / 300;
    ps__buf_printf(&in, "%s\"k%zu\":%zu", i ? "," : "", (key * 7919) % 300,
                   round * 1000 + key);
  }
  ps__buf_putc(&in, '}');
  v = parse(ps__buf_cstr(&in));
  assert_int_equal(v->as.obj.count, 300);
  for (i = 0; i < 300; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%zu", (i * 7919) % 300);
    assert_string_equal(v->as.obj.members[i].key, key);
    assert_int_equal(v->as.obj.members[i].value->as.i, 2000 + i);
  }
  ps__buf_free(&in);
}

static void json_big_objects_parse_in_linear_time(void **state) {
  struct ps__buf in;
  struct ps__json_value *v;
  size_t i;
  (void)state;
  /* With pairwise duplicate checks these would take minutes. */
  ps__buf_init(&in, 0);
  ps__buf_putc(&in, '{');
  for (i = 0; i < 200000; i++)
    ps__buf_printf(&in, "%s\"key%zu\":%zu", i ? "," : "", i, i);
  ps__buf_putc(&in, '}');
  v = parse_len(ps__buf_cstr(&in), in.len);
  assert_int_equal(v->as.obj.count, 200000);
  assert_int_equal(ps__json_equal(v, v), 1);

  ps__buf_reset(&in);
  ps__buf_putc(&in, '{');
  for (i = 0; i < 200000; i++)
    ps__buf_printf(&in, "%s\"same\":%zu", i ? "," : "", i);
  ps__buf_putc(&in, '}');
  v = parse_len(ps__buf_cstr(&in), in.len);
  assert_int_equal(v->as.obj.count, 1);
  assert_int_equal(v->as.obj.members[0].value->as.i, 199999);
  ps__buf_free(&in);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

static void json_writes_doubles_like_serde(void **state) {
  static const struct {
    double d;
    const char *text;
  } cases[] = {
      /* Plain decimal when 1e-5 <= |x| < 1e16. */
      {100.0, "100.0"},
      {1.0, "1.0"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {0.00001, "0.00001"},
      {0.000025, "0.000025"},
      {1000000000000000.0, "1000000000000000.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {123456789.125, "123456789.125"},
      {0.30000000000000004, "0.30000000000000004"},
      {-1.5, "-1.5"},
      {17976931.348623157, "17976931.348623157"},
      /* Exponent form otherwise, "+" on positive exponents, no ".0". */
      {1e16, "1e+16"},
      {1.5e300, "1.5e+300"},
      {1e-6, "1e-6"},
      {9.99999e-6, "9.99999e-6"},
      {1.2345678901234568e+17, "1.2345678901234568e+17"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {-1e21, "-1e+21"},
      {1e23, "1e+23"},
      {18446744073709551616.0, "1.8446744073709552e+19"},
      /* Powers of two where the correctly rounded shortest candidate does
       * not read back but the next one up does (the boundary below a power
       * of two is closer). */
      {5.9604644775390625e-8, "5.960464477539063e-8"},
      {5.684341886080801486968994140625e-14, "5.684341886080802e-14"},
      /* Values whose search for the shortest length probes too few digits
       * after having found enough. */
      {9.33263618503219e-302, "9.33263618503219e-302"},
      {7.46610894802575e-301, "7.46610894802575e-301"},
      {0.1 + 0.7, "0.7999999999999999"},
      {1.0 / 3.0, "0.3333333333333333"},
      {2.0 / 3.0, "0.6666666666666666"},
      {123456.7890123456789, "123456.78901234567"},
      /* Zeros keep their sign. */
      {0.0, "0.0"},
      {-0.0, "-0.0"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    assert_string_equal(write_double(cases[i].d), cases[i].text);
  assert_string_equal(write_double(HUGE_VAL), "null");
  assert_string_equal(write_double(-HUGE_VAL), "null");
  assert_string_equal(write_double(NAN), "null");
}

static void json_written_doubles_read_back_exactly(void **state) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  size_t i;
  (void)state;
  for (i = 0; i < 20000; i++) {
    double d;
    double back;
    const char *text;
    /* xorshift64: a spread of bit patterns over every exponent. */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(&d, &x, sizeof d);
    if (isnan(d) || isinf(d))
      continue;
    text = write_double(d);
    back = parse_float(text);
    if (memcmp(&back, &d, sizeof d) != 0)
      fail_msg("%.17g written as %s reads back as %.17g", d, text, back);
  }
}

static void json_writes_integers(void **state) {
  (void)state;
  assert_rewrites("[0,-1,9223372036854775807,-9223372036854775808,"
                  "9223372036854775808,18446744073709551615]",
                  0,
                  "[0,-1,9223372036854775807,-9223372036854775808,"
                  "9223372036854775808,18446744073709551615]");
}

static void json_writes_strings_like_serde(void **state) {
  struct ps__buf b;
  char all[0x80];
  size_t i;
  (void)state;
  for (i = 0; i < sizeof all; i++)
    all[i] = (char)i;
  ps__buf_init(&b, 0);
  ps__json_write_string(&b, all, sizeof all);
  assert_string_equal(
      ps__buf_cstr(&b),
      "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
      "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
      "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
      "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
      " !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_"
      "`abcdefghijklmnopqrstuvwxyz{|}~\x7F\"");
  ps__buf_reset(&b);
  ps__json_write_string(&b, "", 0);
  assert_string_equal(ps__buf_cstr(&b), "\"\"");
  ps__buf_free(&b);

  /* Input escapes are decoded; output escapes only what it must. */
  assert_rewrites("\"\\u00e9\\/\\u2028\\ud83d\\ude00\\u001F\\u007f\"", 0,
                  "\"\xC3\xA9/\xE2\x80\xA8\xF0\x9F\x98\x80\\u001f\x7F\"");
}

static void json_writes_compact_in_document_order(void **state) {
  (void)state;
  assert_rewrites(" { \"z\" : 1 , \"a\" : [ true , false , null , { } , [ ] ] "
                  "} ",
                  0, "{\"z\":1,\"a\":[true,false,null,{},[]]}");
  assert_rewrites("\"x\"", 0, "\"x\"");
  assert_string_equal(write_json(NULL, 0), "null");
}

static void json_writes_sorted_keys_bytewise(void **state) {
  (void)state;
  assert_rewrites("{\"z\":1,\"a\":3}", 1, "{\"a\":3,\"z\":1}");
  /* Every level is sorted, including objects inside arrays. */
  assert_rewrites("{\"b\":{\"y\":1,\"x\":[{\"d\":1,\"c\":2}]},\"a\":0}", 1,
                  "{\"a\":0,\"b\":{\"x\":[{\"c\":2,\"d\":1}],\"y\":1}}");
  /* A prefix sorts first; bytes compare unsigned, so non-ASCII comes after
   * ASCII; "B" (0x42) before "a" (0x61). */
  assert_rewrites("{\"\xC3\xA9\":1,\"aa\":2,\"b\":3,\"a\":4,\"B\":5,\"\":6}", 1,
                  "{\"\":6,\"B\":5,\"a\":4,\"aa\":2,\"b\":3,\"\xC3\xA9\":1}");
  /* Keys with NUL bytes compare over their whole length. */
  assert_rewrites("{\"a\\u0000b\":1,\"a\":2,\"a\\u0000\":3}", 1,
                  "{\"a\":2,\"a\\u0000\":3,\"a\\u0000b\":1}");
  /* Big objects take the same order. */
  assert_rewrites("{\"p\":1,\"o\":1,\"n\":1,\"m\":1,\"l\":1,\"k\":1,\"j\":1,"
                  "\"i\":1,\"h\":1,\"g\":1,\"f\":1,\"e\":1,\"d\":1,\"c\":1,"
                  "\"b\":1,\"a\":1,\"a\":2}",
                  1,
                  "{\"a\":2,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
                  "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
                  "\"o\":1,\"p\":1}");
}

static void json_diff_normalisation_examples(void **state) {
  (void)state;
  /* core-storage.md 2.4.3 and 14.5: what powersync_diff writes. */
  assert_rewrites("{\"a\":1e2}", 1, "{\"a\":100.0}");
  assert_rewrites("{\"a\":-0}", 1, "{\"a\":-0.0}");
  assert_rewrites("{\"a\":1.0}", 1, "{\"a\":1.0}");
  assert_rewrites("{\"a\":1.00}", 1, "{\"a\":1.0}");
  assert_rewrites("{\"a\": [1,2,3]}", 1, "{\"a\":[1,2,3]}");
  assert_rewrites("{\"a\": \"1\"}", 1, "{\"a\":\"1\"}");
  assert_rewrites("{\"z\":1,\"a\":3}", 1, "{\"a\":3,\"z\":1}");
  assert_rewrites("{\"a\":1,\"b\":\"test\"}", 1, "{\"a\":1,\"b\":\"test\"}");
  assert_rewrites("{\"s\":\"caf\\u00e9 \\/ \\\"q\\\"\"}", 1,
                  "{\"s\":\"caf\xC3\xA9 / \\\"q\\\"\"}");
  assert_rewrites("[1E2,1e16,1e-6,0.00001]", 1, "[100.0,1e+16,1e-6,0.00001]");
}

/* ------------------------------------------------------------------------ */
/* Equality                                                                 */
/* ------------------------------------------------------------------------ */

static void json_equality_rules(void **state) {
  (void)state;
  /* Numbers: kind and value. */
  assert_false(json_equal_text("1", "1.0"));
  assert_true(json_equal_text("1.00", "1.0"));
  assert_true(json_equal_text("1e2", "100.0"));
  assert_true(json_equal_text("-0.0", "0.0"));
  assert_true(json_equal_text("-0", "0.0"));
  assert_false(json_equal_text("-0", "0"));
  assert_true(json_equal_text("0", "0"));
  assert_false(json_equal_text("1", "2"));
  assert_true(json_equal_text("18446744073709551615", "18446744073709551615"));
  assert_false(json_equal_text("18446744073709551615", "18446744073709551614"));
  assert_false(json_equal_text("9223372036854775807", "9223372036854775808"));
  /* Other scalars. */
  assert_true(json_equal_text("null", "null"));
  assert_false(json_equal_text("null", "false"));
  assert_false(json_equal_text("true", "false"));
  assert_false(json_equal_text("\"1\"", "1"));
  assert_true(json_equal_text("\"\\u00e9\"", "\"\xC3\xA9\""));
  assert_false(json_equal_text("\"a\\u0000b\"", "\"a\\u0000c\""));
  assert_false(json_equal_text("\"a\"", "\"a\\u0000\""));
  /* Arrays are ordered; objects are unordered key sets. */
  assert_true(json_equal_text("[1,[2,{}]]", "[1,[2,{}]]"));
  assert_false(json_equal_text("[1,2]", "[2,1]"));
  assert_false(json_equal_text("[1,2]", "[1,2,3]"));
  assert_true(json_equal_text("{\"a\":1,\"b\":[2]}", "{\"b\":[2],\"a\":1}"));
  assert_false(json_equal_text("{\"a\":1}", "{\"a\":1,\"b\":2}"));
  assert_false(json_equal_text("{\"a\":1,\"c\":2}", "{\"a\":1,\"b\":2}"));
  assert_false(json_equal_text("{\"a\":1}", "{\"a\":1.0}"));
  assert_true(json_equal_text("{\"a\":1,\"a\":2}", "{\"a\":2}"));
  assert_false(json_equal_text("{}", "[]"));
  /* Pointers. */
  assert_true(ps__json_equal(NULL, NULL));
  assert_false(ps__json_equal(parse("1"), NULL));
}

static void json_equality_of_big_objects(void **state) {
  (void)state;
  /* 17 keys each, so the sorted comparison is used. */
  assert_true(json_equal_text("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":"
                              "6,\"g\":7,\"h\":8,\"i\":9,"
                              "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,"
                              "\"o\":15,\"p\":16,\"q\":17}",
                              "{\"q\":17,\"p\":16,\"o\":15,\"n\":14,\"m\":13,"
                              "\"l\":12,\"k\":11,\"j\":10,"
                              "\"i\":9,\"h\":8,\"g\":7,\"f\":6,\"e\":5,\"d\":4,"
                              "\"c\":3,\"b\":2,\"a\":1}"));
  assert_false(json_equal_text("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":"
                               "6,\"g\":7,\"h\":8,\"i\":9,"
                               "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,"
                               "\"o\":15,\"p\":16,\"q\":17}",
                               "{\"q\":17,\"p\":16,\"o\":15,\"n\":14,\"m\":13,"
                               "\"l\":12,\"k\":11,\"j\":10,"
                               "\"i\":9,\"h\":8,\"g\":7,\"f\":6,\"e\":5,\"d\":"
                               "4,\"c\":3,\"b\":2,\"a\":1.0}"));
  assert_false(json_equal_text("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":"
                               "6,\"g\":7,\"h\":8,\"i\":9,"
                               "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,"
                               "\"o\":15,\"p\":16,\"q\":17}",
                               "{\"q\":17,\"p\":16,\"o\":15,\"n\":14,\"m\":13,"
                               "\"l\":12,\"k\":11,\"j\":10,"
                               "\"i\":9,\"h\":8,\"g\":7,\"f\":6,\"e\":5,\"d\":"
                               "4,\"c\":3,\"b\":2,\"r\":1}"));
}

static void json_written_output_reads_back_equal(void **state) {
  static const char *const docs[] = {
      "{\"checkpoint\":{\"last_op_id\":\"5\",\"buckets\":[{\"bucket\":\"1#"
      "global"
      "[]\",\"checksum\":528174757,\"count\":2,\"priority\":3}]}}",
      "[1.5,-0,1e308,4.9e-324,18446744073709551615,-9223372036854775808]",
      "{\"s\":\"\\u0000\\u001f\\\"\\\\\\/\\b\\f\\n\\r\\t\xF0\x9F\x98\x80\"}",
      "[[[[{\"a\":[[{}]]}]]]]",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    struct ps__json_value *v = parse(docs[i]);
    int sort;
    for (sort = 0; sort < 2; sort++) {
      const char *text = write_json(v, sort);
      struct ps__json_value *back = parse(text);
      assert_true(ps__json_equal(v, back));
      /* Writing is a fixed point after one round. */
      assert_string_equal(write_json(back, sort), text);
    }
  }
}

/* Offsets of values and keys in the text: start at the first byte, end just
 * past the last, blanks excluded. */
static void json_values_record_offsets(void **state) {
  const char *text = " {\"a\" : [1, \"x\"],\n \"bc\":null } ";
  struct ps__json_value *v = parse(text);
  const struct ps__json_value *arr;
  (void)state;
  assert_int_equal(v->start, 1);
  assert_int_equal(v->end, strlen(text) - 1);
  assert_int_equal(v->as.obj.members[0].key_end, 5);
  arr = v->as.obj.members[0].value;
  assert_int_equal(arr->start, 8);
  assert_int_equal(arr->end, 16);
  assert_int_equal(arr->as.arr.items[0]->start, 9);
  assert_int_equal(arr->as.arr.items[0]->end, 10);
  assert_int_equal(arr->as.arr.items[1]->start, 12);
  assert_int_equal(arr->as.arr.items[1]->end, 15);
  assert_int_equal(v->as.obj.members[1].key_end, 23);
  assert_int_equal(v->as.obj.members[1].value->start, 24);
  assert_int_equal(v->as.obj.members[1].value->end, 28);
}

/* serde_json's line/column: lines start after '\n' only, the column is the
 * offset in the line, and offsets past the end are capped. */
static void json_position_counts_like_serde(void **state) {
  const char *text = "ab\ncd\r\nef";
  size_t line;
  size_t column;
  (void)state;
  ps__json_position(text, strlen(text), 0, &line, &column);
  assert_int_equal(line, 1);
  assert_int_equal(column, 0);
  ps__json_position(text, strlen(text), 2, &line, &column);
  assert_int_equal(line, 1);
  assert_int_equal(column, 2);
  ps__json_position(text, strlen(text), 3, &line, &column);
  assert_int_equal(line, 2);
  assert_int_equal(column, 0);
  ps__json_position(text, strlen(text), 6, &line, &column);
  assert_int_equal(line, 2);
  assert_int_equal(column, 3);
  ps__json_position(text, strlen(text), 100, &line, &column);
  assert_int_equal(line, 3);
  assert_int_equal(column, 2);
}

static void json_parse_ex_keeps_duplicates(void **state) {
  const char *text = "{\"a\":1,\"b\":2,\"a\":3}";
  struct ps__json_value *v;
  char err[128];
  (void)state;
  assert_int_equal(ps__json_parse_ex(&arena, text, strlen(text),
                                     PS_JSON_KEEP_DUPLICATES, &v, err,
                                     sizeof(err)),
                   0);
  assert_int_equal(v->as.obj.count, 3);
  assert_string_equal(v->as.obj.members[2].key, "a");
  assert_int_equal(v->as.obj.members[2].value->as.i, 3);
  /* Without the flag the last value wins in the first place. */
  v = parse(text);
  assert_int_equal(v->as.obj.count, 2);
  assert_int_equal(v->as.obj.members[0].value->as.i, 3);
}

static void json_parse_ex_returns_the_part_read(void **state) {
  struct ps__json_value *v;
  const struct ps__json_value *arr;
  char err[128];
  (void)state;
  assert_int_equal(ps__json_parse_ex(&arena, "{\"a\":[1,2 x", 11,
                                     PS_JSON_PARTIAL, &v, err, sizeof(err)),
                   -1);
  assert_string_equal(err, "expected `,` or `]` at line 1 column 11");
  assert_non_null(v);
  assert_int_equal(v->end, PS_JSON_INCOMPLETE);
  assert_int_equal(v->as.obj.count, 1);
  arr = v->as.obj.members[0].value;
  assert_int_equal(arr->end, PS_JSON_INCOMPLETE);
  assert_int_equal(arr->as.arr.count, 2);
  /* A key read without its value: the member stays, with a NULL value. */
  assert_int_equal(ps__json_parse_ex(&arena, "{\"a\":1,\"b\":tru", 14,
                                     PS_JSON_PARTIAL, &v, err, sizeof(err)),
                   -1);
  assert_int_equal(v->as.obj.count, 2);
  assert_null(v->as.obj.members[1].value);
  /* Trailing characters: the whole value was read. */
  assert_int_equal(ps__json_parse_ex(&arena, "[1] x", 5, PS_JSON_PARTIAL, &v,
                                     err, sizeof(err)),
                   -1);
  assert_string_equal(err, "trailing characters at line 1 column 5");
  assert_int_equal(v->end, 3);
  /* Nothing read: NULL. Without the flag, NULL always. */
  assert_int_equal(
      ps__json_parse_ex(&arena, "x", 1, PS_JSON_PARTIAL, &v, err, sizeof(err)),
      -1);
  assert_null(v);
  assert_int_equal(ps__json_parse_ex(&arena, "[1,", 3, 0, &v, err, sizeof(err)),
                   -1);
  assert_null(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(json_parses_literals, setup, teardown),
      cmocka_unit_test_setup_teardown(json_values_record_offsets, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_position_counts_like_serde, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_parse_ex_keeps_duplicates, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_parse_ex_returns_the_part_read,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_parses_containers, setup, teardown),
      cmocka_unit_test_setup_teardown(json_get_matches_whole_keys_only, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_classifies_integers_like_serde,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_fraction_or_exponent_makes_a_float,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_floats_are_correctly_rounded, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_rejects_out_of_range_numbers, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          json_parses_numbers_independently_of_locale, setup, teardown),
      cmocka_unit_test_setup_teardown(json_decodes_escapes, setup, teardown),
      cmocka_unit_test_setup_teardown(json_keeps_raw_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(json_rejects_invalid_utf8, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_rejects_bad_escapes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_rejects_lone_surrogates, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_rejects_control_characters, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_reports_syntax_errors_like_serde,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_error_positions_count_lines, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          json_nul_bytes_in_text_are_not_terminators, setup, teardown),
      cmocka_unit_test_setup_teardown(
          json_error_buffer_is_optional_and_truncated, setup, teardown),
      cmocka_unit_test_setup_teardown(json_reports_arena_exhaustion, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_enforces_depth_limit, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          json_duplicate_keys_last_wins_first_position, setup, teardown),
      cmocka_unit_test_setup_teardown(json_duplicate_keys_in_big_objects, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_big_objects_parse_in_linear_time,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_writes_doubles_like_serde, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_written_doubles_read_back_exactly,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_writes_integers, setup, teardown),
      cmocka_unit_test_setup_teardown(json_writes_strings_like_serde, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_writes_compact_in_document_order,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(json_writes_sorted_keys_bytewise, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_diff_normalisation_examples, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_equality_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(json_equality_of_big_objects, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(json_written_output_reads_back_equal,
                                      setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
