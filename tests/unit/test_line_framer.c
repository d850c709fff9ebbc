/*
 * test_line_framer.c: the sync stream framer of src/core/line_framer.c.
 *
 * The recorded real-service streams in tests/data/real-service are framed
 * with every two-chunk split, one byte at a time, in random chunks and whole;
 * each way must yield exactly the frames of an independent reference split
 * (split on "\n" for NDJSON, walk the length prefixes for BSON), and the
 * buffer must stay within one maximal frame plus one chunk. Then CRLF, empty
 * lines, the maximum line length, bad BSON lengths, truncation at end of
 * stream, the sticky error state, EFULL backpressure and buffer shrinking.
 *
 * The data directory is found next to this source file (__FILE__ is
 * absolute in CMake builds) or through $PS_TEST_DATA_DIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/line_framer.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Frames as offsets into a reference copy, or as owned copies. */
struct frames {
  size_t n;
  size_t cap;
  unsigned char **data;
  size_t *len;
  int end_rc; /* PS_FRAMER_END or the error that stopped framing. */
};

static void frames_add(struct frames *fs, const unsigned char *p, size_t len) {
  if (fs->n == fs->cap) {
    fs->cap = fs->cap ? fs->cap * 2 : 16;
    fs->data = realloc(fs->data, fs->cap * sizeof(*fs->data));
    fs->len = realloc(fs->len, fs->cap * sizeof(*fs->len));
    assert_non_null(fs->data);
    assert_non_null(fs->len);
  }
  fs->data[fs->n] = malloc(len ? len : 1);
  assert_non_null(fs->data[fs->n]);
  if (len)
    memcpy(fs->data[fs->n], p, len);
  fs->len[fs->n] = len;
  fs->n++;
}

static void frames_free(struct frames *fs) {
  size_t i;
  for (i = 0; i < fs->n; i++)
    free(fs->data[i]);
  free(fs->data);
  free(fs->len);
  memset(fs, 0, sizeof(*fs));
}

static void assert_frames_equal(const struct frames *a,
                                const struct frames *b) {
  size_t i;
  assert_int_equal(a->n, b->n);
  assert_int_equal(a->end_rc, b->end_rc);
  for (i = 0; i < a->n; i++) {
    assert_int_equal(a->len[i], b->len[i]);
    assert_memory_equal(a->data[i], b->data[i], a->len[i]);
  }
}

/* Takes every available frame; returns the last result (NEED_MORE, END or
 * an error). */
static int drain(struct ps__framer *f, struct frames *out) {
  const unsigned char *p;
  size_t len;
  int rc;
  while ((rc = ps__framer_next(f, &p, &len)) == PS_FRAMER_FRAME) {
    assert_true(len <= f->max_frame);
    frames_add(out, p, len);
  }
  return rc;
}

/* Frames data cut at the given ascending offsets (plus the end), draining
 * after every chunk; checks the memory bound after every feed. */
static void frame_chunks(enum ps__framer_mode mode, size_t max,
                         const unsigned char *data, size_t n,
                         const size_t *cuts, size_t ncuts, struct frames *out) {
  struct ps__framer f;
  size_t pos = 0;
  size_t i;
  size_t biggest = 0;
  int rc = PS_FRAMER_NEED_MORE;
  ps__framer_init(&f, mode, max);
  for (i = 0; i <= ncuts && rc == PS_FRAMER_NEED_MORE; i++) {
    size_t stop = i < ncuts ? cuts[i] : n;
    size_t len = stop - pos;
    if (len > biggest)
      biggest = len;
    rc = ps__framer_feed(&f, data + pos, len);
    if (rc)
      break;
    assert_true(f.cap <= f.max_frame + 1 + biggest);
    pos = stop;
    rc = drain(&f, out);
  }
  if (rc == PS_FRAMER_NEED_MORE) {
    ps__framer_finish(&f);
    rc = drain(&f, out);
  }
  out->end_rc = rc;
  ps__framer_free(&f);
}

static void frame_whole(enum ps__framer_mode mode, size_t max,
                        const unsigned char *data, size_t n,
                        struct frames *out) {
  frame_chunks(mode, max, data, n, NULL, 0, out);
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *buf;
  long n;
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* tests/data/real-service/<name>, or $PS_TEST_DATA_DIR/real-service/<name>. */
static unsigned char *read_fixture(const char *name, size_t *len) {
  char path[4096];
  const char *env = getenv("PS_TEST_DATA_DIR");
  unsigned char *data;
  if (env) {
    snprintf(path, sizeof(path), "%s/real-service/%s", env, name);
  } else {
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof(path), "%.*s/../data/real-service/%s", dir,
             slash ? __FILE__ : ".", name);
  }
  data = read_file(path, len);
  if (!data)
    fail_msg("cannot read %s (set PS_TEST_DATA_DIR to tests/data)", path);
  return data;
}

