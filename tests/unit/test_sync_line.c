/*
 * test_sync_line.c: the sync line decoders of src/core/sync_line.c.
 *
 * Covers every line type in JSON and BSON (BSON inputs are built with the
 * small encoder below), the scalar rules of core-sync.md 10.2, the envelope
 * rules of 10.1, the BSON example of 10.7, truncated and garbage input, a
 * replay of the recorded real-service transcripts in tests/data/real-service
 * (BSON lines must decode to the same structs as their JSON twins), and a
 * table of inputs whose error messages were recorded from the official core
 * 0.5.3 (powersync_control('line_text' / 'line_binary', ...) in
 * better-sqlite3 with @powersync/node's libpowersync).
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

#include "core/sync_line.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

struct decoded {
  struct ps__arena arena;
  struct ps__sync_line *line;
  int rc;
  char err[PS_SYNC_LINE_ERROR_MAX];
};

static void decode_text_n(struct decoded *d, const char *text, size_t len) {
  ps__arena_init(&d->arena, 0);
  d->rc = ps__sync_line_decode_text(&d->arena, text, len, &d->line, d->err,
                                    sizeof(d->err));
}

static void decode_text(struct decoded *d, const char *text) {
  decode_text_n(d, text, strlen(text));
}

static void decode_binary(struct decoded *d, const void *data, size_t len) {
  ps__arena_init(&d->arena, 0);
  d->rc = ps__sync_line_decode_binary(&d->arena, data, len, &d->line, d->err,
                                      sizeof(d->err));
}

static void done(struct decoded *d) { ps__arena_free(&d->arena); }

/* Decodes text and expects success. */
static struct ps__sync_line *ok_text(struct decoded *d, const char *text) {
  decode_text(d, text);
  if (d->rc != PS_SYNC_LINE_OK)
    fail_msg("%s: %s", text, d->err);
  assert_non_null(d->line);
  return d->line;
}

static void expect_text_error(const char *text, const char *cause) {
  struct decoded d;
  decode_text(&d, text);
  if (d.rc != PS_SYNC_LINE_INVALID)
    fail_msg("%s: expected an error", text);
  assert_null(d.line);
  assert_string_equal(d.err, cause);
  done(&d);
}

