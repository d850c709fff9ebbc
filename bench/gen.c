/*
 * gen.c: deterministic rows and sync-stream writer for the benchmark
 * (see gen.h for the shape of a stream).
 *
 * HOW IT WORKS
 *
 * Every random-looking value comes from hash64(seed, tag, index), a
 * splitmix64-style mixer, so row i can be rebuilt at any time without state.
 * Lines are built with a small document builder (struct doc) that emits
 * either JSON or BSON from the same sequence of calls: doc_obj/doc_arr open a
 * container, doc_end closes it, doc_str/doc_int/doc_bool/doc_null add a
 * member. In BSON, containers reserve their int32 length and patch it when
 * closed, and array members get the keys "0", "1", ...; in JSON, commas are
 * inserted between members and strings are escaped.
 *
 * Integers are written the way the service writes them: int32 when the value
 * fits, else int64 (op checksums >= 2^31 therefore become int64), and the
 * checkpoint's bucket checksum is the signed bit-cast of the wrapping u32 sum
 * of the bucket's op checksums (core-sync.md 12.3).
 */
#include "gen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- buffers ------------------------------------------------------------ */

void bench_buf_reserve(struct bench_buf *b, size_t extra) {
  size_t need = b->len + extra;
  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  b->p = p;
  b->cap = cap;
}

void bench_buf_add(struct bench_buf *b, const void *p, size_t n) {
  bench_buf_reserve(b, n);
  memcpy(b->p + b->len, p, n);
  b->len += n;
}

void bench_buf_str(struct bench_buf *b, const char *s) {
  bench_buf_add(b, s, strlen(s));
}