/* Reference NDJSON split, written independently of the framer: split on
 * "\n", drop one "\r" before it, skip empty lines, keep a non-empty tail. */
static void reference_ndjson(const unsigned char *d, size_t n,
                             struct frames *out) {
  size_t s = 0;
  size_t i;
  for (i = 0; i <= n; i++) {
    if (i == n || d[i] == '\n') {
      size_t e = i;
      if (e > s && d[e - 1] == '\r')
        e--;
      if (e > s)
        frames_add(out, d + s, e - s);
      s = i + 1;
    }
  }
  out->end_rc = PS_FRAMER_END;
}

/* Reference BSON split: the fixtures are well-formed, so just walk. */
static void reference_bson(const unsigned char *d, size_t n,
                           struct frames *out) {
  size_t pos = 0;
  while (pos < n) {
    size_t len;
    assert_true(n - pos >= 4);
    len = (size_t)d[pos] | (size_t)d[pos + 1] << 8 | (size_t)d[pos + 2] << 16 |
          (size_t)d[pos + 3] << 24;
    assert_true(len >= 5 && len <= n - pos);
    frames_add(out, d + pos, len);
    pos += len;
  }
  out->end_rc = PS_FRAMER_END;
}

/* Deterministic pseudo-random numbers (64-bit LCG, high bits). */
static uint32_t rnd(uint64_t *state) {
  *state = *state * 6364136223846793005u + 1442695040888963407u;
  return (uint32_t)(*state >> 33);
}

/* ------------------------------------------------------------------------ */
/* Real-service fixtures                                                    */
/* ------------------------------------------------------------------------ */

static void check_fixture(const char *name, enum ps__framer_mode mode) {
  size_t n;
  unsigned char *data = read_fixture(name, &n);
  struct frames ref = {0};
  struct frames got = {0};
  size_t *cuts;
  size_t i;
  size_t k;
  size_t largest = 0;
  uint64_t seed;

  if (mode == PS_FRAMER_NDJSON)
    reference_ndjson(data, n, &ref);
  else
    reference_bson(data, n, &ref);
  assert_true(ref.n > 1);
  for (i = 0; i < ref.n; i++)
    if (ref.len[i] > largest)
      largest = ref.len[i];

  /* Whole, with the default maximum and with the largest frame as maximum
   * (the tightest that works; the memory bound is checked inside). */
  frame_whole(mode, 0, data, n, &got);
  assert_frames_equal(&ref, &got);
  frames_free(&got);
  frame_whole(mode, largest, data, n, &got);
  assert_frames_equal(&ref, &got);
  frames_free(&got);

  /* Every split position into two chunks. */
  for (k = 0; k <= n; k++) {
    frame_chunks(mode, largest, data, n, &k, 1, &got);
    assert_frames_equal(&ref, &got);
    frames_free(&got);
  }

  /* One byte at a time. */
  cuts = malloc((n ? n : 1) * sizeof(*cuts));
  assert_non_null(cuts);
  for (k = 0; k + 1 < n; k++)
    cuts[k] = k + 1;
  frame_chunks(mode, largest, data, n, cuts, n ? n - 1 : 0, &got);
  assert_frames_equal(&ref, &got);
  frames_free(&got);

  /* Random chunk sizes, small and large, with several seeds. */
  for (seed = 1; seed <= 50; seed++) {
    uint64_t st = seed;
    size_t pos = 0;
    size_t nc = 0;
    uint32_t span = seed % 2 ? 16 : 4096;
    for (;;) {
      pos += 1 + rnd(&st) % span;
      if (pos >= n)
        break;
      cuts[nc++] = pos;
    }
    frame_chunks(mode, largest, data, n, cuts, nc, &got);
    assert_frames_equal(&ref, &got);
    frames_free(&got);
  }

  /* One byte less than the largest frame is too small. */
  frame_whole(mode, largest - 1, data, n, &got);
  assert_int_equal(got.end_rc, PS_FRAMER_ETOOBIG);
  assert_true(got.n < ref.n);
  frames_free(&got);

  free(cuts);
  frames_free(&ref);
  free(data);
}