static void assert_str(struct ps__sync_str s, const char *want) {
  if (!want) {
    assert_null(s.ptr);
    return;
  }
  assert_non_null(s.ptr);
  assert_int_equal(s.len, strlen(want));
  assert_memory_equal(s.ptr, want, s.len);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

/* Decodes a hex string into a malloc'd buffer. */
static unsigned char *unhex(const char *hex, size_t *len) {
  size_t n = strlen(hex) / 2;
  unsigned char *b = malloc(n ? n : 1);
  size_t i;
  assert_non_null(b);
  for (i = 0; i < n; i++)
    b[i] = (unsigned char)(hexval(hex[2 * i]) * 16 + hexval(hex[2 * i + 1]));
  *len = n;
  return b;
}

/* A minimal BSON encoder for building test inputs. */
struct benc {
  unsigned char *b;
  size_t n;
  size_t cap;
  size_t open[256];
  int depth;
};

static void be_reserve(struct benc *e, size_t more) {
  if (e->n + more > e->cap) {
    e->cap = (e->n + more) * 2;
    e->b = realloc(e->b, e->cap);
    assert_non_null(e->b);
  }
}

static void be_bytes(struct benc *e, const void *p, size_t n) {
  be_reserve(e, n);
  memcpy(e->b + e->n, p, n);
  e->n += n;
}

static void be_u32(struct benc *e, uint32_t v) {
  unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                        (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  be_bytes(e, x, 4);
}

static void be_u64(struct benc *e, uint64_t v) {
  be_u32(e, (uint32_t)v);
  be_u32(e, (uint32_t)(v >> 32));
}

static void be_open(struct benc *e) {
  e->open[e->depth++] = e->n;
  be_u32(e, 0);
}

/* Starts the top-level document. */
static void be_init(struct benc *e) {
  memset(e, 0, sizeof(*e));
  be_open(e);
}

/* Ends the innermost document or array and patches its length. */
static void be_end(struct benc *e) {
  size_t start = e->open[--e->depth];
  uint32_t len;
  be_bytes(e, "", 1);
  len = (uint32_t)(e->n - start);
  e->b[start] = (unsigned char)len;
  e->b[start + 1] = (unsigned char)(len >> 8);
  e->b[start + 2] = (unsigned char)(len >> 16);
  e->b[start + 3] = (unsigned char)(len >> 24);
}

static void be_key(struct benc *e, int type, const char *key) {
  unsigned char t = (unsigned char)type;
  be_bytes(e, &t, 1);
  be_bytes(e, key, strlen(key) + 1);
}

static void be_i32(struct benc *e, const char *key, int32_t v) {
  be_key(e, 0x10, key);
  be_u32(e, (uint32_t)v);
}

static void be_i64(struct benc *e, const char *key, int64_t v) {
  be_key(e, 0x12, key);
  be_u64(e, (uint64_t)v);
}

static void be_f64(struct benc *e, const char *key, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof(bits));
  be_key(e, 0x01, key);
  be_u64(e, bits);
}

static void be_strn(struct benc *e, const char *key, const char *s, size_t n) {
  be_key(e, 0x02, key);
  be_u32(e, (uint32_t)(n + 1));
  be_bytes(e, s, n);
  be_bytes(e, "", 1);
}

static void be_str(struct benc *e, const char *key, const char *s) {
  be_strn(e, key, s, strlen(s));
}

static void be_bool(struct benc *e, const char *key, int v) {
  unsigned char b = (unsigned char)v;
  be_key(e, 0x08, key);
  be_bytes(e, &b, 1);
}

static void be_null(struct benc *e, const char *key) { be_key(e, 0x0A, key); }

static void be_doc(struct benc *e, const char *key) {
  be_key(e, 0x03, key);
  be_open(e);
}

static void be_arr(struct benc *e, const char *key) {
  be_key(e, 0x04, key);
  be_open(e);
}

static void be_free(struct benc *e) { free(e->b); }

/* Reads a whole file; NULL if it does not exist. */
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
  buf[n] = 0;
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

static int str_equal(struct ps__sync_str a, struct ps__sync_str b) {
  if (!a.ptr || !b.ptr)
    return !a.ptr && !b.ptr;
  return a.len == b.len && !memcmp(a.ptr, b.ptr, a.len);
}

static void assert_buckets_equal(const struct ps__sync_bucket_checksum *a,
                                 const struct ps__sync_bucket_checksum *b,
                                 size_t n) {
  size_t i;
  size_t k;
  for (i = 0; i < n; i++) {
    assert_true(str_equal(a[i].bucket, b[i].bucket));
    assert_int_equal(a[i].checksum, b[i].checksum);
    assert_int_equal(a[i].priority, b[i].priority);
    assert_int_equal(a[i].has_count, b[i].has_count);
    assert_int_equal(a[i].count, b[i].count);
    assert_int_equal(a[i].subscription_count, b[i].subscription_count);
    for (k = 0; k < a[i].subscription_count; k++) {
      assert_int_equal(a[i].subscriptions[k].kind, b[i].subscriptions[k].kind);
      assert_int_equal(a[i].subscriptions[k].index,
                       b[i].subscriptions[k].index);
    }
  }
}

/* Deep equality of two decoded lines (strings by content). */
static void assert_lines_equal(const struct ps__sync_line *a,
                               const struct ps__sync_line *b) {
  size_t i;
  size_t k;
  assert_int_equal(a->type, b->type);
  assert_true(str_equal(a->type_name, b->type_name));
  switch (a->type) {
  case PS_SYNC_LINE_CHECKPOINT: {
    const struct ps__sync_checkpoint *x = &a->as.checkpoint;
    const struct ps__sync_checkpoint *y = &b->as.checkpoint;
    assert_int_equal(x->last_op_id, y->last_op_id);
    assert_int_equal(x->has_write_checkpoint, y->has_write_checkpoint);
    assert_int_equal(x->write_checkpoint, y->write_checkpoint);
    assert_int_equal(x->bucket_count, y->bucket_count);
    assert_buckets_equal(x->buckets, y->buckets, x->bucket_count);
    assert_int_equal(x->stream_count, y->stream_count);
    for (i = 0; i < x->stream_count; i++) {
      assert_true(str_equal(x->streams[i].name, y->streams[i].name));
      assert_int_equal(x->streams[i].is_default, y->streams[i].is_default);
      assert_int_equal(x->streams[i].error_count, y->streams[i].error_count);
      for (k = 0; k < x->streams[i].error_count; k++) {
        const struct ps__sync_stream_error *e = &x->streams[i].errors[k];
        const struct ps__sync_stream_error *f = &y->streams[i].errors[k];
        assert_int_equal(e->is_default, f->is_default);
        assert_int_equal(e->index, f->index);
        assert_true(str_equal(e->message, f->message));
      }
    }
    break;
  }
  case PS_SYNC_LINE_CHECKPOINT_DIFF: {
    const struct ps__sync_checkpoint_diff *x = &a->as.diff;
    const struct ps__sync_checkpoint_diff *y = &b->as.diff;
    assert_int_equal(x->last_op_id, y->last_op_id);
    assert_int_equal(x->has_write_checkpoint, y->has_write_checkpoint);
    assert_int_equal(x->write_checkpoint, y->write_checkpoint);
    assert_int_equal(x->updated_count, y->updated_count);
    assert_buckets_equal(x->updated_buckets, y->updated_buckets,
                         x->updated_count);
    assert_int_equal(x->removed_count, y->removed_count);
    for (i = 0; i < x->removed_count; i++)
      assert_true(str_equal(x->removed_buckets[i], y->removed_buckets[i]));
    break;
  }
  case PS_SYNC_LINE_DATA: {
    const struct ps__sync_data *x = &a->as.data;
    const struct ps__sync_data *y = &b->as.data;
    assert_true(str_equal(x->bucket, y->bucket));
    assert_int_equal(x->entry_count, y->entry_count);
    for (i = 0; i < x->entry_count; i++) {
      const struct ps__sync_oplog_entry *e = &x->entries[i];
      const struct ps__sync_oplog_entry *f = &y->entries[i];
      assert_int_equal(e->op_id, f->op_id);
      assert_int_equal(e->op, f->op);
      assert_int_equal(e->checksum, f->checksum);
      assert_true(str_equal(e->object_type, f->object_type));
      assert_true(str_equal(e->object_id, f->object_id));
      assert_true(str_equal(e->subkey, f->subkey));
      assert_true(str_equal(e->data, f->data));
    }
    break;
  }
  case PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE:
    assert_int_equal(a->as.partial_priority, b->as.partial_priority);
    break;
  case PS_SYNC_LINE_TOKEN_EXPIRES_IN:
    assert_int_equal(a->as.token_expires_in, b->as.token_expires_in);
    break;
  case PS_SYNC_LINE_CHECKPOINT_COMPLETE:
  case PS_SYNC_LINE_UNKNOWN:
    break;
  }
}

/* ------------------------------------------------------------------------ */
/* Line types, JSON                                                         */
/* ------------------------------------------------------------------------ */

static const char checkpoint_json[] =
    "{\"checkpoint\":{\"last_op_id\":\"10\",\"write_checkpoint\":\"5\","
    "\"buckets\":[{\"bucket\":\"a\",\"checksum\":-1,\"priority\":1,"
    "\"count\":12,\"subscriptions\":[{\"default\":0},{\"sub\":1}]},"
    "{\"bucket\":\"b\\\"q\",\"checksum\":4294967295,\"last_op_id\":\"7\"}],"
    "\"streams\":[{\"name\":\"s\",\"is_default\":true,\"errors\":["
    "{\"subscription\":\"default\",\"message\":\"bad\"},"
    "{\"subscription\":2,\"message\":\"worse\"}]}]}}";

static void text_checkpoint_decodes(void **state) {
  struct decoded d;
  const struct ps__sync_checkpoint *c;
  (void)state;
  c = &ok_text(&d, checkpoint_json)->as.checkpoint;
  assert_int_equal(d.line->type, PS_SYNC_LINE_CHECKPOINT);
  assert_str(d.line->type_name, "checkpoint");
  assert_int_equal(c->last_op_id, 10);
  assert_true(c->has_write_checkpoint);
  assert_int_equal(c->write_checkpoint, 5);
  assert_int_equal(c->bucket_count, 2);
  assert_str(c->buckets[0].bucket, "a");
  assert_int_equal(c->buckets[0].checksum, 0xFFFFFFFFu);
  assert_int_equal(c->buckets[0].priority, 1);
  assert_true(c->buckets[0].has_count);
  assert_int_equal(c->buckets[0].count, 12);
  assert_int_equal(c->buckets[0].subscription_count, 2);
  assert_int_equal(c->buckets[0].subscriptions[0].kind,
                   PS_SYNC_SUBSCRIPTION_DEFAULT);
  assert_int_equal(c->buckets[0].subscriptions[0].index, 0);
  assert_int_equal(c->buckets[0].subscriptions[1].kind,
                   PS_SYNC_SUBSCRIPTION_EXPLICIT);
  assert_int_equal(c->buckets[0].subscriptions[1].index, 1);
  assert_str(c->buckets[1].bucket, "b\"q"); /* Escapes are decoded. */
  assert_int_equal(c->buckets[1].checksum, 0xFFFFFFFFu);
  assert_int_equal(c->buckets[1].priority, PS_SYNC_DEFAULT_PRIORITY);
  assert_false(c->buckets[1].has_count);
  assert_int_equal(c->buckets[1].subscription_count, 0);
  assert_int_equal(c->stream_count, 1);
  assert_str(c->streams[0].name, "s");
  assert_true(c->streams[0].is_default);
  assert_int_equal(c->streams[0].error_count, 2);
  assert_true(c->streams[0].errors[0].is_default);
  assert_str(c->streams[0].errors[0].message, "bad");
  assert_false(c->streams[0].errors[1].is_default);
  assert_int_equal(c->streams[0].errors[1].index, 2);
  done(&d);

  /* Minimal checkpoint: write_checkpoint null, no streams. */
  c = &ok_text(&d, "{\"checkpoint\":{\"write_checkpoint\":null,"
                   "\"last_op_id\":\"-3\",\"buckets\":[]}}")
           ->as.checkpoint;
  assert_int_equal(c->last_op_id, -3);
  assert_false(c->has_write_checkpoint);
  assert_int_equal(c->bucket_count, 0);
  assert_null(c->buckets);
  assert_int_equal(c->stream_count, 0);
  done(&d);
}

static const char diff_json[] =
    "{\"checkpoint_diff\":{\"last_op_id\":\"12\",\"updated_buckets\":["
    "{\"bucket\":\"a\",\"count\":12,\"checksum\":0,\"priority\":3}],"
    "\"removed_buckets\":[\"x\",\"y\\u00e9\"],\"write_checkpoint\":\"1000\"}}";

static void text_checkpoint_diff_decodes(void **state) {
  struct decoded d;
  const struct ps__sync_checkpoint_diff *c;
  (void)state;
  c = &ok_text(&d, diff_json)->as.diff;
  assert_int_equal(d.line->type, PS_SYNC_LINE_CHECKPOINT_DIFF);
  assert_int_equal(c->last_op_id, 12);
  assert_true(c->has_write_checkpoint);
  assert_int_equal(c->write_checkpoint, 1000);
  assert_int_equal(c->updated_count, 1);
  assert_str(c->updated_buckets[0].bucket, "a");
  assert_int_equal(c->updated_buckets[0].count, 12);
  assert_int_equal(c->removed_count, 2);
  assert_str(c->removed_buckets[0], "x");
  assert_str(c->removed_buckets[1], "y\xc3\xa9");
  done(&d);
}

static void text_completion_lines_decode(void **state) {
  struct decoded d;
  (void)state;
  assert_int_equal(
      ok_text(&d, "{\"checkpoint_complete\":{\"last_op_id\":\"10\"}}")->type,
      PS_SYNC_LINE_CHECKPOINT_COMPLETE);
  done(&d);
  assert_int_equal(ok_text(&d, "{\"checkpoint_complete\":{}}")->type,
                   PS_SYNC_LINE_CHECKPOINT_COMPLETE);
  done(&d);
  ok_text(&d, "{\"partial_checkpoint_complete\":{\"last_op_id\":\"10\","
              "\"priority\":1}}");
  assert_int_equal(d.line->type, PS_SYNC_LINE_PARTIAL_CHECKPOINT_COMPLETE);
  assert_int_equal(d.line->as.partial_priority, 1);
  done(&d);
}

static const char data_json[] =
    "{\"data\":{\"bucket\":\"bkt\",\"has_more\":false,\"after\":null,"
    "\"next_after\":\"4\",\"data\":["
    "{\"op_id\":\"1\",\"op\":\"PUT\",\"object_type\":\"items\","
    "\"object_id\":\"r1\",\"subkey\":null,\"checksum\":123,"
    "\"data\":\"{\\\"col\\\":\\\"hi\\\"}\"},"
    "{\"op_id\":\"2\",\"op\":\"REMOVE\",\"object_type\":\"items\","
    "\"object_id\":\"r1\",\"checksum\":3573495687,\"data\":null},"
    "{\"op_id\":\"3\",\"op\":\"MOVE\",\"checksum\":-721471609.0},"
    "{\"checksum\":0,\"op\":\"CLEAR\",\"op_id\":\"9223372036854775807\","
    "\"subkey\":\"sk\"}]}}";

static void text_data_decodes(void **state) {
  struct decoded d;
  const struct ps__sync_data *l;
  const struct ps__sync_oplog_entry *e;
  (void)state;
  l = &ok_text(&d, data_json)->as.data;
  assert_int_equal(d.line->type, PS_SYNC_LINE_DATA);
  assert_str(l->bucket, "bkt");
  /* Strings without escapes are slices of the input. */
  assert_true(l->bucket.ptr > data_json &&
              l->bucket.ptr < data_json + sizeof(data_json));
  assert_int_equal(l->entry_count, 4);
  e = l->entries;
  assert_int_equal(e[0].op_id, 1);
  assert_int_equal(e[0].op, PS_SYNC_OP_PUT);
  assert_str(e[0].object_type, "items");
  assert_str(e[0].object_id, "r1");
  assert_str(e[0].subkey, NULL);
  assert_int_equal(e[0].checksum, 123);
  assert_str(e[0].data, "{\"col\":\"hi\"}");
  assert_int_equal(e[1].op, PS_SYNC_OP_REMOVE);
  assert_int_equal(e[1].checksum, 3573495687u);
  assert_str(e[1].data, NULL);
  assert_int_equal(e[2].op, PS_SYNC_OP_MOVE);
  assert_int_equal(e[2].checksum, 3573495687u); /* Bit-cast of -721471609. */
  assert_str(e[2].object_type, NULL);
  assert_str(e[2].object_id, NULL);
  assert_int_equal(e[3].op, PS_SYNC_OP_CLEAR);
  assert_int_equal(e[3].op_id, INT64_MAX);
  assert_str(e[3].subkey, "sk");
  assert_string_equal(ps__sync_op_name(e[3].op), "CLEAR");
  done(&d);

  ok_text(&d, "{\"data\":{\"bucket\":\"a\",\"data\":[]}}");
  assert_int_equal(d.line->as.data.entry_count, 0);
  done(&d);
}

static void text_keepalive_and_unknown_lines(void **state) {
  struct decoded d;
  (void)state;
  ok_text(&d, "{\"token_expires_in\":60}");
  assert_int_equal(d.line->type, PS_SYNC_LINE_TOKEN_EXPIRES_IN);
  assert_int_equal(d.line->as.token_expires_in, 60);
  done(&d);
  ok_text(&d, "{\"token_expires_in\":-2147483648}");
  assert_int_equal(d.line->as.token_expires_in, INT32_MIN);
  done(&d);
  ok_text(&d, "{\"foo\":{\"a\":[1,2,{\"b\":null}],\"c\":\"\\ud800\"}}");
  assert_int_equal(d.line->type, PS_SYNC_LINE_UNKNOWN);
  assert_str(d.line->type_name, "foo");
  done(&d);
  ok_text(&d, "{\"foo\": 123}");
  assert_int_equal(d.line->type, PS_SYNC_LINE_UNKNOWN);
  done(&d);
}

/* ------------------------------------------------------------------------ */
/* Line types, BSON                                                         */
/* ------------------------------------------------------------------------ */

static void expect_binary_equals_text(struct benc *e, const char *text) {
  struct decoded a;
  struct decoded b;
  ok_text(&a, text);
  decode_binary(&b, e->b, e->n);
  if (b.rc != PS_SYNC_LINE_OK)
    fail_msg("binary twin of %s: %s", text, b.err);
  assert_lines_equal(a.line, b.line);
  done(&a);
  done(&b);
  be_free(e);
}

static void binary_lines_decode_like_text(void **state) {
  struct benc e;
  (void)state;

  be_init(&e);
  be_doc(&e, "checkpoint");
  be_str(&e, "last_op_id", "10");
  be_str(&e, "write_checkpoint", "5");
  be_arr(&e, "buckets");
  be_doc(&e, "0");
  be_str(&e, "bucket", "a");
  be_i32(&e, "checksum", -1);
  be_i32(&e, "priority", 1);
  be_i64(&e, "count", 12);
  be_arr(&e, "subscriptions");
  be_doc(&e, "0");
  be_i32(&e, "default", 0);
  be_end(&e);
  be_doc(&e, "1");
  be_i64(&e, "sub", 1);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_doc(&e, "1");
  be_str(&e, "bucket", "b\"q");
  be_i64(&e, "checksum", 4294967295LL);
  be_str(&e, "last_op_id", "7");
  be_end(&e);
  be_end(&e);
  be_arr(&e, "streams");
  be_doc(&e, "0");
  be_str(&e, "name", "s");
  be_bool(&e, "is_default", 1);
  be_arr(&e, "errors");
  be_doc(&e, "0");
  be_str(&e, "subscription", "default");
  be_str(&e, "message", "bad");
  be_end(&e);
  be_doc(&e, "1");
  be_i32(&e, "subscription", 2);
  be_str(&e, "message", "worse");
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(&e, checkpoint_json);

  be_init(&e);
  be_doc(&e, "checkpoint_diff");
  be_str(&e, "last_op_id", "12");
  be_arr(&e, "updated_buckets");
  be_doc(&e, "0");
  be_str(&e, "bucket", "a");
  be_i32(&e, "count", 12);
  be_f64(&e, "checksum", 0.0);
  be_i32(&e, "priority", 3);
  be_end(&e);
  be_end(&e);
  be_arr(&e, "removed_buckets");
  be_str(&e, "0", "x");
  be_str(&e, "1", "y\xc3\xa9");
  be_end(&e);
  be_str(&e, "write_checkpoint", "1000");
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(&e, diff_json);

  be_init(&e);
  be_doc(&e, "data");
  be_str(&e, "bucket", "bkt");
  be_bool(&e, "has_more", 0);
  be_null(&e, "after");
  be_str(&e, "next_after", "4");
  be_arr(&e, "data");
  be_doc(&e, "0");
  be_str(&e, "op_id", "1");
  be_str(&e, "op", "PUT");
  be_str(&e, "object_type", "items");
  be_str(&e, "object_id", "r1");
  be_null(&e, "subkey");
  be_i32(&e, "checksum", 123);
  be_str(&e, "data", "{\"col\":\"hi\"}");
  be_end(&e);
  be_doc(&e, "1");
  be_str(&e, "op_id", "2");
  be_str(&e, "op", "REMOVE");
  be_str(&e, "object_type", "items");
  be_str(&e, "object_id", "r1");
  be_i64(&e, "checksum", 3573495687LL);
  be_null(&e, "data");
  be_end(&e);
  be_doc(&e, "2");
  be_str(&e, "op_id", "3");
  be_str(&e, "op", "MOVE");
  be_f64(&e, "checksum", -721471609.0);
  be_end(&e);
  be_doc(&e, "3");
  be_i32(&e, "checksum", 0);
  be_str(&e, "op", "CLEAR");
  be_str(&e, "op_id", "9223372036854775807");
  be_str(&e, "subkey", "sk");
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(&e, data_json);

  be_init(&e);
  be_doc(&e, "partial_checkpoint_complete");
  be_str(&e, "last_op_id", "10");
  be_i64(&e, "priority", 1);
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(
      &e, "{\"partial_checkpoint_complete\":{\"priority\":1}}");

  be_init(&e);
  be_doc(&e, "checkpoint_complete");
  be_str(&e, "last_op_id", "10");
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(&e, "{\"checkpoint_complete\":{}}");

  be_init(&e);
  be_doc(&e, "whatever");
  be_f64(&e, "x", 1.5);
  be_end(&e);
  be_end(&e);
  expect_binary_equals_text(&e, "{\"whatever\":{}}");
}

/* core-sync.md 10.7: the example from the upstream unit tests. */
static void binary_keepalive_example(void **state) {
  static const unsigned char line[] = {0x1b, 0x00, 0x00, 0x00, 0x10, 't', 'o',
                                       'k',  'e',  'n',  '_',  'e',  'x', 'p',
                                       'i',  'r',  'e',  's',  '_',  'i', 'n',
                                       0x00, 0x3c, 0x00, 0x00, 0x00, 0x00};
  struct decoded d;
  (void)state;
  decode_binary(&d, line, sizeof(line));
  assert_int_equal(d.rc, PS_SYNC_LINE_OK);
  assert_int_equal(d.line->type, PS_SYNC_LINE_TOKEN_EXPIRES_IN);
  assert_int_equal(d.line->as.token_expires_in, 60);
  done(&d);
}

/* ------------------------------------------------------------------------ */
/* Scalar rules (core-sync.md 10.2)                                         */
/* ------------------------------------------------------------------------ */

/* JSON checksums inside a checkpoint bucket: accepted values and the u32
 * they decode to, or the error. */
static void scalar_checksum_rules(void **state) {
  static const struct {
    const char *literal;
    uint32_t value;
    const char *error; /* NULL = accepted */
  } cases[] = {
      {"0", 0, NULL},
      {"3573495687", 3573495687u, NULL},
      {"4294967295", 4294967295u, NULL},
      {"-1", 0xFFFFFFFFu, NULL},
      {"-2147483648", 0x80000000u, NULL},
      {"3573495687.0", 3573495687u, NULL},
      {"-721471609.0", 3573495687u, NULL},
      {"-1.0", 0xFFFFFFFFu, NULL},
      {"-0", 0, NULL},
      {"1e3", 1000, NULL},
      {"4294967296", 0,
       "invalid value: integer `4294967296`, expected a 32-bit int"},
      {"-2147483649", 0,
       "invalid value: integer `-2147483649`, expected a 32-bit int"},
      {"1.5", 0,
       "invalid value: floating point `1.5`, expected a whole number"},
      {"1e20", 0,
       "invalid value: integer `9223372036854775807`, expected a 32-bit int"},
      {"\"1\"", 0,
       "invalid type: string \"1\", expected a number to interpret as a "
       "checksum"},
      {"null", 0,
       "invalid type: null, expected a number to interpret as a checksum"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char text[256];
    struct decoded d;
    snprintf(text, sizeof(text),
             "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":"
             "\"a\",\"checksum\":%s}]}}",
             cases[i].literal);
    decode_text(&d, text);
    if (!cases[i].error) {
      if (d.rc != PS_SYNC_LINE_OK)
        fail_msg("%s: %s", cases[i].literal, d.err);
      assert_int_equal(d.line->as.checkpoint.buckets[0].checksum,
                       cases[i].value);
    } else {
      assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
      if (strncmp(d.err, cases[i].error, strlen(cases[i].error)) != 0)
        fail_msg("%s: got %s", cases[i].literal, d.err);
    }
    done(&d);
  }
}

/* BSON checksum types: int32, int64, double; the rest rejected. */
static void scalar_checksum_rules_bson(void **state) {
  struct benc e;
  struct decoded d;
  int kind;
  (void)state;
  for (kind = 0; kind < 7; kind++) {
    be_init(&e);
    be_doc(&e, "checkpoint");
    be_str(&e, "last_op_id", "1");
    be_arr(&e, "buckets");
    be_doc(&e, "0");
    be_str(&e, "bucket", "a");
    switch (kind) {
    case 0:
      be_i32(&e, "checksum", -1);
      break;
    case 1:
      be_i64(&e, "checksum", 3573495687LL);
      break;
    case 2:
      be_f64(&e, "checksum", -721471609.0);
      break;
    case 3:
      be_i64(&e, "checksum", 4294967296LL);
      break;
    case 4:
      be_f64(&e, "checksum", 0.5);
      break;
    case 5:
      be_str(&e, "checksum", "1");
      break;
    default:
      be_null(&e, "checksum");
    }
    be_end(&e);
    be_end(&e);
    be_end(&e);
    be_end(&e);
    decode_binary(&d, e.b, e.n);
    if (kind == 0)
      assert_int_equal(d.line->as.checkpoint.buckets[0].checksum, 0xFFFFFFFFu);
    else if (kind <= 2)
      assert_int_equal(d.line->as.checkpoint.buckets[0].checksum, 3573495687u);
    else
      assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
    if (kind == 3)
      assert_string_equal(d.err, "bson error at unknown offset: custom invalid "
                                 "value: integer `4294967296`, expected a "
                                 "32-bit int");
    if (kind == 4)
      assert_string_equal(d.err, "bson error at unknown offset: custom invalid "
                                 "value: floating point `0.5`, expected a "
                                 "whole number");
    if (kind == 6)
      assert_string_equal(d.err, "bson error at unknown offset: custom invalid "
                                 "type: unit value, expected a number to "
                                 "interpret as a checksum");
    done(&d);
    be_free(&e);
  }
}

static void scalar_op_id_rules(void **state) {
  struct decoded d;
  (void)state;
  ok_text(&d, "{\"checkpoint\":{\"last_op_id\":\"+5\",\"buckets\":[]}}");
  assert_int_equal(d.line->as.checkpoint.last_op_id, 5);
  done(&d);
  ok_text(&d, "{\"checkpoint\":{\"last_op_id\":\"-9223372036854775808\","
              "\"buckets\":[]}}");
  assert_int_equal(d.line->as.checkpoint.last_op_id, INT64_MIN);
  done(&d);
  ok_text(&d, "{\"checkpoint\":{\"last_op_id\":\"\\u0031\",\"buckets\":[]}}");
  assert_int_equal(d.line->as.checkpoint.last_op_id, 1);
  done(&d);
  expect_text_error("{\"checkpoint\":{\"last_op_id\":1,\"buckets\":[]}}",
                    "invalid type: integer `1`, expected a string at line 1 "
                    "column 29");
  expect_text_error("{\"checkpoint\":{\"last_op_id\":\"1 \",\"buckets\":[]}}",
                    "invalid digit found in string at line 1 column 32");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"9223372036854775808\",\"buckets\":[]}"
      "}",
      "number too large to fit in target type at line 1 column 49");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],"
      "\"write_checkpoint\":5}}",
      "invalid type: integer `5`, expected a string at line 1 column 65");
}