void bench_buf_free(struct bench_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static void buf_byte(struct bench_buf *b, char c) { bench_buf_add(b, &c, 1); }

static void buf_fmt_u64(struct bench_buf *b, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
  bench_buf_add(b, tmp, (size_t)n);
}

static void buf_le32(struct bench_buf *b, uint32_t v) {
  unsigned char t[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                        (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  bench_buf_add(b, t, 4);
}

static void put_le32(char *p, uint32_t v) {
  p[0] = (char)(v & 0xFF);
  p[1] = (char)((v >> 8) & 0xFF);
  p[2] = (char)((v >> 16) & 0xFF);
  p[3] = (char)((v >> 24) & 0xFF);
}

/* ---- hashing ------------------------------------------------------------ */

enum {
  TAG_ID = 1,
  TAG_SUBKEY,
  TAG_LIST,
  TAG_FIELDS,
  TAG_WORDS,
  TAG_CHECKSUM,
  TAG_SOURCE
};

static uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t hash64(uint64_t seed, uint64_t tag, uint64_t index) {
  return mix64(mix64(seed ^ (tag * 0xd6e8feb86659fd93ULL)) ^ index);
}

/* Sets the version (4) and variant bits of a UUID's two halves. */
static void uuid_bits(uint64_t *hi, uint64_t *lo) {
  *hi = (*hi & ~0xF000ULL) | 0x4000ULL;
  *lo = (*lo & ~(0xCULL << 60)) | (0x8ULL << 60);
}

/* Formats a v4-style UUID from two hashes into out[37]. */
static void format_uuid(uint64_t hi, uint64_t lo, char *out) {
  static const char hex[] = "0123456789abcdef";
  uuid_bits(&hi, &lo);
  char digits[32];
  for (int i = 0; i < 16; i++) {
    digits[i] = hex[(hi >> (60 - 4 * i)) & 0xF];
    digits[16 + i] = hex[(lo >> (60 - 4 * i)) & 0xF];
  }
  int o = 0;
  for (int i = 0; i < 32; i++) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      out[o++] = '-';
    out[o++] = digits[i];
  }
  out[o] = '\0';
}

static void make_uuid(uint64_t seed, uint64_t tag, uint64_t index, char *out) {
  format_uuid(hash64(seed, tag, 2 * index), hash64(seed, tag, 2 * index + 1),
              out);
}

void bench_row_id_key(const struct bench_config *cfg, uint64_t index,
                      uint64_t key[2]) {
  key[0] = hash64(cfg->seed, TAG_ID, 2 * index);
  key[1] = hash64(cfg->seed, TAG_ID, 2 * index + 1);
  uuid_bits(&key[0], &key[1]);
}

/* ---- configuration ------------------------------------------------------ */

void bench_config_defaults(struct bench_config *cfg) {
  cfg->rows = 1000;
  cfg->buckets = 10;
  cfg->batch = 1000;
  cfg->row_size = 300;
  cfg->rounds = 20;
  cfg->seed = 1;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-')
    return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

int bench_config_option(struct bench_config *cfg, const char *name,
                        const char *value) {
  static const char *const names[] = {"rows",     "buckets", "batch",
                                      "row-size", "rounds",  "seed"};
  size_t which = sizeof names / sizeof names[0];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      which = i;
  if (which == sizeof names / sizeof names[0])
    return 0;
  uint64_t v;
  if (parse_u64(value, &v) != 0 ||
      (which != 5 && which != 0 && v > UINT32_MAX)) {
    fprintf(stderr, "invalid value for --%s: %s\n", name,
            value ? value : "(missing)");
    return -1;
  }
  switch (which) {
  case 0:
    cfg->rows = v;
    break;
  case 1:
    cfg->buckets = (uint32_t)v;
    break;
  case 2:
    cfg->batch = (uint32_t)v;
    break;
  case 3:
    cfg->row_size = (uint32_t)v;
    break;
  case 4:
    cfg->rounds = (uint32_t)v;
    break;
  default:
    cfg->seed = v;
    break;
  }
  return 1;
}

int bench_config_check(const struct bench_config *cfg) {
  if (cfg->rows < 1 || cfg->rows > (uint64_t)1 << 40) {
    fprintf(stderr, "--rows must be between 1 and 2^40\n");
    return -1;
  }
  if (cfg->buckets < 1 || cfg->buckets > cfg->rows) {
    fprintf(stderr, "--buckets must be between 1 and --rows\n");
    return -1;
  }
  if (cfg->batch < 1) {
    fprintf(stderr, "--batch must be at least 1\n");
    return -1;
  }
  if (cfg->rounds > cfg->rows) {
    fprintf(stderr, "--rounds must not exceed --rows\n");
    return -1;
  }
  if (cfg->row_size > (1u << 24)) {
    fprintf(stderr, "--row-size must be at most 16 MiB\n");
    return -1;
  }
  return 0;
}

/* ---- rows --------------------------------------------------------------- */

uint32_t bench_op_checksum(const struct bench_config *cfg, uint64_t op_id) {
  return (uint32_t)(hash64(cfg->seed, TAG_CHECKSUM, op_id) >> 32);
}

void bench_bucket_name(uint32_t b, char *out, size_t size) {
  snprintf(out, size, "1#list_todos[\"list-%" PRIu32 "\"]", b);
}

uint64_t bench_round_row(const struct bench_config *cfg, uint32_t k) {
  uint64_t stride = cfg->rounds ? cfg->rows / cfg->rounds : cfg->rows;
  return ((uint64_t)(k - 1) * stride + stride / 2) % cfg->rows;
}

/* "YYYY-MM-DD HH:MM:SSZ", the service's rendering of timestamptz. */
static void add_timestamp(struct bench_buf *b, int64_t unix_seconds) {
  time_t t = (time_t)unix_seconds;
  struct tm tm;
  char tmp[32];
  gmtime_r(&t, &tm);
  size_t n = strftime(tmp, sizeof tmp, "\"%Y-%m-%d %H:%M:%SZ\"", &tm);
  bench_buf_add(b, tmp, n);
}

/* Words of the descriptions; two are non-ASCII so that UTF-8 is exercised. */
static const char *const words[] = {
    "buy",     "milk",   "call",    "the",  "plumber", "review",    "pull",
    "request", "book",   "flights", "for",  "holiday", "renew",     "passport",
    "water",   "plants", "fix",     "bike", "tyre",    "write",     "weekly",
    "report",  "pay",    "rent",    "café", "order",   "groceries", "clean",
    "garage",  "Müller", "email",   "team"};

static void add_description(struct bench_buf *b, uint64_t seed, uint64_t index,
                            uint32_t rev, size_t target) {
  char head[48];
  int n = rev ? snprintf(head, sizeof head,
                         "Todo %" PRIu64 " (changed %" PRIu32 "):", index, rev)
              : snprintf(head, sizeof head, "Todo %" PRIu64 ":", index);
  size_t start = b->len;
  bench_buf_add(b, head, (size_t)n);
  uint64_t h = 0;
  for (unsigned w = 0; b->len - start < target; w++) {
    if (w % 10 == 0)
      h = hash64(seed, TAG_WORDS, index * 1024 + w / 10);
    const char *word = words[(h >> (6 * (w % 10))) & 31];
    size_t len = strlen(word);
    size_t room = target - (b->len - start);
    if (len + 1 <= room) {
      buf_byte(b, ' ');
      bench_buf_add(b, word, len);
    } else {
      while (b->len - start < target)
        buf_byte(b, '.');
    }
  }
}

void bench_row_build(const struct bench_config *cfg, uint64_t index,
                     uint32_t rev, struct bench_row *row) {
  uint64_t seed = cfg->seed;
  uint64_t f = hash64(seed, TAG_FIELDS, index);
  char list_id[37], source[37], row_uuid[37];

  make_uuid(seed, TAG_ID, index, row->id);
  make_uuid(seed, TAG_SOURCE, 0, source);
  make_uuid(seed, TAG_SUBKEY, index, row_uuid);
  snprintf(row->subkey, sizeof row->subkey, "%s/%s", source, row_uuid);
  make_uuid(seed, TAG_LIST, index / 20, list_id);
  row->bucket = (uint32_t)(index % cfg->buckets);
  row->op_id = rev ? cfg->rows + rev : index + 1;
  row->checksum = bench_op_checksum(cfg, row->op_id);

  struct bench_buf *b = &row->data;
  int64_t created = 1767225600 + (int64_t)index * 13; /* from 2026-01-01 */
  int completed = rev ? 1 : (f & 3) == 0;
  char tmp[64];

  b->len = 0;
  bench_buf_str(b, "{\"id\":\"");
  bench_buf_str(b, row->id);
  bench_buf_str(b, "\",\"created_at\":");
  add_timestamp(b, created);
  bench_buf_str(b, ",\"completed_at\":");
  if (completed)
    add_timestamp(b, created + 3600 + (int64_t)((f >> 8) & 0xFFFF));
  else
    bench_buf_str(b, "null");
  bench_buf_str(b, ",\"description\":\"");
  size_t desc_at = b->len;
  bench_buf_str(b, "\",\"completed\":");
  buf_byte(b, completed ? '1' : '0');
  snprintf(tmp, sizeof tmp, ",\"created_by\":\"user-%" PRIu32 "\"",
           (uint32_t)((f >> 24) & 63));
  bench_buf_str(b, tmp);
  bench_buf_str(b, ",\"list_id\":\"");
  bench_buf_str(b, list_id);
  bench_buf_str(b, "\",\"priority\":");
  if ((f >> 32) % 4 == 3)
    bench_buf_str(b, "null");
  else
    buf_fmt_u64(b, 1 + (f >> 32) % 4);
  bench_buf_str(b, ",\"score\":");
  if ((f >> 40) % 5 == 0) {
    bench_buf_str(b, "null");
  } else {
    uint32_t q = (uint32_t)((f >> 44) % 4000);
    snprintf(tmp, sizeof tmp, "%" PRIu32 ".%02" PRIu32, q / 4, q % 4 * 25);
    bench_buf_str(b, tmp);
  }
  if (rev) {
    bench_buf_str(b, ",\"rev\":");
    buf_fmt_u64(b, rev);
  }
  buf_byte(b, '}');

  /* Insert the description so that the whole text reaches row_size. */
  size_t fixed = b->len;
  size_t target = cfg->row_size > fixed ? cfg->row_size - fixed : 0;
  struct bench_buf desc = {0};
  add_description(&desc, seed, index, rev, target);
  bench_buf_reserve(b, desc.len);
  memmove(b->p + desc_at + desc.len, b->p + desc_at, b->len - desc_at);
  memcpy(b->p + desc_at, desc.p, desc.len);
  b->len += desc.len;
  bench_buf_free(&desc);
}

/* ---- JSON / BSON document builder --------------------------------------- */

#define DOC_DEPTH 8

struct doc {
  int bson;
  struct bench_buf out;
  int depth;
  struct {
    size_t start;   /* BSON: offset of the length prefix */
    uint32_t count; /* members so far */
    int array;
  } level[DOC_DEPTH];
};

static void json_string(struct bench_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  bench_buf_reserve(b, n + 2);
  buf_byte(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c != '"' && c != '\\' && c >= 0x20)
      continue;
    bench_buf_add(b, s + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      bench_buf_add(b, esc, 2);
    } else {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      bench_buf_add(b, esc, 6);
    }
  }
  bench_buf_add(b, s + run, n - run);
  buf_byte(b, '"');
}

/* Starts a member: JSON comma and key, or BSON type byte and key. */
static void doc_member(struct doc *d, char bson_type, const char *key) {
  uint32_t index = d->level[d->depth].count++;
  if (d->bson) {
    char tmp[16];
    buf_byte(&d->out, bson_type);
    if (d->level[d->depth].array) {
      snprintf(tmp, sizeof tmp, "%" PRIu32, index);
      key = tmp;
    }
    bench_buf_add(&d->out, key, strlen(key) + 1);
    return;
  }
  if (index)
    buf_byte(&d->out, ',');
  if (!d->level[d->depth].array) {
    json_string(&d->out, key, strlen(key));
    buf_byte(&d->out, ':');
  }
}

static void doc_open(struct doc *d, int array) {
  if (d->depth + 1 >= DOC_DEPTH) {
    fprintf(stderr, "document nesting too deep\n");
    exit(2);
  }
  d->depth++;
  d->level[d->depth].start = d->out.len;
  d->level[d->depth].count = 0;
  d->level[d->depth].array = array;
  if (d->bson)
    buf_le32(&d->out, 0);
  else
    buf_byte(&d->out, array ? '[' : '{');
}

static void doc_begin(struct doc *d, int bson) {
  d->bson = bson;
  d->out.len = 0;
  d->depth = -1;
  doc_open(d, 0);
}

static void doc_obj(struct doc *d, const char *key) {
  doc_member(d, 0x03, key);
  doc_open(d, 0);
}

static void doc_arr(struct doc *d, const char *key) {
  doc_member(d, 0x04, key);
  doc_open(d, 1);
}

static void doc_end(struct doc *d) {
  if (d->bson) {
    buf_byte(&d->out, 0);
    size_t start = d->level[d->depth].start;
    put_le32(d->out.p + start, (uint32_t)(d->out.len - start));
  } else {
    buf_byte(&d->out, d->level[d->depth].array ? ']' : '}');
  }
  d->depth--;
}

static void doc_strn(struct doc *d, const char *key, const char *s, size_t n) {
  doc_member(d, 0x02, key);
  if (d->bson) {
    buf_le32(&d->out, (uint32_t)(n + 1));
    bench_buf_add(&d->out, s, n);
    buf_byte(&d->out, 0);
  } else {
    json_string(&d->out, s, n);
  }
}

static void doc_str(struct doc *d, const char *key, const char *s) {
  doc_strn(d, key, s, strlen(s));
}

static void doc_opid(struct doc *d, const char *key, uint64_t op_id) {
  char tmp[24];
  snprintf(tmp, sizeof tmp, "%" PRIu64, op_id);
  doc_str(d, key, tmp);
}

static void doc_int(struct doc *d, const char *key, int64_t v) {
  int fits32 = v >= INT32_MIN && v <= INT32_MAX;
  doc_member(d, fits32 ? 0x10 : 0x12, key);
  if (d->bson) {
    uint64_t u = (uint64_t)v;
    buf_le32(&d->out, (uint32_t)u);
    if (!fits32)
      buf_le32(&d->out, (uint32_t)(u >> 32));
  } else {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    bench_buf_add(&d->out, tmp, (size_t)n);
  }
}

static void doc_bool(struct doc *d, const char *key, int v) {
  doc_member(d, 0x08, key);
  if (d->bson)
    buf_byte(&d->out, v ? 1 : 0);
  else
    bench_buf_str(&d->out, v ? "true" : "false");
}

/* Finishes the top-level document and writes it as one line. */
static int doc_write(struct doc *d, FILE *f) {
  doc_end(d);
  if (!d->bson)
    buf_byte(&d->out, '\n');
  return fwrite(d->out.p, 1, d->out.len, f) == d->out.len ? 0 : -1;
}

/* ---- lines -------------------------------------------------------------- */

/* Per-bucket totals that the checkpoint lines report. */
struct bucket_state {
  uint32_t checksum; /* wrapping sum of every op sent for the bucket */
  int64_t count;     /* number of ops sent for the bucket */
};

static void add_bucket_checksum(struct doc *d, uint32_t b,
                                const struct bucket_state *s) {
  char name[64];
  bench_bucket_name(b, name, sizeof name);
  doc_obj(d, "");
  doc_str(d, "bucket", name);
  doc_int(d, "checksum", (int32_t)s->checksum);
  doc_int(d, "count", s->count);
  doc_int(d, "priority", 3);
  doc_arr(d, "subscriptions");
  doc_obj(d, "");
  doc_int(d, "default", 0);
  doc_end(d);
  doc_end(d);
  doc_end(d);
}

static int write_checkpoint(struct doc *d, const struct bench_config *cfg,
                            const struct bucket_state *buckets, FILE *f) {
  doc_obj(d, "checkpoint");
  doc_opid(d, "last_op_id", cfg->rows);
  doc_arr(d, "buckets");
  for (uint32_t b = 0; b < cfg->buckets; b++)
    add_bucket_checksum(d, b, &buckets[b]);
  doc_end(d);
  doc_arr(d, "streams");
  doc_obj(d, "");
  doc_str(d, "name", "list_todos");
  doc_bool(d, "is_default", 1);
  doc_arr(d, "errors");
  doc_end(d);
  doc_end(d);
  doc_end(d);
  doc_end(d);
  return doc_write(d, f);
}

static void add_put(struct doc *d, const struct bench_row *row) {
  doc_obj(d, "");
  doc_opid(d, "op_id", row->op_id);
  doc_str(d, "op", "PUT");
  doc_str(d, "object_type", BENCH_TABLE);
  doc_str(d, "object_id", row->id);
  doc_int(d, "checksum", (int64_t)row->checksum);
  doc_str(d, "subkey", row->subkey);
  doc_strn(d, "data", row->data.p, row->data.len);
  doc_end(d);
}

static int write_complete(struct doc *d, uint64_t last_op_id, FILE *f) {
  doc_obj(d, "checkpoint_complete");
  doc_opid(d, "last_op_id", last_op_id);
  doc_end(d);
  return doc_write(d, f);
}

int bench_write_stream(const struct bench_config *cfg, int bson, FILE *f) {
  struct bucket_state *buckets = calloc(cfg->buckets, sizeof *buckets);
  struct bench_row row = {0};
  struct doc d = {0};
  int rc = 0;
  if (!buckets) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (uint64_t i = 0; i < cfg->rows; i++) {
    struct bucket_state *s = &buckets[i % cfg->buckets];
    s->checksum += bench_op_checksum(cfg, i + 1);
    s->count++;
  }

  doc_begin(&d, bson);
  rc |= write_checkpoint(&d, cfg, buckets, f);

  /* Data lines, bucket after bucket, `batch` ops per line. */
  for (uint32_t b = 0; b < cfg->buckets && rc == 0; b++) {
    char name[64];
    uint64_t after = 0;
    bench_bucket_name(b, name, sizeof name);
    for (uint64_t i = b; i < cfg->rows && rc == 0;) {
      doc_begin(&d, bson);
      doc_obj(&d, "data");
      doc_str(&d, "bucket", name);
      doc_opid(&d, "after", after);
      uint64_t last = i + (uint64_t)(cfg->batch - 1) * cfg->buckets;
      doc_bool(&d, "has_more", last + cfg->buckets < cfg->rows);
      doc_arr(&d, "data");
      for (uint32_t n = 0; n < cfg->batch && i < cfg->rows;
           n++, i += cfg->buckets) {
        bench_row_build(cfg, i, 0, &row);
        add_put(&d, &row);
        after = row.op_id;
      }
      doc_end(&d);
      doc_opid(&d, "next_after", after);
      doc_end(&d);
      rc |= doc_write(&d, f);
    }
  }
  doc_begin(&d, bson);
  rc |= write_complete(&d, cfg->rows, f);

  /* Incremental rounds: one changed row each. */
  for (uint32_t k = 1; k <= cfg->rounds && rc == 0; k++) {
    uint64_t index = bench_round_row(cfg, k);
    bench_row_build(cfg, index, k, &row);
    struct bucket_state *s = &buckets[row.bucket];
    s->checksum += row.checksum;
    s->count++;

    doc_begin(&d, bson);
    doc_obj(&d, "checkpoint_diff");
    doc_opid(&d, "last_op_id", row.op_id);
    doc_arr(&d, "removed_buckets");
    doc_end(&d);
    doc_arr(&d, "updated_buckets");
    add_bucket_checksum(&d, row.bucket, s);
    doc_end(&d);
    doc_end(&d);
    rc |= doc_write(&d, f);

    char name[64];
    bench_bucket_name(row.bucket, name, sizeof name);
    doc_begin(&d, bson);
    doc_obj(&d, "data");
    doc_str(&d, "bucket", name);
    doc_opid(&d, "after", cfg->rows); /* approximate; ignored by the core */
    doc_bool(&d, "has_more", 0);
    doc_arr(&d, "data");
    add_put(&d, &row);
    doc_end(&d);
    doc_opid(&d, "next_after", row.op_id);
    doc_end(&d);
    rc |= doc_write(&d, f);

    doc_begin(&d, bson);
    rc |= write_complete(&d, row.op_id, f);
  }

  bench_buf_free(&d.out);
  bench_buf_free(&row.data);
  free(buckets);
  return rc ? -1 : 0;
}