static void test_fixtures_ndjson(void **state) {
  static const char *const names[] = {
      "final-sync-user-a.ndjson",
      "initial-sync-user-a.ndjson",
      "initial-sync-user-a.raw_data-false.ndjson",
      "initial-sync-user-b.ndjson",
      "live-changes-user-a.ndjson",
      "resume-user-a.ndjson",
      "token-expiry-user-a.ndjson",
      "final-sync-user-a.bson.decoded.ejson.ndjson",
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    check_fixture(names[i], PS_FRAMER_NDJSON);
}

static void test_fixtures_bson(void **state) {
  (void)state;
  check_fixture("initial-sync-user-a.bson", PS_FRAMER_BSON);
  check_fixture("final-sync-user-a.bson", PS_FRAMER_BSON);
}

/* The same lines with CRLF terminators frame identically. */
static void test_fixture_crlf(void **state) {
  size_t n;
  unsigned char *data = read_fixture("live-changes-user-a.ndjson", &n);
  unsigned char *crlf = malloc(2 * n + 1);
  struct frames a = {0};
  struct frames b = {0};
  size_t i;
  size_t m = 0;
  (void)state;
  assert_non_null(crlf);
  for (i = 0; i < n; i++) {
    if (data[i] == '\n')
      crlf[m++] = '\r';
    crlf[m++] = data[i];
  }
  frame_whole(PS_FRAMER_NDJSON, 0, data, n, &a);
  for (i = 0; i + 1 < m; i += 7) {
    size_t cut = i + 1;
    frame_chunks(PS_FRAMER_NDJSON, 0, crlf, m, &cut, 1, &b);
    assert_frames_equal(&a, &b);
    frames_free(&b);
  }
  frames_free(&a);
  free(crlf);
  free(data);
}

/* ------------------------------------------------------------------------ */
/* NDJSON                                                                   */
/* ------------------------------------------------------------------------ */

static void expect_frame(struct ps__framer *f, const char *want) {
  const unsigned char *p;
  size_t len;
  assert_int_equal(ps__framer_next(f, &p, &len), PS_FRAMER_FRAME);
  assert_int_equal(len, strlen(want));
  assert_memory_equal(p, want, len);
}

static void expect_rc(struct ps__framer *f, int want) {
  const unsigned char *p;
  size_t len;
  assert_int_equal(ps__framer_next(f, &p, &len), want);
}

static void feed_str(struct ps__framer *f, const char *s) {
  assert_int_equal(ps__framer_feed(f, s, strlen(s)), 0);
}

static void test_ndjson_crlf_and_empty_lines(void **state) {
  struct ps__framer f;
  (void)state;
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  feed_str(&f, "\n\r\n{\"a\":1}\r\n\n\n{\"b\":2}\n\r\n");
  expect_frame(&f, "{\"a\":1}");
  expect_frame(&f, "{\"b\":2}");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  /* A "\r" not before "\n" is content; only one "\r" is dropped. */
  feed_str(&f, "x\ry\nz\r\r\n");
  expect_frame(&f, "x\ry");
  expect_frame(&f, "z\r");
  /* A "\r" split from its "\n" across chunks. */
  feed_str(&f, "{}\r");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  feed_str(&f, "\n");
  expect_frame(&f, "{}");
  assert_int_equal(ps__framer_buffered(&f), 0);
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_END);
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);
}

static void test_ndjson_final_line_at_eof(void **state) {
  struct ps__framer f;
  (void)state;
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  feed_str(&f, "{\"a\":1}\n{\"token_expires_in\":0}");
  expect_frame(&f, "{\"a\":1}");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  assert_int_equal(ps__framer_buffered(&f), 22);
  ps__framer_finish(&f);
  assert_int_equal(ps__framer_feed(&f, "x", 1), PS_FRAMER_EMISUSE);
  expect_frame(&f, "{\"token_expires_in\":0}");
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);

  /* End of stream is a terminator: its "\r" goes too; "\r" alone is empty. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  feed_str(&f, "{}\r");
  ps__framer_finish(&f);
  expect_frame(&f, "{}");
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_reset(&f);
  feed_str(&f, "\r");
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);

  /* Nothing fed at all. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);
}

static void test_ndjson_max_line(void **state) {
  struct ps__framer f;
  (void)state;
  /* Exactly the maximum, with "\n", "\r\n" and at end of stream. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "12345678\n12345678\r\n12345678");
  expect_frame(&f, "12345678");
  expect_frame(&f, "12345678");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  ps__framer_finish(&f);
  expect_frame(&f, "12345678");
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);

  /* The maximum plus a pending "\r" is not yet too long. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "12345678\r");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  feed_str(&f, "\n");
  expect_frame(&f, "12345678");
  ps__framer_free(&f);

  /* One byte over, complete. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "ok\n123456789\nlater\n");
  expect_frame(&f, "ok");
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  assert_non_null(strstr(ps__framer_errmsg(&f), "offset 3"));
  /* Sticky. */
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  assert_int_equal(ps__framer_feed(&f, "x", 1), PS_FRAMER_ETOOBIG);
  /* Reset makes it usable again with the same settings. */
  ps__framer_reset(&f);
  assert_string_equal(ps__framer_errmsg(&f), "");
  feed_str(&f, "again\n");
  expect_frame(&f, "again");
  ps__framer_free(&f);

  /* One byte over, detected before the newline arrives. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "1234");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  feed_str(&f, "5678");
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  feed_str(&f, "9");
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  ps__framer_free(&f);

  /* ... and at end of stream. */
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "123456789");
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  ps__framer_free(&f);
}