static void scalar_priority_count_and_keepalive_rules(void **state) {
  struct decoded d;
  (void)state;
  ok_text(&d, "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":"
              "\"a\",\"checksum\":0,\"priority\":7,\"count\":null}]}}");
  assert_int_equal(d.line->as.checkpoint.buckets[0].priority, 7);
  assert_false(d.line->as.checkpoint.buckets[0].has_count);
  done(&d);
  ok_text(&d, "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":"
              "\"a\",\"checksum\":0,\"priority\":null}]}}");
  assert_int_equal(d.line->as.checkpoint.buckets[0].priority, 3);
  done(&d);
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1,\"priority\":-1}]}}",
      "invalid argument: Invalid bucket priority value. cause: unknown at "
      "line 1 column 83");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1,\"priority\":2147483647}]}}",
      "invalid argument: Invalid bucket priority value. cause: unknown at "
      "line 1 column 91");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1,\"priority\":2147483648}]}}",
      "int too large at line 1 column 91");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1,\"priority\":1.0}]}}",
      "invalid type: floating point `1.0`, expected a priority as an integer "
      "between 0 and 3 (inclusive) at line 1 column 84");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
      "\"checksum\":1,\"count\":1.0}]}}",
      "invalid type: floating point `1.0`, expected i64 at line 1 column 81");
  expect_text_error("{\"token_expires_in\":5.0}",
                    "invalid type: floating point `5.0`, expected i32 at line "
                    "1 column 23");
  expect_text_error("{\"token_expires_in\":3000000000}",
                    "invalid value: integer `3000000000`, expected i32 at "
                    "line 1 column 30");
  expect_text_error(
      "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
      "\"checksum\":1,\"data\":{}}]}}",
      "invalid type: map, expected a string at line 1 column 74");
  expect_text_error(
      "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"put\","
      "\"checksum\":1}]}}",
      "unknown variant `put`, expected one of `CLEAR`, `MOVE`, `PUT`, "
      "`REMOVE` at line 1 column 53");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
      "\"name\":\"s\",\"is_default\":1,\"errors\":[]}]}}",
      "invalid type: integer `1`, expected a boolean at line 1 column 82");
}

/* ------------------------------------------------------------------------ */
/* Envelope rules (core-sync.md 10.1)                                       */
/* ------------------------------------------------------------------------ */

static void envelope_rules(void **state) {
  struct decoded d;
  struct benc e;
  (void)state;
  expect_text_error("invalid sync line", "expected value at line 1 column 1");
  expect_text_error("{}", "expected value at line 1 column 2");
  expect_text_error("{\"a\":1,\"b\":2}", "expected value at line 1 column 6");
  expect_text_error("{\"token_expires_in\":1,\"token_expires_in\":1}",
                    "expected value at line 1 column 21");
  expect_text_error("{\"token_expires_in\":5} x",
                    "trailing characters at line 1 column 24");
  expect_text_error("", "EOF while parsing a value at line 1 column 0");
  expect_text_error("\"checkpoint\"",
                    "invalid type: unit variant, expected newtype variant");
  expect_text_error(
      "{\"checkpoint\":{\"last_op_id\":\"1\",\"last_op_id\":\"2\","
      "\"buckets\":[]}}",
      "duplicate field `last_op_id` at line 1 column 44");
  expect_text_error("{\"checkpoint\":{\"last_op_id\":\"1\"}}",
                    "missing field `buckets` at line 1 column 32");
  ok_text(&d, " \n\t{ \"token_expires_in\" : 1 } \r\n");
  done(&d);
  /* Unknown keys in payloads are ignored but must be well-formed. */
  ok_text(&d, "{\"checkpoint_complete\":{\"x\":[1,{\"y\":[]}],\"z\":null}}");
  done(&d);
  expect_text_error("{\"checkpoint_complete\":{\"x\":[1,]}}",
                    "expected value at line 1 column 32");
  /* serde's sequence form of a struct is accepted, as upstream does. */
  ok_text(&d, "{\"checkpoint\":[\"1\",null,[[\"a\",1,2,3,[]]]]}");
  assert_int_equal(d.line->as.checkpoint.buckets[0].priority, 2);
  assert_int_equal(d.line->as.checkpoint.buckets[0].count, 3);
  done(&d);

  /* BSON: only the first element counts; bytes after the document are
   * ignored; an empty document is an error. */
  be_init(&e);
  be_i32(&e, "token_expires_in", 5);
  be_key(&e, 0x63, "garbage"); /* Never read. */
  be_end(&e);
  be_bytes(&e, "\xff\xff", 2);
  decode_binary(&d, e.b, e.n);
  assert_int_equal(d.rc, PS_SYNC_LINE_OK);
  assert_int_equal(d.line->as.token_expires_in, 5);
  done(&d);
  be_free(&e);
  decode_binary(&d, "\x05\x00\x00\x00\x00", 5);
  assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
  assert_string_equal(
      d.err, "bson error, at 4: unexpected end of document for enum variant");
  done(&d);
}

/* ------------------------------------------------------------------------ */
/* Malformed input                                                          */
/* ------------------------------------------------------------------------ */

/* Every proper prefix of a valid line is an error, reported without reading
 * past the end (the prefix is copied to an exact-size allocation). */
static void truncated_lines_fail_cleanly(void **state) {
  struct benc e;
  size_t n;
  size_t len = strlen(data_json);
  (void)state;
  for (n = 0; n < len; n++) {
    struct decoded d;
    char *copy = malloc(n ? n : 1);
    memcpy(copy, data_json, n);
    decode_text_n(&d, copy, n);
    assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
    assert_true(strlen(d.err) > 0);
    done(&d);
    free(copy);
  }
  be_init(&e);
  be_doc(&e, "data");
  be_str(&e, "bucket", "bkt");
  be_arr(&e, "data");
  be_doc(&e, "0");
  be_str(&e, "op_id", "1");
  be_str(&e, "op", "PUT");
  be_i32(&e, "checksum", 1);
  be_str(&e, "data", "{}");
  be_bool(&e, "x", 1);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  be_end(&e);
  for (n = 0; n < e.n; n++) {
    struct decoded d;
    unsigned char *copy = malloc(n ? n : 1);
    memcpy(copy, e.b, n);
    decode_binary(&d, copy, n);
    assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
    assert_memory_equal(d.err, "bson error", 10);
    done(&d);
    free(copy);
  }
  be_free(&e);
}

