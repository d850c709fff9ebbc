/*
 * test_codec.c: tools/devserver/codec.c against published vectors and the
 * real service's recordings.
 *
 *  - SHA-256: the FIPS 180-2 examples ("abc", the empty string, the 448- and
 *    896-bit messages, a million 'a'), plus lengths around block boundaries
 *    (digests from Python's hashlib).
 *  - HMAC-SHA256: RFC 4231 test cases 1-4, 6 and 7.
 *  - base64url: RFC 4648 section 10 vectors, the URL-safe alphabet, padding
 *    tolerance and rejections.
 *  - Op checksums: every op of every NDJSON recording of the real service
 *    (tests/differential/fixtures/real-service), PUT and REMOVE, must get
 *    the checksum the service sent.
 *  - JSON to BSON: exact bytes of small documents, the type mapping, a round
 *    trip through the core's BSON reader, the core's sync-line decoder
 *    reading the same line from our BSON and from the JSON, byte equality
 *    with the service's own BSON recordings, and powersync_control: feeding
 *    every recorded stream as 'line_binary' (our BSON) must give the same
 *    results and the same database as feeding it as 'line_text'.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "codec.h"
#include "core/bson.h"
#include "core/json.h"
#include "core/sync_line.h"
#include "powersync/ext.h"
#include "util/arena.h"
#include "util/buf.h"

/* ---- Helpers ------------------------------------------------------------ */

static void to_hex(const uint8_t *d, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[2 * n] = '\0';
}

static void expect_sha256(const void *data, size_t len, const char *hex) {
  uint8_t d[PSD_SHA256_LEN];
  char got[2 * PSD_SHA256_LEN + 1];
  psd_sha256(data, len, d);
  to_hex(d, sizeof d, got);
  assert_string_equal(got, hex);
}

static void expect_hmac(const void *key, size_t key_len, const void *data,
                        size_t len, const char *hex) {
  uint8_t d[PSD_SHA256_LEN];
  char got[2 * PSD_SHA256_LEN + 1];
  psd_hmac_sha256(key, key_len, data, len, d);
  to_hex(d, sizeof d, got);
  assert_string_equal(got, hex);
}

#define FIXTURE_DIR "tests/differential/fixtures/real-service"