/* Frames from one chunk stay valid together until the next feed. */
static void test_frames_stable_until_feed(void **state) {
  struct ps__framer f;
  const unsigned char *p[3];
  size_t len[3];
  int i;
  (void)state;
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  feed_str(&f, "aa\nbbb\ncccc\n");
  for (i = 0; i < 3; i++)
    assert_int_equal(ps__framer_next(&f, &p[i], &len[i]), PS_FRAMER_FRAME);
  assert_memory_equal(p[0], "aa", len[0]);
  assert_memory_equal(p[1], "bbb", len[1]);
  assert_memory_equal(p[2], "cccc", len[2]);
  ps__framer_free(&f);
}

/* Undrained input beyond one maximal frame is refused, not buffered. */
static void test_efull_backpressure(void **state) {
  struct ps__framer f;
  struct frames got = {0};
  int i;
  (void)state;
  ps__framer_init(&f, PS_FRAMER_NDJSON, 8);
  feed_str(&f, "a\nb\nc\nd\n");
  assert_int_equal(ps__framer_buffered(&f), 8);
  feed_str(&f, "e\n");
  assert_int_equal(ps__framer_feed(&f, "f\n", 2), PS_FRAMER_EFULL);
  /* Not sticky: draining makes room. */
  assert_int_equal(drain(&f, &got), PS_FRAMER_NEED_MORE);
  assert_int_equal(got.n, 5);
  assert_int_equal(ps__framer_buffered(&f), 0);
  feed_str(&f, "f\n");
  expect_frame(&f, "f");
  for (i = 0; i < 5; i++)
    assert_int_equal(got.len[i], 1);
  frames_free(&got);
  ps__framer_free(&f);
}

/* After one large frame the buffer shrinks back. */
static void test_buffer_shrinks(void **state) {
  struct ps__framer f;
  size_t big = (size_t)4 << 20;
  unsigned char *line = malloc(big + 1);
  const unsigned char *p;
  size_t len;
  (void)state;
  assert_non_null(line);
  memset(line, 'x', big);
  line[big] = '\n';
  ps__framer_init(&f, PS_FRAMER_NDJSON, 0);
  assert_int_equal(ps__framer_feed(&f, line, big + 1), 0);
  assert_true(f.cap >= big + 1);
  assert_int_equal(ps__framer_next(&f, &p, &len), PS_FRAMER_FRAME);
  assert_int_equal(len, big);
  feed_str(&f, "{}\n");
  assert_true(f.cap < (size_t)1 << 20);
  expect_frame(&f, "{}");
  ps__framer_free(&f);
  free(line);
}

/* ------------------------------------------------------------------------ */
/* BSON                                                                     */
/* ------------------------------------------------------------------------ */

static void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

/* A document of n bytes: length, filler, terminating 0. */
static unsigned char *make_doc(size_t n) {
  unsigned char *d = malloc(n);
  assert_non_null(d);
  memset(d, 'd', n);
  put_le32(d, (uint32_t)n);
  d[n - 1] = 0;
  return d;
}