static void garbage_never_crashes(void **state) {
  uint32_t seed = 12345;
  int round;
  (void)state;
  for (round = 0; round < 2000; round++) {
    unsigned char buf[64];
    size_t n = (size_t)(round % 64);
    size_t i;
    struct decoded d;
    for (i = 0; i < n; i++) {
      seed = seed * 1664525u + 1013904223u;
      buf[i] = (unsigned char)(seed >> 24);
    }
    if (n >= 4 && round % 2) {
      buf[0] = (unsigned char)n; /* A plausible BSON length. */
      buf[1] = buf[2] = buf[3] = 0;
    }
    decode_binary(&d, buf, n);
    assert_int_not_equal(d.rc, PS_SYNC_LINE_NOMEM);
    done(&d);
    decode_text_n(&d, (const char *)buf, n);
    assert_int_not_equal(d.rc, PS_SYNC_LINE_NOMEM);
    done(&d);
  }
}

static void nesting_limits(void **state) {
  enum { DEEP = 100000 };
  char *text = malloc(DEEP * 2 + 32);
  size_t n = 0;
  size_t i;
  struct decoded d;
  struct benc e;
  (void)state;
  /* Ignored JSON values nest without a limit, like serde_json's
   * ignore_value. */
  n += (size_t)sprintf(text, "{\"foo\":");
  for (i = 0; i < DEEP; i++)
    text[n++] = '[';
  for (i = 0; i < DEEP; i++)
    text[n++] = ']';
  text[n++] = '}';
  decode_text_n(&d, text, n);
  assert_int_equal(d.rc, PS_SYNC_LINE_OK);
  assert_int_equal(d.line->type, PS_SYNC_LINE_UNKNOWN);
  done(&d);
  text[n - 2] = '}'; /* A mismatched bracket deep inside. */
  decode_text_n(&d, text, n);
  assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
  done(&d);
  free(text);

  /* BSON documents nest at most PS_BSON_MAX_DEPTH (128) levels, the
   * top-level document included. */
  be_init(&e);
  for (i = 0; i < 127; i++)
    be_doc(&e, "x");
  for (i = 0; i < 128; i++)
    be_end(&e);
  decode_binary(&d, e.b, e.n);
  assert_int_equal(d.rc, PS_SYNC_LINE_OK);
  done(&d);
  be_free(&e);
  be_init(&e);
  for (i = 0; i < 128; i++)
    be_doc(&e, "x");
  for (i = 0; i < 129; i++)
    be_end(&e);
  decode_binary(&d, e.b, e.n);
  assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
  assert_non_null(strstr(d.err, "document nested too deeply"));
  done(&d);
  be_free(&e);
}

static void arena_limit_and_error_buffers(void **state) {
  struct ps__arena arena;
  struct ps__sync_line *line;
  char small[8];
  int rc;
  (void)state;
  /* An arena too small for the line reports out of memory. */
  ps__arena_init(&arena, 64);
  rc = ps__sync_line_decode_text(&arena, checkpoint_json,
                                 strlen(checkpoint_json), &line, small,
                                 sizeof(small));
  assert_int_equal(rc, PS_SYNC_LINE_NOMEM);
  assert_null(line);
  assert_string_equal(small, "out of "); /* Truncated to the buffer. */
  ps__arena_free(&arena);
  /* Messages are truncated, not overflowed; a NULL buffer is allowed. */
  ps__arena_init(&arena, 0);
  rc = ps__sync_line_decode_text(&arena, "{}", 2, &line, small, sizeof(small));
  assert_int_equal(rc, PS_SYNC_LINE_INVALID);
  assert_string_equal(small, "expecte");
  rc = ps__sync_line_decode_text(&arena, "{}", 2, &line, NULL, 0);
  assert_int_equal(rc, PS_SYNC_LINE_INVALID);
  rc = ps__sync_line_decode_binary(&arena, NULL, 0, &line, NULL, 0);
  assert_int_equal(rc, PS_SYNC_LINE_INVALID);
  ps__arena_free(&arena);
}

/* ------------------------------------------------------------------------ */
/* Big lines                                                                */
/* ------------------------------------------------------------------------ */

static void big_data_line(void **state) {
  enum { ENTRIES = 10000 };
  size_t cap = (size_t)ENTRIES * 200 + 100;
  char *text = malloc(cap);
  size_t n = 0;
  int i;
  struct benc e;
  struct decoded a;
  struct decoded b;
  (void)state;
  n += (size_t)snprintf(text + n, cap - n,
                        "{\"data\":{\"bucket\":\"b\",\"data\":[");
  be_init(&e);
  be_doc(&e, "data");
  be_str(&e, "bucket", "b");
  be_arr(&e, "data");
  for (i = 0; i < ENTRIES; i++) {
    char key[16];
    char id[32];
    char row[96];
    snprintf(key, sizeof(key), "%d", i);
    snprintf(id, sizeof(id), "%d", i + 1);
    snprintf(row, sizeof(row), "{\"id\":\"row-%d\",\"n\":%d}", i, i);
    n += (size_t)snprintf(
        text + n, cap - n,
        "%s{\"op_id\":\"%d\",\"op\":\"PUT\",\"object_type\":\"t\","
        "\"object_id\":\"row-%d\",\"checksum\":%d,\"subkey\":null,"
        "\"data\":\"{\\\"id\\\":\\\"row-%d\\\",\\\"n\\\":%d}\"}",
        i ? "," : "", i + 1, i, i, i, i);
    be_doc(&e, key);
    be_str(&e, "op_id", id);
    be_str(&e, "op", "PUT");
    be_str(&e, "object_type", "t");
    snprintf(id, sizeof(id), "row-%d", i);
    be_str(&e, "object_id", id);
    be_i32(&e, "checksum", i);
    be_null(&e, "subkey");
    be_str(&e, "data", row);
    be_end(&e);
  }
  n += (size_t)snprintf(text + n, cap - n, "]}}");
  be_end(&e);
  be_end(&e);
  be_end(&e);

  decode_text_n(&a, text, n);
  assert_int_equal(a.rc, PS_SYNC_LINE_OK);
  assert_int_equal(a.line->as.data.entry_count, ENTRIES);
  assert_str(a.line->as.data.entries[ENTRIES - 1].data,
             "{\"id\":\"row-9999\",\"n\":9999}");
  decode_binary(&b, e.b, e.n);
  assert_int_equal(b.rc, PS_SYNC_LINE_OK);
  assert_lines_equal(a.line, b.line);
  done(&a);
  done(&b);
  be_free(&e);
  free(text);
}

/* ------------------------------------------------------------------------ */
/* Recorded real-service transcripts                                        */
/* ------------------------------------------------------------------------ */

/* Splits text into lines; returns the count (at most max). */
static size_t split_lines(char *text, size_t len, char **lines, size_t *lens,
                          size_t max) {
  size_t count = 0;
  size_t start = 0;
  size_t i;
  for (i = 0; i <= len && count < max; i++) {
    if (i == len || text[i] == '\n') {
      if (i > start) {
        lines[count] = text + start;
        lens[count] = i - start;
        count++;
      }
      start = i + 1;
    }
  }
  return count;
}

static void real_service_json_lines_decode(void **state) {
  static const char *const files[] = {
      "initial-sync-user-a.ndjson",
      "initial-sync-user-b.ndjson",
      "live-changes-user-a.ndjson",
      "resume-user-a.ndjson",
      "final-sync-user-a.ndjson",
      "token-expiry-user-a.ndjson",
      "initial-sync-user-a.raw_data-false.ndjson"};
  size_t f;
  size_t total = 0;
  (void)state;
  for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
    size_t len;
    char *text = (char *)read_fixture(files[f], &len);
    char *lines[64];
    size_t lens[64];
    size_t n = split_lines(text, len, lines, lens, 64);
    size_t i;
    int raw_data_false = strstr(files[f], "raw_data-false") != NULL;
    assert_true(n > 0);
    for (i = 0; i < n; i++) {
      struct decoded d;
      decode_text_n(&d, lines[i], lens[i]);
      if (raw_data_false && !memcmp(lines[i], "{\"data\"", 7)) {
        /* Row data as objects: rejected, as the official core does. */
        assert_int_equal(d.rc, PS_SYNC_LINE_INVALID);
        assert_non_null(strstr(d.err, "invalid type: map, expected a string"));
      } else if (d.rc != PS_SYNC_LINE_OK) {
        fail_msg("%s line %zu: %s", files[f], i + 1, d.err);
      }
      done(&d);
      total++;
    }
    free(text);
  }
  assert_int_equal(total, 54);
}

static void real_service_bson_matches_json(void **state) {
  static const char *const pairs[][3] = {
      {"initial-sync-user-a.bson", "initial-sync-user-a.ndjson",
       "initial-sync-user-a.bson.decoded.ejson.ndjson"},
      {"final-sync-user-a.bson", "final-sync-user-a.ndjson",
       "final-sync-user-a.bson.decoded.ejson.ndjson"}};
  size_t p;
  (void)state;
  for (p = 0; p < 2; p++) {
    size_t blen;
    size_t jlen;
    size_t elen;
    unsigned char *bson = read_fixture(pairs[p][0], &blen);
    char *json = (char *)read_fixture(pairs[p][1], &jlen);
    char *ejson = (char *)read_fixture(pairs[p][2], &elen);
    char *lines[64];
    size_t lens[64];
    char *elines[64];
    size_t elens[64];
    size_t n = split_lines(json, jlen, lines, lens, 64);
    size_t off = 0;
    size_t i = 0;
    while (off < blen) {
      size_t doclen = (size_t)bson[off] | (size_t)bson[off + 1] << 8 |
                      (size_t)bson[off + 2] << 16 | (size_t)bson[off + 3] << 24;
      struct decoded a;
      struct decoded b;
      assert_true(i < n);
      decode_binary(&b, bson + off, doclen);
      if (b.rc != PS_SYNC_LINE_OK)
        fail_msg("%s document %zu: %s", pairs[p][0], i + 1, b.err);
      decode_text_n(&a, lines[i], lens[i]);
      assert_int_equal(a.rc, PS_SYNC_LINE_OK);
      assert_lines_equal(a.line, b.line);
      done(&a);
      done(&b);
      off += doclen;
      i++;
    }
    assert_int_equal(i, n);
    /* The extended-JSON view has one line per document too. */
    assert_int_equal(split_lines(ejson, elen, elines, elens, 64), n);
    free(bson);
    free(json);
    free(ejson);
  }
}

/* ------------------------------------------------------------------------ */
/* Messages recorded from the official core                                 */
/* ------------------------------------------------------------------------ */

/* Inputs and the cause the official core 0.5.3 reported for them (NULL: it
 * decoded the line). 'T' inputs are line_text, 'B' inputs hex-encoded
 * line_binary documents. Generated by running each input through
 * powersync_control in the official extension. */