static const char *fixture_path(const char *name) {
  static char path[2048];
  const char *root = getenv("PS_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/%s/%s", root ? root : ".", FIXTURE_DIR, name);
  return path;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0, got;
  if (!f)
    fprintf(stderr, "cannot open %s\n", path);
  assert_non_null(f);
  do {
    if (n + 4096 + 1 > cap) {
      cap = (n + 4096 + 1) * 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
  } while (got > 0);
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fixture files ending in suffix, sorted; NULL-terminated (free with
 * free_names). */
static char **list_fixtures(const char *suffix, size_t *count) {
  char dir_path[2048];
  DIR *dir;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;
  snprintf(dir_path, sizeof dir_path, "%s", fixture_path(""));
  dir = opendir(dir_path);
  assert_non_null(dir);
  while ((e = readdir(dir)) != NULL) {
    if (!ends_with(e->d_name, suffix))
      continue;
    names = realloc(names, (n + 2) * sizeof *names);
    assert_non_null(names);
    names[n] = malloc(strlen(e->d_name) + 1);
    assert_non_null(names[n]);
    strcpy(names[n++], e->d_name);
  }
  closedir(dir);
  assert_true(n > 0);
  qsort(names, n, sizeof *names, cmp_names);
  names[n] = NULL;
  *count = n;
  return names;
}

static void free_names(char **names) {
  size_t i;
  for (i = 0; names[i]; i++)
    free(names[i]);
  free(names);
}

/* Plain NDJSON streams (not the EJSON renderings of the BSON captures). */
static int is_plain_stream(const char *name) {
  return !ends_with(name, ".ejson.ndjson");
}

/* Calls fn for each non-empty line of a fixture file. */
typedef void (*line_fn)(const char *line, size_t len, void *ctx);

static void for_each_line(const char *name, line_fn fn, void *ctx) {
  size_t len;
  char *text = read_file(fixture_path(name), &len);
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    if (stop > p)
      fn(p, (size_t)(stop - p), ctx);
    p = nl ? nl + 1 : end;
  }
  free(text);
}

static uint8_t *to_bson(const char *json, size_t len, size_t *out_len) {
  uint8_t *out = NULL;
  assert_int_equal(psd_json_to_bson(json, len, &out, out_len), 0);
  assert_non_null(out);
  return out;
}

/* ---- SHA-256 ------------------------------------------------------------ */

static void sha256_fips_examples(void **state) {
  static const char m448[] =
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  static const char m896[] =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
      "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
  char *million;
  (void)state;
  expect_sha256(
      "abc", 3,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expect_sha256(
      "", 0,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  expect_sha256(
      m448, strlen(m448),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  expect_sha256(
      m896, strlen(m896),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  million = malloc(1000000);
  assert_non_null(million);
  memset(million, 'a', 1000000);
  expect_sha256(
      million, 1000000,
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(million);
}

/* Padding lands in the same block or spills into the next one. */
static void sha256_block_boundaries(void **state) {
  static const struct {
    size_t len;
    const char *hex;
  } cases[] = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
      {127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"},
      {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
      {129, "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4"},
  };
  uint8_t data[129];
  size_t i;
  (void)state;
  for (i = 0; i < sizeof data; i++)
    data[i] = (uint8_t)(i * 7 + 3);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_sha256(data, cases[i].len, cases[i].hex);
}

/* ---- HMAC-SHA256 (RFC 4231) --------------------------------------------- */

static void hmac_rfc4231(void **state) {
  uint8_t key[131], data[50];
  static const char t6[] =
      "Test Using Larger Than Block-Size Key - Hash Key First";
  static const char t7[] =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.";
  size_t i;
  (void)state;
  memset(key, 0x0b, 20); /* Test case 1 */
  expect_hmac(
      key, 20, "Hi There", 8,
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  expect_hmac(/* Test case 2 */
              "Jefe", 4, "what do ya want for nothing?", 28,
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec"
              "3843");
  memset(key, 0xaa, 20); /* Test case 3 */
  memset(data, 0xdd, 50);
  expect_hmac(
      key, 20, data, 50,
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  for (i = 0; i < 25; i++) /* Test case 4 */
    key[i] = (uint8_t)(i + 1);
  memset(data, 0xcd, 50);
  expect_hmac(
      key, 25, data, 50,
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  memset(key, 0xaa, 131); /* Test cases 6 and 7: keys longer than a block */
  expect_hmac(
      key, 131, t6, strlen(t6),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  expect_hmac(
      key, 131, t7, strlen(t7),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* ---- base64url ---------------------------------------------------------- */

static void expect_b64_roundtrip(const char *plain, const char *encoded) {
  char *enc = psd_base64url_encode(plain, strlen(plain));
  uint8_t *dec;
  size_t dec_len;
  assert_non_null(enc);
  assert_string_equal(enc, encoded);
  assert_int_equal(psd_base64url_decode(enc, strlen(enc), &dec, &dec_len), 0);
  assert_int_equal(dec_len, strlen(plain));
  assert_memory_equal(dec, plain, dec_len);
  assert_int_equal(dec[dec_len], 0);
  free(dec);
  free(enc);
}

static int b64_decodes(const char *s) {
  uint8_t *out = NULL;
  size_t len;
  int rc = psd_base64url_decode(s, strlen(s), &out, &len);
  if (rc == 0)
    assert_non_null(out);
  else
    assert_null(out);
  free(out);
  return rc == 0;
}

static void base64url_vectors(void **state) {
  static const uint8_t url_bytes[] = {0xfb, 0xff, 0xbf};
  char *enc;
  uint8_t *dec;
  size_t len;
  (void)state;
  /* RFC 4648 section 10, without padding. */
  expect_b64_roundtrip("", "");
  expect_b64_roundtrip("f", "Zg");
  expect_b64_roundtrip("fo", "Zm8");
  expect_b64_roundtrip("foo", "Zm9v");
  expect_b64_roundtrip("foob", "Zm9vYg");
  expect_b64_roundtrip("fooba", "Zm9vYmE");
  expect_b64_roundtrip("foobar", "Zm9vYmFy");
  /* The URL-safe alphabet: '-' and '_' where base64 has '+' and '/'. */
  enc = psd_base64url_encode(url_bytes, sizeof url_bytes);
  assert_string_equal(enc, "-_-_");
  free(enc);
  enc = psd_base64url_encode(url_bytes, 2);
  assert_string_equal(enc, "-_8");
  free(enc);
  /* Padding is tolerated. */
  assert_int_equal(psd_base64url_decode("Zg==", 4, &dec, &len), 0);
  assert_int_equal(len, 1);
  assert_int_equal(dec[0], 'f');
  free(dec);
  assert_true(b64_decodes("Zm8="));
  assert_true(b64_decodes("Zm9v"));
  /* Only the given length is read. */
  assert_int_equal(psd_base64url_decode("Zm9vYmFy!!", 8, &dec, &len), 0);
  assert_int_equal(len, 6);
  free(dec);
}

static void base64url_rejects(void **state) {
  (void)state;
  assert_false(b64_decodes("Zm9v+g")); /* base64, not base64url */
  assert_false(b64_decodes("Zm9v/g"));
  assert_false(b64_decodes("Zm 9v")); /* whitespace */
  assert_false(b64_decodes("Zm9v\n"));
  assert_false(b64_decodes("Z")); /* 6 bits cannot make a byte */
  assert_false(b64_decodes("Zm9vY"));
  assert_false(b64_decodes("Zg=")); /* padding to a wrong length */
  assert_false(b64_decodes("Zg==="));
  assert_false(b64_decodes("Zm9v===="));
  assert_false(b64_decodes("Zg==Zg")); /* '=' inside */
  assert_false(b64_decodes("="));
  assert_false(b64_decodes("Zm9v\x80"));
}

/* ---- Op checksums against the real service ------------------------------ */

struct checksum_stats {
  size_t puts, removes;
};

/* A checksum as recorded: a number, or {"$numberInt"|"$numberLong": "n"} in
 * the EJSON renderings. */
static uint32_t recorded_checksum(const struct ps__json_value *v) {
  if (v->type == PS_JSON_OBJECT) {
    assert_int_equal(v->as.obj.count, 1);
    v = v->as.obj.members[0].value;
    assert_int_equal(v->type, PS_JSON_STRING);
    return (uint32_t)strtoll(v->as.str.ptr, NULL, 10);
  }
  assert_true(v->type == PS_JSON_INT || v->type == PS_JSON_UINT);
  return v->type == PS_JSON_INT ? (uint32_t)v->as.i : (uint32_t)v->as.u;
}

static const char *str_member(const struct ps__json_value *obj,
                              const char *key) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  assert_non_null(v);
  assert_int_equal(v->type, PS_JSON_STRING);
  return v->as.str.ptr;
}

/* PUT: data is a JSON string (raw_data: true) or the row object itself
 * (raw_data: false), whose compact form is the string the service hashed. */
static uint32_t computed_put_checksum(const struct ps__json_value *op) {
  const struct ps__json_value *data = ps__json_get(op, "data");
  struct ps__buf b;
  uint32_t sum;
  assert_non_null(data);
  if (data->type == PS_JSON_STRING)
    return psd_op_checksum_put(str_member(op, "object_type"),
                               str_member(op, "object_id"), data->as.str.ptr);
  assert_int_equal(data->type, PS_JSON_OBJECT);
  ps__buf_init(&b, 0);
  ps__json_write(&b, data, 0);
  sum = psd_op_checksum_put(str_member(op, "object_type"),
                            str_member(op, "object_id"), ps__buf_cstr(&b));
  ps__buf_free(&b);
  return sum;
}

static void check_line_checksums(const char *line, size_t len, void *ctx) {
  struct checksum_stats *st = ctx;
  struct ps__arena arena;
  const struct ps__json_value *root, *data, *ops;
  size_t i;
  ps__arena_init(&arena, 0);
  root = ps__json_parse(&arena, line, len, NULL, 0);
  assert_non_null(root);
  data = ps__json_get(root, "data");
  ops = data ? ps__json_get(data, "data") : NULL;
  for (i = 0; ops && i < ops->as.arr.count; i++) {
    const struct ps__json_value *op = ops->as.arr.items[i];
    const char *kind = str_member(op, "op");
    uint32_t want = recorded_checksum(ps__json_get(op, "checksum")), got;
    if (strcmp(kind, "PUT") == 0) {
      got = computed_put_checksum(op);
      st->puts++;
    } else {
      assert_string_equal(kind, "REMOVE");
      got = psd_op_checksum_remove(str_member(op, "subkey"));
      st->removes++;
    }
    if (got != want)
      fprintf(stderr, "op %s (%s): recorded %u, computed %u\n",
              str_member(op, "op_id"), kind, (unsigned)want, (unsigned)got);
    assert_int_equal(got, want);
  }
  ps__arena_free(&arena);
}

static void op_checksums_match_real_service(void **state) {
  struct checksum_stats st = {0, 0};
  size_t n, i;
  char **names = list_fixtures(".ndjson", &n);
  (void)state;
  for (i = 0; i < n; i++)
    for_each_line(names[i], check_line_checksums, &st);
  free_names(names);
  print_message("verified %zu PUT and %zu REMOVE checksums in %zu files\n",
                st.puts, st.removes, n);
  assert_true(st.puts >= 50);
  assert_true(st.removes >= 10);
}

static void op_checksum_examples(void **state) {
  (void)state;
  /* Op 15 of final-sync-user-a.ndjson and op 1 of every initial sync. */
  assert_int_equal(psd_op_checksum_remove("ac4444d0-2c58-472c-9d72-7bfaf64f2d74"
                                          "/dae06aa8-1a41-5ae8-8734-"
                                          "8efa06aa1609"),
                   348715436u);
  assert_int_equal(
      psd_op_checksum_put(
          "lists", "11111111-1111-4111-8111-111111111111",
          "{\"id\":\"11111111-1111-4111-8111-111111111111\",\"created_at\":"
          "\"2026-01-01 10:00:00Z\",\"name\":\"Groceries\",\"owner_id\":"
          "\"user-a\"}"),
      2751430506u);
}

/* ---- JSON to BSON: bytes and types -------------------------------------- */

static void expect_bson(const char *json, const uint8_t *want, size_t n) {
  size_t len;
  uint8_t *got = to_bson(json, strlen(json), &len);
  assert_int_equal(len, n);
  assert_memory_equal(got, want, n);
  free(got);
}

static void bson_exact_bytes(void **state) {
  static const uint8_t empty[] = {5, 0, 0, 0, 0};
  static const uint8_t int32[] = {12, 0, 0, 0, 0x10, 'a', 0, 1, 0, 0, 0, 0};
  static const uint8_t str[] = {16, 0, 0, 0,   0x02, 's', 0, 4,
                                0,  0, 0, 'a', 'b',  'c', 0, 0};
  /* {"a":[true,null]}: an array is a document keyed "0", "1". */
  static const uint8_t arr[] = {20, 0,    0,   0, 0x04, 'a',  0,   12, 0, 0,
                                0,  0x08, '0', 0, 1,    0x0A, '1', 0,  0, 0};
  /* {"o":{"n":2147483648}}: an embedded document holding an int64. */
  static const uint8_t doc[] = {24,  0, 0, 0, 0x03, 'o',  0, 16, 0, 0, 0, 0x12,
                                'n', 0, 0, 0, 0,    0x80, 0, 0,  0, 0, 0, 0};
  /* {"d":1.5,"f":false}: 1.5 = 0x3FF8000000000000. */
  static const uint8_t dbl[] = {20, 0, 0, 0,    0x01, 'd',  0,   0, 0, 0,
                                0,  0, 0, 0xF8, 0x3F, 0x08, 'f', 0, 0, 0};
  (void)state;
  expect_bson("{}", empty, sizeof empty);
  expect_bson(" {\"a\":1} ", int32, sizeof int32);
  expect_bson("{\"s\":\"abc\"}", str, sizeof str);
  expect_bson("{\"a\":[true,null]}", arr, sizeof arr);
  expect_bson("{\"o\":{\"n\":2147483648}}", doc, sizeof doc);
  expect_bson("{\"d\":1.5,\"f\":false}", dbl, sizeof dbl);
}

/* Reads the only element of a BSON document. */
static struct ps__bson_value single_value(const uint8_t *bson, size_t len,
                                          const char *key) {
  struct ps__bson_doc doc;
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_value v;
  struct ps__bson_error e;
  assert_int_equal(ps__bson_open(&doc, bson, len, &e), 0);
  assert_int_equal(doc.end, len);
  ps__bson_iter_init(&it, &doc);
  assert_int_equal(ps__bson_next(&it, &el, &e), 1);
  assert_int_equal(el.key_len, strlen(key));
  assert_memory_equal(el.key, key, el.key_len);
  assert_int_equal(ps__bson_read(&it, &v, &e), 0);
  return v;
}

/* The BSON value of {"v": <json>}; *bson keeps the bytes alive. */
static struct ps__bson_value bson_of(const char *json_value, uint8_t **bson) {
  char json[256];
  size_t len;
  snprintf(json, sizeof json, "{\"v\":%s}", json_value);
  *bson = to_bson(json, strlen(json), &len);
  return single_value(*bson, len, "v");
}

static void bson_type_mapping(void **state) {
  uint8_t *b;
  struct ps__bson_value v;
  (void)state;
  v = bson_of("2147483647", &b);
  assert_int_equal(v.type, PS_BSON_INT32);
  assert_int_equal(v.as.i32, INT32_MAX);
  free(b);
  v = bson_of("-2147483648", &b);
  assert_int_equal(v.type, PS_BSON_INT32);
  assert_true(v.as.i32 == INT32_MIN);
  free(b);
  v = bson_of("2147483648", &b); /* Checksums >= 2^31 are int64. */
  assert_int_equal(v.type, PS_BSON_INT64);
  assert_true(v.as.i64 == 2147483648LL);
  free(b);
  v = bson_of("-2147483649", &b);
  assert_int_equal(v.type, PS_BSON_INT64);
  assert_true(v.as.i64 == -2147483649LL);
  free(b);
  v = bson_of("-9223372036854775808", &b);
  assert_int_equal(v.type, PS_BSON_INT64);
  assert_true(v.as.i64 == INT64_MIN);
  free(b);
  v = bson_of("18446744073709551615", &b); /* Beyond int64: a double. */
  assert_int_equal(v.type, PS_BSON_DOUBLE);
  assert_true(v.as.f64 == 18446744073709551615.0);
  free(b);
  v = bson_of("1.0", &b); /* A float stays a float. */
  assert_int_equal(v.type, PS_BSON_DOUBLE);
  assert_true(v.as.f64 == 1.0);
  free(b);
  v = bson_of("-0", &b);
  assert_int_equal(v.type, PS_BSON_DOUBLE);
  free(b);
  v = bson_of("1e300", &b);
  assert_int_equal(v.type, PS_BSON_DOUBLE);
  assert_true(v.as.f64 == 1e300);
  free(b);
  v = bson_of("\"a\\u0000b\\u00e9\"", &b); /* Embedded NUL, UTF-8. */
  assert_int_equal(v.type, PS_BSON_STRING);
  assert_int_equal(v.as.str.len, 5);
  assert_memory_equal(v.as.str.ptr, "a\0b\xc3\xa9", 5);
  free(b);
  v = bson_of("\"\"", &b);
  assert_int_equal(v.type, PS_BSON_STRING);
  assert_int_equal(v.as.str.len, 0);
  free(b);
  v = bson_of("true", &b);
  assert_int_equal(v.type, PS_BSON_BOOL);
  assert_int_equal(v.as.boolean, 1);
  free(b);
  v = bson_of("null", &b);
  assert_int_equal(v.type, PS_BSON_NULL);
  free(b);
  v = bson_of("[]", &b);
  assert_int_equal(v.type, PS_BSON_ARRAY);
  free(b);
  v = bson_of("{}", &b);
  assert_int_equal(v.type, PS_BSON_DOCUMENT);
  free(b);
}

static int bson_fails(const char *json) {
  uint8_t *out = (uint8_t *)"x";
  size_t len = 7;
  int rc = psd_json_to_bson(json, strlen(json), &out, &len);
  if (rc != 0) {
    assert_null(out);
    assert_int_equal(len, 0);
  }
  free(rc == 0 ? out : NULL);
  return rc != 0;
}

static void bson_rejects(void **state) {
  (void)state;
  assert_true(bson_fails("[1,2]")); /* Only objects make documents. */
  assert_true(bson_fails("\"s\""));
  assert_true(bson_fails("1"));
  assert_true(bson_fails("null"));
  assert_true(bson_fails(""));
  assert_true(bson_fails("{\"a\":1"));
  assert_true(bson_fails("{\"a\":1} x"));
  assert_true(bson_fails("{\"a\\u0000b\":1}")); /* A key cannot hold NUL. */
  assert_true(bson_fails("{\"o\":{\"\\u0000\":1}}"));
  assert_false(bson_fails("{\"a\":1}"));
}

/* ---- JSON to BSON: round trip through the core's reader ----------------- */

static void bson_doc_to_json(struct ps__buf *out, const struct ps__bson_doc *d,
                             int is_array);

static void bson_value_to_json(struct ps__buf *out,
                               const struct ps__bson_value *v) {
  switch (v->type) {
  case PS_BSON_DOUBLE:
    ps__json_write_double(out, v->as.f64);
    break;
  case PS_BSON_STRING:
    ps__json_write_string(out, v->as.str.ptr, v->as.str.len);
    break;
  case PS_BSON_DOCUMENT:
  case PS_BSON_ARRAY:
    bson_doc_to_json(out, &v->as.doc, v->type == PS_BSON_ARRAY);
    break;
  case PS_BSON_BOOL:
    ps__buf_puts(out, v->as.boolean ? "true" : "false");
    break;
  case PS_BSON_NULL:
    ps__buf_puts(out, "null");
    break;
  case PS_BSON_INT32:
    ps__buf_printf(out, "%d", (int)v->as.i32);
    break;
  case PS_BSON_INT64:
    ps__buf_printf(out, "%lld", (long long)v->as.i64);
    break;
  default:
    fail_msg("unexpected BSON type %d", (int)v->type);
  }
}

/* Writes a BSON document as JSON, checking that array keys are "0", "1"... */
static void bson_doc_to_json(struct ps__buf *out, const struct ps__bson_doc *d,
                             int is_array) {
  struct ps__bson_iter it;
  struct ps__bson_element el;
  struct ps__bson_value v;
  struct ps__bson_error e;
  size_t index = 0;
  int r;
  ps__bson_iter_init(&it, d);
  ps__buf_putc(out, is_array ? '[' : '{');
  while ((r = ps__bson_next(&it, &el, &e)) == 1) {
    assert_int_equal(ps__bson_read(&it, &v, &e), 0);
    if (index > 0)
      ps__buf_putc(out, ',');
    if (is_array) {
      char key[24];
      snprintf(key, sizeof key, "%zu", index);
      assert_int_equal(el.key_len, strlen(key));
      assert_memory_equal(el.key, key, el.key_len);
    } else {
      ps__json_write_string(out, el.key, el.key_len);
      ps__buf_putc(out, ':');
    }
    bson_value_to_json(out, &v);
    index++;
  }
  assert_int_equal(r, 0);
  ps__buf_putc(out, is_array ? ']' : '}');
}

/* JSON -> our BSON -> the core's BSON reader -> JSON: the same tree, with
 * integers still integers and floats still floats. */
static void expect_round_trip(const char *json, size_t len) {
  struct ps__arena arena;
  struct ps__json_value *a, *b;
  struct ps__bson_doc doc;
  struct ps__bson_error e;
  struct ps__buf back;
  size_t bson_len;
  uint8_t *bson = to_bson(json, len, &bson_len);
  ps__arena_init(&arena, 0);
  ps__buf_init(&back, 0);
  assert_int_equal(ps__bson_open(&doc, bson, bson_len, &e), 0);
  assert_int_equal(doc.end, bson_len);
  bson_doc_to_json(&back, &doc, 0);
  assert_int_equal(ps__buf_failed(&back), 0);
  a = ps__json_parse(&arena, json, len, NULL, 0);
  b = ps__json_parse(&arena, back.data, back.len, NULL, 0);
  assert_non_null(a);
  assert_non_null(b);
  if (!ps__json_equal(a, b))
    fail_msg("round trip differs:\n  %.*s\n  %s", (int)len, json, back.data);
  ps__buf_free(&back);
  ps__arena_free(&arena);
  free(bson);
}

static void bson_round_trip_samples(void **state) {
  static const char *const samples[] = {
      "{}",
      "{\"a\":{}}",
      "{\"a\":[]}",
      "{\"n\":[0,-1,2147483647,2147483648,-2147483648,-2147483649,"
      "9223372036854775807,-9223372036854775808]}",
      "{\"f\":[0.0,-0.0,1.5,-2.25,1e300,5e-324,1.7976931348623157e308,100.0]}",
      "{\"s\":[\"\",\"x\",\"\\u00e9\\u4e2d\\ud83d\\ude00\",\"a\\nb\\\"c\","
      "\"\\u0000\"]}",
      "{\"b\":[true,false,null]}",
      "{\"deep\":[[[[{\"a\":[{\"b\":[1,[2,[3]]]}]}]]]]}",
      "{\"k\":1,\"\\u00e9\":2,\"\":3}",
      "{\"big\":[0,1,2,3,4,5,6,7,8,9,10,11,12]}",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof samples / sizeof samples[0]; i++)
    expect_round_trip(samples[i], strlen(samples[i]));
}

static void round_trip_line(const char *line, size_t len, void *ctx) {
  (void)ctx;
  expect_round_trip(line, len);
}

static void bson_round_trip_fixtures(void **state) {
  size_t n, i;
  char **names = list_fixtures(".ndjson", &n);
  (void)state;
  for (i = 0; i < n; i++)
    for_each_line(names[i], round_trip_line, NULL);
  free_names(names);
}

/* ---- JSON to BSON: the core's sync-line decoder ------------------------- */

static void dump_str(struct ps__buf *b, const char *name,
                     struct ps__sync_str s) {
  ps__buf_printf(b, " %s=", name);
  if (!s.ptr)
    ps__buf_puts(b, "(null)");
  else
    ps__json_write_string(b, s.ptr, s.len);
}

static void dump_buckets(struct ps__buf *b,
                         const struct ps__sync_bucket_checksum *bk, size_t n) {
  size_t i, j;
  for (i = 0; i < n; i++) {
    dump_str(b, "bucket", bk[i].bucket);
    ps__buf_printf(b, " checksum=%u priority=%d count=%d/%lld",
                   (unsigned)bk[i].checksum, (int)bk[i].priority,
                   bk[i].has_count, (long long)bk[i].count);
    for (j = 0; j < bk[i].subscription_count; j++)
      ps__buf_printf(b, " sub=%d/%llu", (int)bk[i].subscriptions[j].kind,
                     (unsigned long long)bk[i].subscriptions[j].index);
  }
}

static void dump_streams(struct ps__buf *b, const struct ps__sync_stream *s,
                         size_t n) {
  size_t i, j;
  for (i = 0; i < n; i++) {
    dump_str(b, "stream", s[i].name);
    ps__buf_printf(b, " default=%d", s[i].is_default);
    for (j = 0; j < s[i].error_count; j++) {
      ps__buf_printf(b, " error=%d/%llu", s[i].errors[j].is_default,
                     (unsigned long long)s[i].errors[j].index);
      dump_str(b, "message", s[i].errors[j].message);
    }
  }
}

static void dump_entries(struct ps__buf *b, const struct ps__sync_data *d) {
  size_t i;
  dump_str(b, "bucket", d->bucket);
  for (i = 0; i < d->entry_count; i++) {
    const struct ps__sync_oplog_entry *e = &d->entries[i];
    ps__buf_printf(b, " op=%lld/%s/%u", (long long)e->op_id,
                   ps__sync_op_name(e->op), (unsigned)e->checksum);
    dump_str(b, "type", e->object_type);
    dump_str(b, "id", e->object_id);
    dump_str(b, "subkey", e->subkey);
    dump_str(b, "data", e->data);
  }
}

/* Every field of a decoded line, as text. */
static void dump_line(struct ps__buf *b, const struct ps__sync_line *l) {
  ps__buf_printf(b, "type=%d", (int)l->type);
  dump_str(b, "name", l->type_name);
  switch (l->type) {
  case PS_SYNC_LINE_CHECKPOINT:
    ps__buf_printf(b, " last=%lld wc=%d/%lld",
                   (long long)l->as.checkpoint.last_op_id,
                   l->as.checkpoint.has_write_checkpoint,
                   (long long)l->as.checkpoint.write_checkpoint);
    dump_buckets(b, l->as.checkpoint.buckets, l->as.checkpoint.bucket_count);
    dump_streams(b, l->as.checkpoint.streams, l->as.checkpoint.stream_count);
    break;
  case PS_SYNC_LINE_CHECKPOINT_DIFF: {
    size_t i;
    ps__buf_printf(b, " last=%lld wc=%d/%lld", (long long)l->as.diff.last_op_id,
                   l->as.diff.has_write_checkpoint,
                   (long long)l->as.diff.write_checkpoint);
    dump_buckets(b, l->as.diff.updated_buckets, l->as.diff.updated_count);
    for (i = 0; i < l->as.diff.removed_count; i++)
      dump_str(b, "removed", l->as.diff.removed_buckets[i]);
    break;
  }
  case PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE:
    ps__buf_printf(b, " priority=%d", (int)l->as.partial_priority);
    break;
  case PS_SYNC_LINE_DATA:
    dump_entries(b, &l->as.data);
    break;
  case PS_SYNC_LINE_TOKEN_EXPIRES_IN:
    ps__buf_printf(b, " expires=%d", (int)l->as.token_expires_in);
    break;
  case PS_SYNC_LINE_CHECKPOINT_COMPLETE:
  case PS_SYNC_LINE_UNKNOWN:
    break;
  }
}

/* Decodes line as text and our BSON of it as binary; returns the dump of the
 * binary decoding (caller frees) after checking both agree. */
static char *decode_both(const char *line, size_t len) {
  struct ps__arena arena;
  struct ps__sync_line *t = NULL, *bin = NULL;
  struct ps__buf dt, db;
  char err[PS_SYNC_LINE_ERROR_MAX];
  size_t bson_len;
  uint8_t *bson = to_bson(line, len, &bson_len);
  ps__arena_init(&arena, 0);
  assert_int_equal(
      ps__sync_line_decode_text(&arena, line, len, &t, err, sizeof err),
      PS_SYNC_LINE_OK);
  if (ps__sync_line_decode_binary(&arena, bson, bson_len, &bin, err,
                                  sizeof err) != PS_SYNC_LINE_OK)
    fail_msg("binary decoding failed: %s\n  line: %.*s", err, (int)len, line);
  ps__buf_init(&dt, 0);
  ps__buf_init(&db, 0);
  dump_line(&dt, t);
  dump_line(&db, bin);
  assert_string_equal(dt.data, db.data);
  ps__buf_free(&dt);
  ps__arena_free(&arena);
  free(bson);
  return ps__buf_take(&db);
}

static void decode_line_both_ways(const char *line, size_t len, void *ctx) {
  size_t *count = ctx;
  free(decode_both(line, len));
  (*count)++;
}

static void bson_sync_lines_decode_like_json(void **state) {
  size_t n, i, lines = 0;
  char **names = list_fixtures(".ndjson", &n);
  (void)state;
  for (i = 0; i < n; i++)
    if (is_plain_stream(names[i]) &&
        !strstr(names[i], "raw_data-false")) /* data objects: not a line */
      for_each_line(names[i], decode_line_both_ways, &lines);
  free_names(names);
  assert_true(lines >= 50);
}

/* ---- JSON to BSON: the service's own BSON ------------------------------- */

struct capture {
  const uint8_t *bson; /* The service's BSON stream. */
  size_t len, pos;
  size_t docs, identical, widened;
};

static int bson_doc_equal(const struct ps__bson_doc *ours,
                          const struct ps__bson_doc *theirs, size_t *widened);

/* One value of ours against the service's. The service (js-bson) writes a
 * JavaScript number outside int32 as a double; we write an integer there
 * as int64, as codec.h specifies. Both are 8 bytes and the core reads both
 * as the same checksum; *widened counts such pairs. */
static int bson_value_equal(const struct ps__bson_value *a,
                            const struct ps__bson_value *b, size_t *widened) {
  if (a->type == PS_BSON_INT64 && b->type == PS_BSON_DOUBLE) {
    (*widened)++;
    return (double)a->as.i64 == b->as.f64;
  }
  if (a->type != b->type)
    return 0;
  switch (a->type) {
  case PS_BSON_DOUBLE:
    return memcmp(&a->as.f64, &b->as.f64, sizeof(double)) == 0;
  case PS_BSON_STRING:
    return a->as.str.len == b->as.str.len &&
           memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len) == 0;
  case PS_BSON_DOCUMENT:
  case PS_BSON_ARRAY:
    return bson_doc_equal(&a->as.doc, &b->as.doc, widened);
  case PS_BSON_BOOL:
    return a->as.boolean == b->as.boolean;
  case PS_BSON_NULL:
    return 1;
  case PS_BSON_INT32:
    return a->as.i32 == b->as.i32;
  case PS_BSON_INT64:
    return a->as.i64 == b->as.i64;
  default:
    return 0;
  }
}

/* Same keys in the same order with equal values (see bson_value_equal). */
static int bson_doc_equal(const struct ps__bson_doc *ours,
                          const struct ps__bson_doc *theirs, size_t *widened) {
  struct ps__bson_iter ia, ib;
  struct ps__bson_element ea, eb;
  struct ps__bson_value va, vb;
  struct ps__bson_error e;
  int ra, rb;
  ps__bson_iter_init(&ia, ours);
  ps__bson_iter_init(&ib, theirs);
  for (;;) {
    ra = ps__bson_next(&ia, &ea, &e);
    rb = ps__bson_next(&ib, &eb, &e);
    assert_true(ra >= 0 && rb >= 0);
    if (ra != rb)
      return 0;
    if (ra == 0)
      return 1;
    if (ea.key_len != eb.key_len || memcmp(ea.key, eb.key, ea.key_len) != 0)
      return 0;
    assert_int_equal(ps__bson_read(&ia, &va, &e), 0);
    assert_int_equal(ps__bson_read(&ib, &vb, &e), 0);
    if (!bson_value_equal(&va, &vb, widened)) {
      print_message("element %.*s differs\n", (int)ea.key_len, ea.key);
      return 0;
    }
  }
}

/* Compares our BSON of the next NDJSON line with the next document of the
 * service's BSON recording of the same request: element by element, and
 * through the core's sync-line decoder. */
static void compare_with_capture(const char *line, size_t len, void *ctx) {
  struct capture *c = ctx;
  struct ps__arena arena;
  struct ps__sync_line *theirs = NULL;
  struct ps__bson_doc da, db;
  struct ps__bson_error e;
  struct ps__buf dump;
  char err[PS_SYNC_LINE_ERROR_MAX];
  size_t doc_len, ours_len, widened = 0;
  uint8_t *ours = to_bson(line, len, &ours_len);
  char *ours_dump = decode_both(line, len);
  assert_true(c->pos + 4 <= c->len);
  doc_len = (size_t)c->bson[c->pos] | ((size_t)c->bson[c->pos + 1] << 8) |
            ((size_t)c->bson[c->pos + 2] << 16) |
            ((size_t)c->bson[c->pos + 3] << 24);
  assert_true(c->pos + doc_len <= c->len);
  assert_int_equal(ps__bson_open(&da, ours, ours_len, &e), 0);
  assert_int_equal(ps__bson_open(&db, c->bson + c->pos, doc_len, &e), 0);
  assert_true(bson_doc_equal(&da, &db, &widened));
  ps__arena_init(&arena, 0);
  assert_int_equal(ps__sync_line_decode_binary(&arena, c->bson + c->pos,
                                               doc_len, &theirs, err,
                                               sizeof err),
                   PS_SYNC_LINE_OK);
  ps__buf_init(&dump, 0);
  dump_line(&dump, theirs);
  assert_string_equal(ours_dump, dump.data);
  assert_int_equal(ours_len, doc_len);
  if (memcmp(ours, c->bson + c->pos, doc_len) == 0)
    c->identical++;
  else
    assert_true(widened > 0); /* The only difference allowed. */
  c->widened += widened;
  c->docs++;
  c->pos += doc_len;
  ps__buf_free(&dump);
  ps__arena_free(&arena);
  free(ours_dump);
  free(ours);
}

static void bson_matches_service_recordings(void **state) {
  static const char *const pairs[][2] = {
      {"initial-sync-user-a.ndjson", "initial-sync-user-a.bson"},
      {"final-sync-user-a.ndjson", "final-sync-user-a.bson"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    struct capture c;
    size_t len;
    char *bson = read_file(fixture_path(pairs[i][1]), &len);
    memset(&c, 0, sizeof c);
    c.bson = (const uint8_t *)bson;
    c.len = len;
    for_each_line(pairs[i][0], compare_with_capture, &c);
    assert_int_equal(c.pos, c.len); /* As many documents as lines. */
    print_message("%s: %zu of %zu documents byte-identical; %zu int64 "
                  "checksums where the service wrote doubles\n",
                  pairs[i][1], c.identical, c.docs, c.widened);
    assert_true(c.docs >= 4);
    free(bson);
  }
}

/* ---- JSON to BSON: powersync_control('line_binary') ---------------------- */

/* A fixed clock, so that both databases record the same times. */
static void fixed_unixepoch(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_double(ctx, 1764000000.0);
}

static void exec_sql(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("%s: %s", sql, err ? err : "?");
}

static sqlite3 *open_core_db(void) {
  sqlite3 *db = NULL;
  char *err = NULL;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  if (sqlite3_powersync_init(db, &err, NULL) != SQLITE_OK)
    fail_msg("sqlite3_powersync_init: %s", err ? err : "?");
  assert_int_equal(sqlite3_create_function(db, "unixepoch", -1, SQLITE_UTF8,
                                           NULL, fixed_unixepoch, NULL, NULL),
                   SQLITE_OK);
  exec_sql(db, "BEGIN; SELECT powersync_init(); COMMIT;");
  exec_sql(
      db, "BEGIN; SELECT powersync_replace_schema('{\"tables\":["
          "{\"name\":\"lists\",\"columns\":[{\"name\":\"created_at\",\"type\":"
          "\"text\"},{\"name\":\"name\",\"type\":\"text\"},{\"name\":"
          "\"owner_id\",\"type\":\"text\"}]},"
          "{\"name\":\"todos\",\"columns\":[{\"name\":\"created_at\",\"type\":"
          "\"text\"},{\"name\":\"completed_at\",\"type\":\"text\"},{\"name\":"
          "\"description\",\"type\":\"text\"},{\"name\":\"completed\",\"type\":"
          "\"integer\"},{\"name\":\"created_by\",\"type\":\"text\"},{\"name\":"
          "\"list_id\",\"type\":\"text\"},{\"name\":\"priority\",\"type\":"
          "\"integer\"},{\"name\":\"score\",\"type\":\"real\"}]}]}'); COMMIT;");
  exec_sql(db, "UPDATE ps_kv SET value = 'test-client' WHERE key = "
               "'client_id'");
  return db;
}

/* powersync_control(op, payload) in a transaction: its result, or "error: "
 * and the message. Caller frees. */
static char *control(sqlite3 *db, const char *op, const void *payload,
                     size_t len, int binary) {
  sqlite3_stmt *stmt = NULL;
  struct ps__buf out;
  int rc;
  ps__buf_init(&out, 0);
  exec_sql(db, "BEGIN");
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT powersync_control(?1, ?2)",
                                      -1, &stmt, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(stmt, 1, op, -1, SQLITE_STATIC);
  if (payload && binary)
    sqlite3_bind_blob(stmt, 2, payload, (int)len, SQLITE_STATIC);
  else if (payload)
    sqlite3_bind_text(stmt, 2, payload, (int)len, SQLITE_STATIC);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    ps__buf_puts(&out, t ? (const char *)t : "NULL");
  } else {
    ps__buf_printf(&out, "error: %s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  exec_sql(db, rc == SQLITE_ROW ? "COMMIT" : "ROLLBACK");
  return ps__buf_take(&out);
}

/* Every row of every table, in table order, but for downloaded_size. */
static char *dump_db(sqlite3 *db) {
  sqlite3_stmt *tables = NULL;
  struct ps__buf out;
  ps__buf_init(&out, 0);
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_master WHERE type = 'table' "
                         "ORDER BY name",
                         -1, &tables, NULL),
      SQLITE_OK);
  while (sqlite3_step(tables) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tables, 0);
    char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name);
    sqlite3_stmt *rows = NULL;
    int i;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
    ps__buf_printf(&out, "[%s]\n", name);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (i = 0; i < sqlite3_column_count(rows); i++) {
        const unsigned char *v = sqlite3_column_text(rows, i);
        /* The core counts line sizes, which differ between the formats. */
        if (strcmp(sqlite3_column_name(rows, i), "downloaded_size") == 0)
          continue;
        ps__buf_printf(&out, "%s|", v ? (const char *)v : "NULL");
      }
      ps__buf_putc(&out, '\n');
    }
    sqlite3_finalize(rows);
    sqlite3_free(sql);
  }
  sqlite3_finalize(tables);
  return ps__buf_take(&out);
}

/* Fails with the first line where a and b differ. */
static void assert_same_lines(const char *a, const char *b) {
  while (*a || *b) {
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    if (la != lb || memcmp(a, b, la) != 0)
      fail_msg("first difference:\n  text:   %.*s\n  binary: %.*s", (int)la, a,
               (int)lb, b);
    a += la + (a[la] ? 1 : 0);
    b += lb + (b[lb] ? 1 : 0);
  }
}

struct control_pair {
  sqlite3 *text_db, *binary_db;
  size_t lines;
};

static void feed_both(const char *line, size_t len, void *ctx) {
  struct control_pair *p = ctx;
  size_t bson_len;
  uint8_t *bson = to_bson(line, len, &bson_len);
  char *a = control(p->text_db, "line_text", line, len, 0);
  char *b = control(p->binary_db, "line_binary", bson, bson_len, 1);
  if (strcmp(a, b) != 0)
    fail_msg("line_text and line_binary differ for %.*s\n  text:   %s\n"
             "  binary: %s",
             (int)len, line, a, b);
  assert_null(strstr(a, "error: "));
  p->lines++;
  free(a);
  free(b);
  free(bson);
}

static void control_binary_same_as_text(void **state) {
  size_t n, i, total = 0;
  char **names = list_fixtures(".ndjson", &n);
  (void)state;
  for (i = 0; i < n; i++) {
    struct control_pair p;
    char *da, *db;
    if (!is_plain_stream(names[i]) || strstr(names[i], "raw_data-false"))
      continue;
    p.text_db = open_core_db();
    p.binary_db = open_core_db();
    p.lines = 0;
    free(control(p.text_db, "start", NULL, 0, 0));
    free(control(p.binary_db, "start", NULL, 0, 0));
    for_each_line(names[i], feed_both, &p);
    da = dump_db(p.text_db);
    db = dump_db(p.binary_db);
    assert_same_lines(da, db);
    assert_non_null(strstr(da, "[ps_oplog]\n"));
    free(da);
    free(db);
    total += p.lines;
    sqlite3_close(p.text_db);
    sqlite3_close(p.binary_db);
  }
  free_names(names);
  assert_true(total >= 50);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sha256_fips_examples),
      cmocka_unit_test(sha256_block_boundaries),
      cmocka_unit_test(hmac_rfc4231),
      cmocka_unit_test(base64url_vectors),
      cmocka_unit_test(base64url_rejects),
      cmocka_unit_test(op_checksum_examples),
      cmocka_unit_test(op_checksums_match_real_service),
      cmocka_unit_test(bson_exact_bytes),
      cmocka_unit_test(bson_type_mapping),
      cmocka_unit_test(bson_rejects),
      cmocka_unit_test(bson_round_trip_samples),
      cmocka_unit_test(bson_round_trip_fixtures),
      cmocka_unit_test(bson_sync_lines_decode_like_json),
      cmocka_unit_test(bson_matches_service_recordings),
      cmocka_unit_test(control_binary_same_as_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