static void test_bson_lengths(void **state) {
  struct ps__framer f;
  unsigned char hdr[4];
  unsigned char *d5 = make_doc(5);
  unsigned char *d16 = make_doc(16);
  const unsigned char *p;
  size_t len;
  static const uint32_t bad[] = {0,           1,           4,
                                 0xFFFFFFFFu, 0x80000000u, 0xFFFFFFFBu};
  size_t i;
  (void)state;

  /* Smallest and exactly the maximum, split inside the header. */
  ps__framer_init(&f, PS_FRAMER_BSON, 16);
  assert_int_equal(ps__framer_feed(&f, d5, 5), 0);
  assert_int_equal(ps__framer_feed(&f, d16, 2), 0);
  assert_int_equal(ps__framer_next(&f, &p, &len), PS_FRAMER_FRAME);
  assert_int_equal(len, 5);
  assert_memory_equal(p, d5, 5);
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  assert_int_equal(ps__framer_feed(&f, d16 + 2, 14), 0);
  assert_int_equal(ps__framer_next(&f, &p, &len), PS_FRAMER_FRAME);
  assert_int_equal(len, 16);
  assert_memory_equal(p, d16, 16);
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);

  /* Below 5, zero, negative: rejected from the header alone. */
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ps__framer_init(&f, PS_FRAMER_BSON, 16);
    put_le32(hdr, bad[i]);
    assert_int_equal(ps__framer_feed(&f, hdr, 4), 0);
    expect_rc(&f, PS_FRAMER_EBADLEN);
    expect_rc(&f, PS_FRAMER_EBADLEN);
    assert_int_equal(ps__framer_feed(&f, d5, 5), PS_FRAMER_EBADLEN);
    assert_non_null(strstr(ps__framer_errmsg(&f), "below the minimum"));
    ps__framer_free(&f);
  }
  ps__framer_init(&f, PS_FRAMER_BSON, 16);
  put_le32(hdr, 0xFFFFFFFFu);
  assert_int_equal(ps__framer_feed(&f, hdr, 4), 0);
  expect_rc(&f, PS_FRAMER_EBADLEN);
  assert_non_null(strstr(ps__framer_errmsg(&f), "length -1"));
  ps__framer_free(&f);

  /* One over the maximum, and INT32_MAX under the default maximum: rejected
   * from the header alone, before any body is buffered. */
  ps__framer_init(&f, PS_FRAMER_BSON, 16);
  put_le32(hdr, 17);
  assert_int_equal(ps__framer_feed(&f, hdr, 4), 0);
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  ps__framer_free(&f);
  ps__framer_init(&f, PS_FRAMER_BSON, 0);
  put_le32(hdr, 0x7FFFFFFFu);
  assert_int_equal(ps__framer_feed(&f, hdr, 4), 0);
  expect_rc(&f, PS_FRAMER_ETOOBIG);
  ps__framer_free(&f);

  /* The maximum is capped at INT32_MAX in BSON mode. */
  ps__framer_init(&f, PS_FRAMER_BSON, SIZE_MAX);
  assert_int_equal(f.max_frame, PS_FRAMER_BSON_MAX_LEN);
  ps__framer_free(&f);

  free(d5);
  free(d16);
}

static void test_bson_truncated_at_eof(void **state) {
  struct ps__framer f;
  unsigned char *d = make_doc(12);
  const unsigned char *p;
  size_t len;
  (void)state;
  /* Inside the length. */
  ps__framer_init(&f, PS_FRAMER_BSON, 0);
  assert_int_equal(ps__framer_feed(&f, d, 12), 0);
  assert_int_equal(ps__framer_feed(&f, d, 3), 0);
  assert_int_equal(ps__framer_next(&f, &p, &len), PS_FRAMER_FRAME);
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_ETRUNCATED);
  expect_rc(&f, PS_FRAMER_ETRUNCATED);
  ps__framer_free(&f);
  /* Inside the body. */
  ps__framer_init(&f, PS_FRAMER_BSON, 0);
  assert_int_equal(ps__framer_feed(&f, d, 11), 0);
  expect_rc(&f, PS_FRAMER_NEED_MORE);
  assert_int_equal(ps__framer_buffered(&f), 11);
  ps__framer_finish(&f);
  expect_rc(&f, PS_FRAMER_ETRUNCATED);
  assert_non_null(strstr(ps__framer_errmsg(&f), "11 of 12 bytes"));
  ps__framer_free(&f);
  /* On a boundary: the normal end. */
  ps__framer_init(&f, PS_FRAMER_BSON, 0);
  assert_int_equal(ps__framer_feed(&f, d, 12), 0);
  ps__framer_finish(&f);
  assert_int_equal(ps__framer_next(&f, &p, &len), PS_FRAMER_FRAME);
  expect_rc(&f, PS_FRAMER_END);
  ps__framer_free(&f);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures_ndjson),
      cmocka_unit_test(test_fixtures_bson),
      cmocka_unit_test(test_fixture_crlf),
      cmocka_unit_test(test_ndjson_crlf_and_empty_lines),
      cmocka_unit_test(test_ndjson_final_line_at_eof),
      cmocka_unit_test(test_ndjson_max_line),
      cmocka_unit_test(test_frames_stable_until_feed),
      cmocka_unit_test(test_efull_backpressure),
      cmocka_unit_test(test_buffer_shrinks),
      cmocka_unit_test(test_bson_lengths),
      cmocka_unit_test(test_bson_truncated_at_eof),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