static const struct {
  char mode;
  const char *input;
  const char *cause;
} official_cases[] = {
    {'T', "{\"checkpoint\":{\"last_op_id\":1,\"buckets\":[]}}",
     "invalid type: integer `1`, expected a string at line 1 column 29"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"x\",\"buckets\":[]}}",
     "invalid digit found in string at line 1 column 31"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"\",\"buckets\":[]}}",
     "cannot parse integer from empty string at line 1 column 30"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"-\",\"buckets\":[]}}",
     "invalid digit found in string at line 1 column 31"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"+5\",\"buckets\":[]}}", NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"99999999999999999999\",\"buckets\":[]}"
     "}",
     "number too large to fit in target type at line 1 column 50"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"-99999999999999999999\",\"buckets\":[]}"
     "}",
     "number too small to fit in target type at line 1 column 51"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\" ,\"buckets\":[]} }", NULL},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\"}}",
     "missing field `buckets` at line 1 column 32"},
    {'T', "{\"checkpoint\":{\"buckets\":[]}}",
     "missing field `last_op_id` at line 1 column 28"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"last_op_id\":\"2\",\"buckets\":[]"
     "}}",
     "duplicate field `last_op_id` at line 1 column 44"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"write_"
     "checkpoint\":5}}",
     "invalid type: integer `5`, expected a string at line 1 column 65"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"write_"
     "checkpoint\":null}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"write_"
     "checkpoint\":\"a\"}}",
     "invalid digit found in string at line 1 column 67"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":null}}",
     "invalid type: null, expected a sequence at line 1 column 46"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":{}}}",
     "invalid type: map, expected a sequence at line 1 column 42"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":null}}",
     "invalid type: null, expected a sequence at line 1 column 59"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\"}]}}",
     "missing field `checksum` at line 1 column 57"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":4294967296}]}}",
     "invalid value: integer `4294967296`, expected a 32-bit int at line 1 "
     "column 78"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-2147483649}]}}",
     "invalid value: integer `-2147483649`, expected a 32-bit int at line 1 "
     "column 79"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1.5}]}}",
     "invalid value: floating point `1.5`, expected a whole number at line 1 "
     "column 71"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1e20}]}}",
     "invalid value: integer `9223372036854775807`, expected a 32-bit int at "
     "line 1 column 72"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":\"1\"}]}}",
     "invalid type: string \"1\", expected a number to interpret as a checksum "
     "at line 1 column 71"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":null}]}}",
     "invalid type: null, expected a number to interpret as a checksum at line "
     "1 column 72"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"priority\":-1}]}}",
     "invalid argument: Invalid bucket priority value. cause: unknown at line "
     "1 column 83"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"priority\":2147483647}]}}",
     "invalid argument: Invalid bucket priority value. cause: unknown at line "
     "1 column 91"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"priority\":2147483648}]}}",
     "int too large at line 1 column 91"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"priority\":1.0}]}}",
     "invalid type: floating point `1.0`, expected a priority as an integer "
     "between 0 and 3 (inclusive) at line 1 column 84"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"priority\":\"1\"}]}}",
     "invalid type: string \"1\", expected a priority as an integer between 0 "
     "and 3 (inclusive) at line 1 column 84"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"count\":1.0}]}}",
     "invalid type: floating point `1.0`, expected i64 at line 1 column 81"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"count\":18446744073709551615}]}}",
     "invalid value: integer `18446744073709551615`, expected i64 at line 1 "
     "column 98"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":null}]}}",
     "invalid type: null, expected a sequence at line 1 column 90"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"foo\":1}]}]}}",
     "unknown variant `foo`, expected `default` or `sub` at line 1 column 94"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":-1}]}]}}",
     "invalid value: integer `-1`, expected usize at line 1 column 100"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1.0}]}]}}",
     "invalid type: floating point `1.0`, expected usize at line 1 column 101"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1,\"sub\":2}]}]}}",
     "expected value at line 1 column 99"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{}]}]}}",
     "expected value at line 1 column 89"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[\"default\"]}]}}",
     "invalid type: unit variant, expected newtype variant at line 1 column "
     "97"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":\"1\"}]}]}}",
     "invalid type: string \"1\", expected usize at line 1 column 101"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"sub\":4294967296}]}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true}]}}",
     "missing field `errors` at line 1 column 86"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":1,\"errors\":[]}]}}",
     "invalid type: integer `1`, expected a boolean at line 1 column 82"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":-1,"
     "\"message\":\"m\"}]}]}}",
     "invalid type: integer `-1`, expected default or index at line 1 column "
     "114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":null,"
     "\"message\":\"m\"}]}]}}",
     "invalid type: null, expected default or index at line 1 column 116"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":1.5,"
     "\"message\":\"m\"}]}]}}",
     "invalid type: floating point `1.5`, expected default or index at line 1 "
     "column 115"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":\"xyz\","
     "\"message\":\"m\"}]}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"message\":\"m\"}]}]}}",
     "missing field `subscription` at line 1 column 111"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":0}]}]}}",
     "missing field `message` at line 1 column 114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":{},"
     "\"message\":\"m\"}]}]}}",
     "invalid type: map, expected default or index at line 1 column 114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":true,"
     "\"message\":\"m\"}]}]}}",
     "invalid type: boolean `true`, expected default or index at line 1 column "
     "116"},
    {'T', "{\"checkpoint\":[\"1\",null,[]]}", NULL},
    {'T', "{\"checkpoint_complete\":[]}", NULL},
    {'T', "{\"checkpoint_complete\":null}",
     "invalid type: null, expected struct CheckpointComplete at line 1 column "
     "27"},
    {'T', "{\"partial_checkpoint_complete\":{}}",
     "missing field `priority` at line 1 column 33"},
    {'T', "{\"partial_checkpoint_complete\":{\"priority\":null}}",
     "invalid type: null, expected a priority as an integer between 0 and 3 "
     "(inclusive) at line 1 column 47"},
    {'T', "{\"token_expires_in\":5.0}",
     "invalid type: floating point `5.0`, expected i32 at line 1 column 23"},
    {'T', "{\"token_expires_in\":3000000000}",
     "invalid value: integer `3000000000`, expected i32 at line 1 column 30"},
    {'T', "{\"token_expires_in\":-3000000000}",
     "invalid value: integer `-3000000000`, expected i32 at line 1 column 31"},
    {'T', "{\"token_expires_in\":\"5\"}",
     "invalid type: string \"5\", expected i32 at line 1 column 23"},
    {'T', "{\"token_expires_in\":null}",
     "invalid type: null, expected i32 at line 1 column 24"},
    {'T', "{\"token_expires_in\":-5}", NULL},
    {'T', "{\"check\\u0070oint\":{}}",
     "invalid type: string \"checkpoint\", expected a borrowed string at line "
     "1 column 18"},
    {'T', "\"checkpoint\"",
     "invalid type: unit variant, expected newtype variant"},
    {'T', "[]", "expected value at line 1 column 1"},
    {'T', "", "EOF while parsing a value at line 1 column 0"},
    {'T', "   ", "EOF while parsing a value at line 1 column 3"},
    {'T', "{\"foo\":[[[[[[1,]]]]]]}", "expected value at line 1 column 16"},
    {'T', "{\"foo\":{\"a\":1,}}", "key must be a string at line 1 column 15"},
    {'T', "{\"foo\":[1,]}", "expected value at line 1 column 11"},
    {'T', "{\"foo\":1e999}", NULL},
    {'T', "{\"foo\":\"\\uD800\"}", NULL},
    {'T', "{\"foo\":\"\\x\"}", "invalid escape at line 1 column 10"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"FOO\","
     "\"checksum\":1}]}}",
     "unknown variant `FOO`, expected one of `CLEAR`, `MOVE`, `PUT`, `REMOVE` "
     "at line 1 column 53"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":5,"
     "\"checksum\":1}]}}",
     "expected value at line 1 column 49"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\":"
     "null},\"checksum\":1}]}}",
     NULL},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"put\","
     "\"checksum\":1}]}}",
     "unknown variant `put`, expected one of `CLEAR`, `MOVE`, `PUT`, `REMOVE` "
     "at line 1 column 53"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
     "\"checksum\":1,\"data\":{}}]}}",
     "invalid type: map, expected a string at line 1 column 74"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
     "\"checksum\":1,\"data\":5}]}}",
     "invalid type: integer `5`, expected a string at line 1 column 75"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
     "\"checksum\":1,\"object_type\":5}]}}",
     "invalid type: integer `5`, expected a string at line 1 column 82"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\"}]}"
     "}",
     "missing field `checksum` at line 1 column 54"},
    {'T', "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op\":\"PUT\"}]}}",
     "missing field `checksum` at line 1 column 42"},
    {'T', "{\"data\":{\"bucket\":\"a\"}}",
     "missing field `data` at line 1 column 22"},
    {'T', "{\"data\":{\"data\":[]}}",
     "missing field `bucket` at line 1 column 19"},
    {'T', "{\"data\":{\"bucket\":\"a\",\"data\":[],\"bucket\":\"b\"}}",
     "duplicate field `bucket` at line 1 column 40"},
    {'T', "{\"checkpoint_diff\":{\"last_op_id\":\"1\",\"updated_buckets\":[]}}",
     "missing field `removed_buckets` at line 1 column 58"},
    {'T', "{\"checkpoint_diff\":{\"last_op_id\":\"1\",\"removed_buckets\":[]}}",
     "missing field `updated_buckets` at line 1 column 58"},
    {'T',
     "{\"checkpoint_diff\":{\"last_op_id\":\"1\",\"removed_buckets\":[1],"
     "\"updated_buckets\":[]}}",
     "invalid type: integer `1`, expected a string at line 1 column 57"},
    {'T', "{\"checkpoint\":[]}",
     "invalid length 0, expected struct Checkpoint with 4 elements at line 1 "
     "column 16"},
    {'T', "{\"checkpoint\":[\"1\"]}",
     "invalid length 2, expected struct Checkpoint with 4 elements at line 1 "
     "column 19"},
    {'T', "{\"checkpoint\":[\"1\",null]}",
     "invalid length 2, expected struct Checkpoint with 4 elements at line 1 "
     "column 24"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[],[],5]}",
     "trailing characters at line 1 column 31"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[] , ]}",
     "trailing comma at line 1 column 33"},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\"]]]}",
     "invalid length 1, expected struct BucketChecksum with 5 elements at line "
     "1 column 30"},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1,2]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1,2,3]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1,2,3,[]]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1,2,3,[],9]]]}",
     "trailing characters at line 1 column 40"},
    {'T', "{\"checkpoint\":[\"1\",null,[[\"a\",1,null,null,[]]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[]]]}",
     "invalid length 0, expected struct StreamDescription with 3 elements at "
     "line 1 column 30"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\"]]]}",
     "invalid length 1, expected struct StreamDescription with 3 elements at "
     "line 1 column 33"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\",true]]]}",
     "invalid length 2, expected struct StreamDescription with 3 elements at "
     "line 1 column 38"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\",true,[[]]]]]}",
     "invalid length 0, expected struct StreamSubscriptionError with 2 "
     "elements at line 1 column 41"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\",true,[[0]]]]]}",
     "invalid length 1, expected struct StreamSubscriptionError with 2 "
     "elements at line 1 column 42"},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\",true,[[0,\"m\"]]]]]}", NULL},
    {'T', "{\"checkpoint\":[\"1\",null,[],[[\"s\",true,[[0,\"m\",1]]]]]}",
     "trailing characters at line 1 column 47"},
    {'T', "{\"checkpoint_diff\":[]}",
     "invalid length 0, expected struct CheckpointDiff with 4 elements at line "
     "1 column 21"},
    {'T', "{\"checkpoint_diff\":[\"1\"]}",
     "invalid length 1, expected struct CheckpointDiff with 4 elements at line "
     "1 column 24"},
    {'T', "{\"checkpoint_diff\":[\"1\",[]]}",
     "invalid length 2, expected struct CheckpointDiff with 4 elements at line "
     "1 column 27"},
    {'T', "{\"checkpoint_diff\":[\"1\",[],[]]}", NULL},
    {'T', "{\"checkpoint_diff\":[\"1\",[],[],null,1]}",
     "trailing characters at line 1 column 36"},
    {'T', "{\"checkpoint_complete\":[1]}",
     "trailing characters at line 1 column 25"},
    {'T', "{\"partial_checkpoint_complete\":[]}",
     "invalid length 0, expected struct CheckpointPartiallyComplete with 1 "
     "element at line 1 column 33"},
    {'T', "{\"partial_checkpoint_complete\":[1,2]}",
     "trailing characters at line 1 column 35"},
    {'T', "{\"data\":[]}",
     "invalid length 0, expected struct DataLine with 2 elements at line 1 "
     "column 10"},
    {'T', "{\"data\":[\"b\"]}",
     "invalid length 1, expected struct DataLine with 2 elements at line 1 "
     "column 13"},
    {'T', "{\"data\":[\"b\",[]]}", NULL},
    {'T', "{\"data\":[\"b\",[],1]}", "trailing characters at line 1 column 17"},
    {'T', "{\"data\":[\"b\",[[]]]}",
     "invalid length 0, expected struct OplogEntry with 7 elements at line 1 "
     "column 16"},
    {'T', "{\"data\":[\"b\",[[1]]]}",
     "invalid length 1, expected struct OplogEntry with 7 elements at line 1 "
     "column 17"},
    {'T', "{\"data\":[\"b\",[[1,\"1\"]]]}",
     "invalid length 2, expected struct OplogEntry with 7 elements at line 1 "
     "column 21"},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\"]]]}", NULL},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\"]]]}", NULL},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",\"t\"]]]}", NULL},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",\"t\",\"s\"]]]}", NULL},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",\"t\",\"s\",\"{}\"]]]}",
     NULL},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",\"t\",\"s\",\"{}\",1]]]}",
     "trailing characters at line 1 column 45"},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",5,\"s\",\"{}\"]]]}",
     "invalid type: integer `5`, expected a string at line 1 column 32"},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",\"o\",\"t\",5,\"{}\"]]]}",
     "invalid type: integer `5`, expected a string at line 1 column 36"},
    {'T', "{\"data\":[\"b\",[[1,\"1\",\"PUT\",5,\"t\",\"s\",\"{}\"]]]}",
     "invalid type: integer `5`, expected a string at line 1 column 28"},
    {'T', "{\"token_expires_in\":[5]}",
     "invalid type: sequence, expected i32 at line 1 column 20"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1},{\"sub\":0}]}]},\"x\":"
     "1}",
     "expected value at line 1 column 114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":[],"
     "\"message\":\"m\"}]}]}}",
     "invalid type: sequence, expected default or index at line 1 column 114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":"
     "18446744073709551615,\"message\":\"m\"}]}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":-0,"
     "\"message\":\"m\"}]}]}}",
     "invalid type: floating point `-0.0`, expected default or index at line 1 "
     "column 114"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":"
     "\"default\",\"message\":\"m\",\"message\":\"n\"}]}]}}",
     "duplicate field `message` at line 1 column 145"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1} ]}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1}",
     "EOF while parsing a list at line 1 column 100"},
    {'B', "1b00000010746f6b656e5f657870697265735f696e003c00000000", NULL},
    {'B', "1b00000010746f6b656e5f657870697265735f696e003c00000000ffffff", NULL},
    {'B', "1f00000012746f6b656e5f657870697265735f696e003c0000000000000000",
     NULL},
    {'B', "1f00000012746f6b656e5f657870697265735f696e00005ed0b20000000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`3000000000`, expected i32"},
    {'B', "1f00000001746f6b656e5f657870697265735f696e00000000000000144000",
     "bson error at unknown offset: custom invalid type: floating point `5.0`, "
     "expected i32"},
    {'B', "1d00000002746f6b656e5f657870697265735f696e0002000000350000",
     "bson error at unknown offset: custom invalid type: string \"5\", "
     "expected i32"},
    {'B', "170000000a746f6b656e5f657870697265735f696e0000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "i32"},
    {'B', "2000000010746f6b656e5f657870697265735f696e000500000063666f6f0000",
     NULL},
    {'B', "0500000000",
     "bson error, at 4: unexpected end of document for enum variant"},
    {'B', "050000", "bson error, at 0: unexpected end of file"},
    {'B', "", "bson error, at 0: unexpected end of file"},
    {'B', "ffffffff00", "bson error, at 4: invalid document size"},
    {'B', "0400000000", "bson error, at 4: invalid document size"},
    {'B', "0500000001", "bson error, at 4: unexpected end of document"},
    {'B', "0800000063610000", "bson error, at 4: unknown element code: 99"},
    {'B', "08000000ff610000", "bson error, at 4: unknown element code: -1"},
    {'B', "080000001061616161", "bson error, at 4: unterminated cstring"},
    {'B', "0c00000010ff61000500000000",
     "bson error, at 4: cstring with non-utf8 content: invalid utf-8 sequence "
     "of 1 bytes from index 0"},
    {'B', "1500000010636865636b706f696e74000500000000",
     "bson error at unknown offset: custom invalid type: integer `5`, expected "
     "struct Checkpoint"},
    {'B',
     "2800000003636865636b706f696e740017000000026c6173745f6f705f696400020000003"
     "1000000",
     "bson error at unknown offset: custom missing field `buckets`"},
    {'B',
     "3a00000003636865636b706f696e740029000000026c6173745f6f705f696400020000003"
     "100026c6173745f6f705f6964000200000031000000",
     "bson error at unknown offset: custom duplicate field `last_op_id`"},
    {'B',
     "3400000003636865636b706f696e740023000000106c6173745f6f705f696400010000000"
     "46275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: integer `1`, expected "
     "a string"},
    {'B',
     "3600000003636865636b706f696e740025000000056c6173745f6f705f696400010000000"
     "031046275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a string"},
    {'B',
     "3600000003636865636b706f696e740025000000056c6173745f6f705f696400010000000"
     "0ff046275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a string"},
    {'B',
     "3600000003636865636b706f696e740025000000026c6173745f6f705f696400020000007"
     "800046275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid digit found in string"},
    {'B',
     "4800000003636865636b706f696e740037000000026c6173745f6f705f696400020000003"
     "1000677726974655f636865636b706f696e7400046275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a string"},
    {'B',
     "3600000003636865636b706f696e740025000000026c6173745f6f705f696400020000003"
     "100036275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: map, expected a "
     "sequence"},
    {'B',
     "3100000003636865636b706f696e740020000000026c6173745f6f705f696400020000003"
     "1000a6275636b657473000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a sequence"},
    {'B',
     "2a00000004636865636b706f696e7400190000000230000200000031000a3100043200050"
     "00000000000",
     NULL},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610001"
     "636865636b73756d00000000000000f83f00000000",
     "bson error at unknown offset: custom invalid value: floating point "
     "`1.5`, expected a whole number"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610001"
     "636865636b73756d00408cb5781daf154400000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`9223372036854775807`, expected a 32-bit int"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610001"
     "636865636b73756d00000000000000f87f00000000",
     "bson error at unknown offset: custom invalid value: floating point "
     "`NaN`, expected a whole number"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610001"
     "636865636b73756d00000000000000f0ff00000000",
     "bson error at unknown offset: custom invalid value: floating point "
     "`-inf`, expected a whole number"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610012"
     "636865636b73756d00000000000100000000000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`4294967296`, expected a 32-bit int"},
    {'B',
     "6000000003636865636b706f696e74004f000000026c6173745f6f705f696400020000003"
     "100046275636b657473002f00000003300027000000026275636b65740002000000610002"
     "636865636b73756d0006000000310a22c3a90000000000",
     "bson error at unknown offset: custom invalid type: string \"1\\n\\\"é\", "
     "expected a number to interpret as a checksum"},
    {'B',
     "5600000003636865636b706f696e740045000000026c6173745f6f705f696400020000003"
     "100046275636b65747300250000000330001d000000026275636b6574000200000061000a"
     "636865636b73756d0000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a number to interpret as a checksum"},
    {'B',
     "5700000003636865636b706f696e740046000000026c6173745f6f705f696400020000003"
     "100046275636b65747300260000000330001e000000026275636b65740002000000610008"
     "636865636b73756d000100000000",
     "bson error at unknown offset: custom invalid type: boolean `true`, "
     "expected a number to interpret as a checksum"},
    {'B',
     "5c00000003636865636b706f696e74004b000000026c6173745f6f705f696400020000003"
     "100046275636b657473002b00000003300023000000026275636b65740002000000610005"
     "636865636b73756d0001000000000100000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a number to interpret as a checksum"},
    {'B',
     "5b00000003636865636b706f696e74004a000000026c6173745f6f705f696400020000003"
     "100046275636b657473002a00000003300022000000026275636b65740002000000610003"
     "636865636b73756d00050000000000000000",
     "bson error at unknown offset: custom invalid type: map, expected a "
     "number to interpret as a checksum"},
    {'B',
     "5b00000003636865636b706f696e74004a000000026c6173745f6f705f696400020000003"
     "100046275636b657473002a00000003300022000000026275636b65740002000000610004"
     "636865636b73756d00050000000000000000",
     "bson error at unknown offset: custom invalid type: sequence, expected a "
     "number to interpret as a checksum"},
    {'B',
     "6c00000003636865636b706f696e74005b000000026c6173745f6f705f696400020000003"
     "100046275636b657473003b00000003300033000000026275636b65740002000000610010"
     "636865636b73756d0001000000017072696f7269747900000000000000f03f00000000",
     "bson error at unknown offset: custom invalid type: floating point `1.0`, "
     "expected a priority as an integer between 0 and 3 (inclusive)"},
    {'B',
     "6400000003636865636b706f696e740053000000026c6173745f6f705f696400020000003"
     "100046275636b65747300330000000330002b000000026275636b65740002000000610010"
     "636865636b73756d00010000000a7072696f726974790000000000",
     NULL},
    {'B',
     "6400000003636865636b706f696e740053000000026c6173745f6f705f696400020000003"
     "100046275636b65747300330000000330002b000000026275636b65740002000000610010"
     "636865636b73756d0001000000067072696f726974790000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a priority as an integer between 0 and 3 (inclusive)"},
    {'B',
     "6800000003636865636b706f696e740057000000026c6173745f6f705f696400020000003"
     "100046275636b65747300370000000330002f000000026275636b65740002000000610010"
     "636865636b73756d0001000000107072696f7269747900ffffffff00000000",
     "bson error at unknown offset: custom invalid argument: Invalid bucket "
     "priority value. cause: unknown"},
    {'B',
     "6c00000003636865636b706f696e74005b000000026c6173745f6f705f696400020000003"
     "100046275636b657473003b00000003300033000000026275636b65740002000000610010"
     "636865636b73756d0001000000127072696f7269747900000000800000000000000000",
     "bson error at unknown offset: custom int too large"},
    {'B',
     "6900000003636865636b706f696e740058000000026c6173745f6f705f696400020000003"
     "100046275636b657473003800000003300030000000026275636b65740002000000610010"
     "636865636b73756d000100000001636f756e7400000000000000f03f00000000",
     "bson error at unknown offset: custom invalid type: floating point `1.0`, "
     "expected i64"},
    {'B',
     "6100000003636865636b706f696e740050000000026c6173745f6f705f696400020000003"
     "100046275636b657473003000000003300028000000026275636b65740002000000610010"
     "636865636b73756d000100000006636f756e740000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "i64"},
    {'B',
     "8300000003636865636b706f696e740072000000026c6173745f6f705f696400020000003"
     "100046275636b65747300520000000330004a000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73001a000000033000120"
     "000001064656661756c740000000000000000000000",
     NULL},
    {'B',
     "8300000003636865636b706f696e740072000000026c6173745f6f705f696400020000003"
     "100046275636b65747300520000000330004a000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73001a000000033000120"
     "000001064656661756c7400ffffffff000000000000",
     "bson error at unknown offset: custom invalid value: integer `-1`, "
     "expected usize"},
    {'B',
     "7600000003636865636b706f696e740065000000026c6173745f6f705f696400020000003"
     "100046275636b65747300450000000330003d000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73000d000000033000050"
     "00000000000000000",
     "bson error, at 104: unexpected end of document for enum variant"},
    {'B',
     "7d00000003636865636b706f696e74006c000000026c6173745f6f705f696400020000003"
     "100046275636b657473004c00000003300044000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e730014000000023000080"
     "0000064656661756c74000000000000",
     "bson error at unknown offset: custom invalid type: string \"default\", "
     "expected a borrowed string"},
    {'B',
     "7500000003636865636b706f696e740064000000026c6173745f6f705f696400020000003"
     "100046275636b65747300440000000330003c000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73000c000000103000010"
     "000000000000000",
     "bson error, at 100: expected enum, got 16"},
    {'B',
     "8800000003636865636b706f696e740077000000026c6173745f6f705f696400020000003"
     "100046275636b65747300570000000330004f000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73001f000000033000170"
     "000001064656661756c740000000000637a7a7a00000000000000",
     NULL},
    {'B',
     "7f00000003636865636b706f696e74006e000000026c6173745f6f705f696400020000003"
     "100046275636b657473004e00000003300046000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e7300160000000330000e0"
     "0000010666f6f0000000000000000000000",
     "bson error at unknown offset: custom unknown variant `foo`, expected "
     "`default` or `sub`"},
    {'B',
     "9b00000003636865636b706f696e74008a000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d73005c0000000330005400000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f7273002e0000000"
     "330002600000010737562736372697074696f6e0000000000026d65737361676500020000"
     "006d00000000000000",
     NULL},
    {'B',
     "9f00000003636865636b706f696e74008e000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300600000000330005800000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f727300320000000"
     "330002a00000012737562736372697074696f6e000000000000000000026d657373616765"
     "00020000006d00000000000000",
     "bson error at unknown offset: custom invalid type: integer `0`, expected "
     "default or index"},
    {'B',
     "9b00000003636865636b706f696e74008a000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d73005c0000000330005400000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f7273002e0000000"
     "330002600000010737562736372697074696f6e00ffffffff026d65737361676500020000"
     "006d00000000000000",
     NULL},
    {'B',
     "7200000003636865636b706f696e740061000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300330000000330002b00000002"
     "6e616d65000200000073000869735f64656661756c740002046572726f727300050000000"
     "000000000",
     NULL},
    {'B',
     "7500000003636865636b706f696e740064000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300360000000330002e00000002"
     "6e616d65000200000073001069735f64656661756c740001000000046572726f727300050"
     "000000000000000",
     "bson error at unknown offset: custom invalid type: integer `1`, expected "
     "a boolean"},
    {'B',
     "580000000364617461004d000000026275636b65740002000000610004646174610034000"
     "0000330002c000000026f705f696400020000003100026f700004000000464f4f00106368"
     "65636b73756d000100000000000000",
     "bson error at unknown offset: custom unknown variant `FOO`, expected one "
     "of `CLEAR`, `MOVE`, `PUT`, `REMOVE`"},
    {'B',
     "5400000003646174610049000000026275636b65740002000000610004646174610030000"
     "00003300028000000026f705f696400020000003100106f70000100000010636865636b73"
     "756d000100000000000000",
     "bson error, at 56: expected enum, got 16"},
    {'B',
     "5a0000000364617461004f000000026275636b65740002000000610004646174610036000"
     "0000330002e000000026f705f696400020000003100036f70000a0000000a505554000010"
     "636865636b73756d000100000000000000",
     "bson error, at 64: expected a string value"},
    {'B',
     "550000000364617461004a000000026275636b65740002000000610004646174610031000"
     "00003300029000000026f705f696400020000003100036f7000050000000010636865636b"
     "73756d000100000000000000",
     "bson error, at 60: unexpected end of document for enum variant"},
    {'B',
     "6300000003646174610058000000026275636b6574000200000061000464617461003f000"
     "00003300037000000026f705f696400020000003100026f70000400000050555400106368"
     "65636b73756d0001000000036461746100050000000000000000",
     "bson error at unknown offset: custom invalid type: map, expected a "
     "string"},
    {'B',
     "650000000364617461005a000000026275636b65740002000000610004646174610041000"
     "00003300039000000026f705f696400020000003100026f70000400000050555400106368"
     "65636b73756d000100000005646174610002000000007b7d00000000",
     NULL},
    {'B',
     "5e00000003646174610053000000026275636b6574000200000061000464617461003a000"
     "00003300032000000026f705f696400020000003100026f70000400000050555400106368"
     "65636b73756d000100000006646174610000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a string"},
    {'B',
     "2b00000003646174610020000000026275636b6574000400000061ff62000464617461000"
     "5000000000000",
     "bson error, at 28: cstring with non-utf8 content: invalid utf-8 sequence "
     "of 1 bytes from index 1"},
    {'B',
     "2b00000003646174610020000000026275636b6574000400000061e282000464617461000"
     "5000000000000",
     "bson error, at 28: cstring with non-utf8 content: incomplete utf-8 byte "
     "sequence from index 1"},
    {'B', "1200000003666f6f00080000006361000000",
     "bson error, at 12: unknown element code: 99"},
    {'B', "1200000008666f6f00011078000100000000", NULL},
    {'B',
     "2e000000047061727469616c5f636865636b706f696e745f636f6d706c657465000c00000"
     "0103000010000000000",
     NULL},
    {'B', "1e00000010636865636b706f696e745f636f6d706c657465000100000000",
     "bson error at unknown offset: custom invalid type: integer `1`, expected "
     "struct CheckpointComplete"},
    {'B', "2000000002636865636b706f696e745f636f6d706c6574650002000000780000",
     "bson error at unknown offset: custom invalid type: string \"x\", "
     "expected struct CheckpointComplete"},
    {'B',
     "6200000003636865636b706f696e740051000000026c6173745f6f705f696400020000003"
     "100046275636b657473003100000003300029000000026275636b65740002000000610007"
     "636865636b73756d0001010101010101010101010100000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a number to interpret as a checksum"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610009"
     "636865636b73756d00000000000000000000000000",
     NULL},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610011"
     "636865636b73756d00000000000000000000000000",
     NULL},
    {'B',
     "5600000003636865636b706f696e740045000000026c6173745f6f705f696400020000003"
     "100046275636b65747300250000000330001d000000026275636b65740002000000610006"
     "636865636b73756d0000000000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "a number to interpret as a checksum"},
    {'B',
     "6000000003636865636b706f696e74004f000000026c6173745f6f705f696400020000003"
     "100046275636b657473002f00000003300027000000076275636b65740001010101010101"
     "010101010110636865636b73756d000100000000000000",
     NULL},
    {'B', "1200000009666f6f00000000000000000000", NULL},
    {'B', "1200000011666f6f00000000000000000000", NULL},
    {'B', "1000000005666f6f000100000000ff00", NULL},
    {'B', "1200000001666f6f00000000000000f03f00", NULL},
    {'B',
     "2f00000003666f6f00250000000361001d000000046200150000001030000100000002310"
     "002000000780000000000",
     NULL},
    {'B',
     "2f00000003666f6f00250000000361001d000000046200150000001030000100000002310"
     "002000000ff0000000000",
     "bson error, at 38: cstring with non-utf8 content: invalid utf-8 sequence "
     "of 1 bytes from index 0"},
    {'B',
     "4600000003636865636b706f696e745f636f6d706c657465002c000000026c6173745f6f7"
     "05f696400020000003100047800120000000830000102310002000000c300000000",
     "bson error, at 61: cstring with non-utf8 content: incomplete utf-8 byte "
     "sequence from index 0"},
    {'B', "1800000008746f6b656e5f657870697265735f696e000000",
     "bson error at unknown offset: custom invalid type: boolean `false`, "
     "expected i32"},
    {'B', "1d00000005746f6b656e5f657870697265735f696e0001000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "i32"},
    {'B', "1c00000003746f6b656e5f657870697265735f696e00050000000000",
     "bson error at unknown offset: custom invalid type: map, expected i32"},
    {'B',
     "2300000004746f6b656e5f657870697265735f696e000c000000103000010000000000",
     "bson error at unknown offset: custom invalid type: sequence, expected "
     "i32"},
    {'B',
     "2300000007746f6b656e5f657870697265735f696e0001010101010101010101010100",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "i32"},
    {'B', "1f00000009746f6b656e5f657870697265735f696e00000000000000000000",
     NULL},
    {'B', "1f00000011746f6b656e5f657870697265735f696e00000000000000000000",
     NULL},
    {'B', "1700000006746f6b656e5f657870697265735f696e0000",
     "bson error at unknown offset: custom invalid type: unit value, expected "
     "i32"},
    {'B', "1f00000001746f6b656e5f657870697265735f696e009c7500883ce4377e00",
     "bson error at unknown offset: custom invalid type: floating point "
     "`100000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000.0`, expected i32"},
    {'B', "1f00000001746f6b656e5f657870697265735f696e0048afbc9af2d77a3e00",
     "bson error at unknown offset: custom invalid type: floating point "
     "`0.0000001`, expected i32"},
    {'B', "1f00000001746f6b656e5f657870697265735f696e00000000000000008000",
     "bson error at unknown offset: custom invalid type: floating point "
     "`-0.0`, expected i32"},
    {'B', "1f00000011746f6b656e5f657870697265735f696e00ffffffffffffffff00",
     "bson error at unknown offset: custom invalid value: integer "
     "`18446744073709551615`, expected i32"},
    {'B', "1f00000011746f6b656e5f657870697265735f696e00050000000000000000",
     NULL},
    {'B', "1f00000011746f6b656e5f657870697265735f696e00000000000100000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`4294967296`, expected i32"},
    {'B', "1f00000009746f6b656e5f657870697265735f696e00ffffffffffffffff00",
     "bson error at unknown offset: custom invalid value: integer "
     "`18446744073709551615`, expected i32"},
    {'B', "1f00000009746f6b656e5f657870697265735f696e00000000000100000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`4294967296`, expected i32"},
    {'B', "1a00000007746f6b656e5f657870697265735f696e00010101010100",
     "bson error, at 21: unexpected end of file"},
    {'B',
     "9f00000003636865636b706f696e74008e000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300600000000330005800000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f727300320000000"
     "330002a00000011737562736372697074696f6e000000000000000000026d657373616765"
     "00020000006d00000000000000",
     NULL},
    {'B',
     "9f00000003636865636b706f696e74008e000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300600000000330005800000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f727300320000000"
     "330002a00000009737562736372697074696f6e000000000000000000026d657373616765"
     "00020000006d00000000000000",
     NULL},
    {'B',
     "9d00000003636865636b706f696e74008c000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d73005e0000000330005600000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f727300300000000"
     "330002800000005737562736372697074696f6e00010000000061026d6573736167650002"
     "0000006d00000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "default or index"},
    {'B',
     "9f00000003636865636b706f696e74008e000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300600000000330005800000002"
     "6e616d65000200000073000869735f64656661756c740001046572726f727300320000000"
     "330002a00000001737562736372697074696f6e000000000000000000026d657373616765"
     "00020000006d00000000000000",
     "bson error at unknown offset: custom invalid type: floating point `0.0`, "
     "expected default or index"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610011"
     "636865636b73756d00ffffffffffffffff00000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`18446744073709551615`, expected a 32-bit int"},
    {'B',
     "5e00000003636865636b706f696e74004d000000026c6173745f6f705f696400020000003"
     "100046275636b657473002d00000003300025000000026275636b65740002000000610009"
     "636865636b73756d00ffffffffffffff7f00000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`9223372036854775807`, expected a 32-bit int"},
    {'B',
     "3c00000003636865636b706f696e74002b000000076c6173745f6f705f696400010101010"
     "101010101010101046275636b6574730005000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a string"},
    {'B',
     "6a0000000364617461005f000000026275636b65740002000000610004646174610046000"
     "0000330003e000000026f705f696400020000003100026f70000400000050555400106368"
     "65636b73756d000100000007646174610001010101010101010101010100000000",
     NULL},
    {'B',
     "7700000003636865636b706f696e740066000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d7300380000000330003000000002"
     "6e616d65000200000073000569735f64656661756c7400010000000001046572726f72730"
     "0050000000000000000",
     "bson error at unknown offset: custom invalid type: byte array, expected "
     "a boolean"},
    {'B',
     "7900000003636865636b706f696e740068000000026c6173745f6f705f696400020000003"
     "100046275636b6574730005000000000473747265616d73003a0000000330003200000002"
     "6e616d65000200000073001169735f64656661756c74000000000000000000046572726f7"
     "27300050000000000000000",
     "bson error at unknown offset: custom invalid type: integer `0`, expected "
     "a boolean"},
    {'B',
     "6c00000003636865636b706f696e74005b000000026c6173745f6f705f696400020000003"
     "100046275636b657473003b00000003300033000000026275636b65740002000000610010"
     "636865636b73756d0001000000117072696f7269747900010000000000000000000000",
     NULL},
    {'B',
     "6900000003636865636b706f696e740058000000026c6173745f6f705f696400020000003"
     "100046275636b657473003800000003300030000000026275636b65740002000000610010"
     "636865636b73756d000100000011636f756e7400ffffffffffffffff00000000",
     "bson error at unknown offset: custom invalid value: integer "
     "`18446744073709551615`, expected i64"},
    {'B',
     "8700000003636865636b706f696e740076000000026c6173745f6f705f696400020000003"
     "100046275636b65747300560000000330004e000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73001e000000033000160"
     "000001164656661756c7400ffffffffffffffff000000000000",
     NULL},
    {'B',
     "8700000003636865636b706f696e740076000000026c6173745f6f705f696400020000003"
     "100046275636b65747300560000000330004e000000026275636b65740002000000610010"
     "636865636b73756d000100000004737562736372697074696f6e73001e000000033000160"
     "000000964656661756c7400ffffffffffffffff000000000000",
     NULL},
    {'T', "{\"data\":{\"bucket\":\"\\uDC00\",\"data\":[]}}",
     "lone leading surrogate in hex escape at line 1 column 25"},
    {'T', "{\"data\":{\"bucket\":\"\\uD800\",\"data\":[]}}",
     "unexpected end of hex escape at line 1 column 26"},
    {'T', "{\"data\":{\"bucket\":\"\\uD800x\",\"data\":[]}}",
     "unexpected end of hex escape at line 1 column 26"},
    {'T', "{\"data\":{\"bucket\":\"\\uD800\\n\",\"data\":[]}}",
     "unexpected end of hex escape at line 1 column 27"},
    {'T', "{\"data\":{\"bucket\":\"\\uD800\\u0041\",\"data\":[]}}",
     "lone leading surrogate in hex escape at line 1 column 31"},
    {'T', "{\"data\":{\"bucket\":\"\\uD83D\\uDE00\",\"data\":[]}}", NULL},
    {'T', "{\"data\":{\"bucket\":\"\\u12G4\",\"data\":[]}}",
     "invalid escape at line 1 column 25"},
    {'T', "{\"data\":{\"bucket\":\"\\u12",
     "EOF while parsing a string at line 1 column 23"},
    {'T', "{\"data\":{\"bucket\":\"\\",
     "EOF while parsing a string at line 1 column 20"},
    {'T',
     "{\"data\":{\"bucket\":\"a\x01"
     "\",\"data\":[]}}",
     "control character (\\u0000-\\u001F) found while parsing a string at line "
     "1 column 21"},
    {'T', "{\"data\":{\"bucket\":\"a\\q\",\"data\":[]}}",
     "invalid escape at line 1 column 22"},
    {'T', "{\"foo\":\"\\u12G4\"}", "invalid escape at line 1 column 14"},
    {'T', "{\"foo\":\"\\u12", "EOF while parsing a string at line 1 column 12"},
    {'T', "{\"foo\":\"\\uDC00\\uD800\"}", NULL},
    {'T', "{\"checkpoint\":{\"last_op_id\":{},\"buckets\":[]}}",
     "invalid type: map, expected a string at line 1 column 28"},
    {'T', "{\"checkpoint\":{\"last_op_id\":[1],\"buckets\":[]}}",
     "invalid type: sequence, expected a string at line 1 column 28"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":{\"a\":"
     "1},\"message\":\"m\"}]}]}}",
     "invalid type: map, expected default or index at line 1 column 113"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\":[1],"
     "\"message\":\"m\"}]}]}}",
     "invalid type: sequence, expected default or index at line 1 column 113"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\",\"is_default\":true,\"errors\":[{\"subscription\": [ ] "
     ",\"message\":\"m\"}]}]}}",
     "invalid type: sequence, expected default or index at line 1 column 116"},
    {'T', "{1:2}", "key must be a string at line 1 column 2"},
    {'T', "{null:2}", "key must be a string at line 1 column 2"},
    {'T', "{\"token_expires_in\" 5}", "expected `:` at line 1 column 21"},
    {'T', "{\"token_expires_in\":5",
     "EOF while parsing an object at line 1 column 21"},
    {'T', "{\"token_expires_in\":5 ",
     "EOF while parsing an object at line 1 column 22"},
    {'T', "{\"token_expires_in\":5} x",
     "trailing characters at line 1 column 24"},
    {'T', "{\"token_expires_in\":05}", "invalid number at line 1 column 22"},
    {'T', "{\"token_expires_in\":-}", "invalid number at line 1 column 22"},
    {'T', "{\"token_expires_in\":-a}", "invalid number at line 1 column 22"},
    {'T', "{\"token_expires_in\":1.}", "invalid number at line 1 column 23"},
    {'T', "{\"token_expires_in\":1e}", "invalid number at line 1 column 23"},
    {'T', "{\"token_expires_in\":1e+}", "invalid number at line 1 column 24"},
    {'T', "{\"token_expires_in\":1.5e400}",
     "number out of range at line 1 column 27"},
    {'T', "{\"token_expires_in\":nul}", "expected ident at line 1 column 24"},
    {'T', "{\"token_expires_in\":nulx}", "expected ident at line 1 column 24"},
    {'T', "{\"token_expires_in\":-0}",
     "invalid type: floating point `-0.0`, expected i32 at line 1 column 22"},
    {'T', "{\"token_expires_in\":123456789012345678901234567890}",
     "invalid type: floating point `1.2345678901234568e+29`, expected i32 at "
     "line 1 column 50"},
    {'T', "{\"token_expires_in\":-123456789012345678901234567890}",
     "invalid type: floating point `-1.2345678901234568e+29`, expected i32 at "
     "line 1 column 51"},
    {'T', "{\"token_expires_in\":1e16}",
     "invalid type: floating point `1e+16`, expected i32 at line 1 column 24"},
    {'T', "{\"token_expires_in\":0.00001}",
     "invalid type: floating point `0.00001`, expected i32 at line 1 column "
     "27"},
    {'T', "{\"token_expires_in\":1.5e-7}",
     "invalid type: floating point `1.5e-7`, expected i32 at line 1 column 26"},
    {'T', "{\"token_expires_in\":12345678.9}",
     "invalid type: floating point `12345678.9`, expected i32 at line 1 column "
     "30"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-0}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-1.0}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-2147483648.5}]}}",
     "invalid value: floating point `-2147483648.5`, expected a whole number "
     "at line 1 column 81"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-3e9}]}}",
     "invalid value: integer `-3000000000`, expected a 32-bit int at line 1 "
     "column 72"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":99999999999999999999}]}}",
     "invalid value: integer `9223372036854775807`, expected a 32-bit int at "
     "line 1 column 88"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":-99999999999999999999}]}}",
     "invalid value: integer `-9223372036854775808`, expected a 32-bit int at "
     "line 1 column 89"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"bucket\":\"b\"}]}}",
     "duplicate field `bucket` at line 1 column 78"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1}],\"write_checkpoint\":\"2\",\"write_checkpoint\":null}}",
     "duplicate field `write_checkpoint` at line 1 column 113"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1} , ]}}",
     "trailing comma at line 1 column 74"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1} {]}}",
     "expected `,` or `]` at line 1 column 72"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[,]}}",
     "expected value at line 1 column 44"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[]   ,   }}",
     "trailing comma at line 1 column 52"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[] \"x\":1}}",
     "expected `,` or `}` at line 1 column 46"},
    {'T', "{\"checkpoint\":{,\"last_op_id\":\"1\",\"buckets\":[]}}",
     "key must be a string at line 1 column 16"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],}}",
     "trailing comma at line 1 column 46"},
    {'T', "{\"checkpoint\":{\"last_op_id\"  :  \"1\",\"buckets\":[],\"x\" x}}",
     "expected `:` at line 1 column 54"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"last_op_id\"  :  "
     "\"1\"}}",
     "duplicate field `last_op_id` at line 1 column 59"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[]  }   }  ",
     NULL},
    {'T', "{\"checkpoint\":{\"last_\\u006fp_id\":\"1\",\"buckets\":[]}}", NULL},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"\\u0031\",\"buckets\":[]}}", NULL},
    {'T', "{ \"checkpoint\" : { \"last_op_id\" : \"1\" , \"buckets\" : [ ] } }",
     NULL},
    {'T', "\n{\n\"checkpoint\":\n{\"last_op_id\":\n1}}",
     "invalid type: integer `1`, expected a string at line 5 column 1"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\":1}"
     ",\"checksum\":1}]}}",
     "invalid type: integer `1`, expected unit at line 1 column 56"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\":"
     "null,\"x\":1},\"checksum\":1}]}}",
     "expected value at line 1 column 59"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"FOO\":"
     "null},\"checksum\":1}]}}",
     "unknown variant `FOO`, expected one of `CLEAR`, `MOVE`, `PUT`, `REMOVE` "
     "at line 1 column 54"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{},"
     "\"checksum\":1}]}}",
     "expected value at line 1 column 50"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":"
     "\"P\\u0055T\",\"checksum\":1}]}}",
     NULL},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":null,"
     "\"checksum\":1}]}}",
     "expected value at line 1 column 49"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
     "\"checksum\":1,\"subkey\":null,\"object_id\":null,\"object_type\":null,"
     "\"data\":null}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"de\\u0066ault\":1}]}]}}",
     "invalid type: string \"default\", expected a borrowed string at line 1 "
     "column 102"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\" 1}]}]}}",
     "expected `:` at line 1 column 99"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1",
     "EOF while parsing an object at line 1 column 99"},
    {'T', "{", "EOF while parsing an object at line 1 column 1"},
    {'T', "{ ", "EOF while parsing an object at line 1 column 2"},
    {'T', "{\"a\"", "EOF while parsing an object at line 1 column 4"},
    {'T', "{\"a\" ", "EOF while parsing an object at line 1 column 5"},
    {'T', "{\"a\":", "EOF while parsing a value at line 1 column 5"},
    {'T', "{\"a\":1", "EOF while parsing an object at line 1 column 6"},
    {'T', "{\"a\":1 ,", "expected value at line 1 column 7"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[],\"streams\":[{"
     "\"name\":\"s\\u0062\",\"is_default\":true,\"errors\":[{\"subscription\":"
     "\"x\",\"message\":\"m\\u0062\"}]}]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":"
     "\"a\\u0062\",\"checksum\":1}]}}",
     NULL},
    {'T',
     "{\"checkpoint_diff\":{\"last_op_id\":\"1\",\"removed_buckets\":["
     "\"a\\u0062\"],\"updated_buckets\":[]}}",
     NULL},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[\"default\"]}]}}",
     "invalid type: unit variant, expected newtype variant at line 1 column "
     "97"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[\"default\" ,1]}]}}",
     "invalid type: unit variant, expected newtype variant at line 1 column "
     "98"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[\"de\\u0066ault\"]}]}}",
     "invalid type: string \"default\", expected a borrowed string at line 1 "
     "column 101"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"default\":1}]}]},\"x\":1}",
     "expected value at line 1 column 104"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{1:1}]}]}}",
     "key must be a string at line 1 column 89"},
    {'T',
     "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[{\"bucket\":\"a\","
     "\"checksum\":1,\"subscriptions\":[{\"sub\":null}]}]}}",
     "invalid type: null, expected usize at line 1 column 98"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{1:null},"
     "\"checksum\":1}]}}",
     "key must be a string at line 1 column 50"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\" "
     "null},\"checksum\":1}]}}",
     "expected `:` at line 1 column 56"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\":"
     "null",
     "EOF while parsing an object at line 1 column 59"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":{\"PUT\":"
     "nul}}]}}",
     "expected ident at line 1 column 59"},
    {'T',
     "{\"data\":{\"bucket\":\"a\",\"data\":[{\"op_id\":\"1\",\"op\":\"PUT\","
     "\"checksum\":1,\"data\":\"{\\\"a\\\":1}\"}]}}",
     NULL},
    {'T', "{\"foo\":{\"a\" 1}}", "expected `:` at line 1 column 13"},
    {'T', "{\"foo\":{\"a\":1 \"b\"}}",
     "expected `,` or `}` at line 1 column 15"},
    {'T', "{\"foo\":[1 2]}", "expected `,` or `]` at line 1 column 11"},
    {'T', "{\"foo\":{1}}", "key must be a string at line 1 column 9"},
    {'T', "{\"foo\":{", "EOF while parsing an object at line 1 column 8"},
    {'T', "{\"foo\":[", "EOF while parsing a list at line 1 column 8"},
    {'T', "{\"foo\":-}", "invalid number at line 1 column 9"},
    {'T', "{\"foo\":-", "invalid number at line 1 column 8"},
    {'T', "{\"foo\":1.}", "invalid number at line 1 column 10"},
    {'T', "{\"foo\":1.", "invalid number at line 1 column 9"},
    {'T', "{\"foo\":1e}", "invalid number at line 1 column 10"},
    {'T', "{\"foo\":1e", "invalid number at line 1 column 9"},
    {'T', "{\"foo\":01}", "invalid number at line 1 column 9"},
    {'T', "{\"foo\":\"a\\", "EOF while parsing a string at line 1 column 10"},
    {'T', "{\"foo\":tru}", "expected ident at line 1 column 11"},
    {'T', "{\"foo\":}", "expected value at line 1 column 8"},
    {'T', "{\"checkpoint\":{\"last_op_id\":\"1\",\"buckets\":[]}}}",
     "trailing characters at line 1 column 47"},
    {'T', "{\"checkpoint_complete\":{\"x\":[1,{\"a\":[]}]}}", NULL},

};

static void official_core_messages(void **state) {
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(official_cases) / sizeof(official_cases[0]); i++) {
    struct decoded d;
    size_t len;
    unsigned char *input;
    if (official_cases[i].mode == 'T') {
      len = strlen(official_cases[i].input);
      input = malloc(len ? len : 1);
      memcpy(input, official_cases[i].input, len);
      decode_text_n(&d, (const char *)input, len);
    } else {
      input = unhex(official_cases[i].input, &len);
      decode_binary(&d, input, len);
    }
    if (!official_cases[i].cause) {
      if (d.rc != PS_SYNC_LINE_OK)
        fail_msg("case %zu (%s): unexpected error %s", i,
                 official_cases[i].input, d.err);
    } else {
      if (d.rc != PS_SYNC_LINE_INVALID)
        fail_msg("case %zu (%s): decoded, expected %s", i,
                 official_cases[i].input, official_cases[i].cause);
      if (strcmp(d.err, official_cases[i].cause) != 0)
        fail_msg("case %zu (%s):\n  got      %s\n  expected %s", i,
                 official_cases[i].input, d.err, official_cases[i].cause);
    }
    done(&d);
    free(input);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(text_checkpoint_decodes),
      cmocka_unit_test(text_checkpoint_diff_decodes),
      cmocka_unit_test(text_completion_lines_decode),
      cmocka_unit_test(text_data_decodes),
      cmocka_unit_test(text_keepalive_and_unknown_lines),
      cmocka_unit_test(binary_lines_decode_like_text),
      cmocka_unit_test(binary_keepalive_example),
      cmocka_unit_test(scalar_checksum_rules),
      cmocka_unit_test(scalar_checksum_rules_bson),
      cmocka_unit_test(scalar_op_id_rules),
      cmocka_unit_test(scalar_priority_count_and_keepalive_rules),
      cmocka_unit_test(envelope_rules),
      cmocka_unit_test(truncated_lines_fail_cleanly),
      cmocka_unit_test(garbage_never_crashes),
      cmocka_unit_test(nesting_limits),
      cmocka_unit_test(arena_limit_and_error_buffers),
      cmocka_unit_test(big_data_line),
      cmocka_unit_test(real_service_json_lines_decode),
      cmocka_unit_test(real_service_bson_matches_json),
      cmocka_unit_test(official_core_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
