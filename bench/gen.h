/*
 * gen.h: deterministic generator of synthetic sync streams for the benchmark
 * (bench/README.md).
 *
 * A stream describes N rows of a todo-like table spread over B buckets, as a
 * PowerSync service would send them on a first sync:
 *
 *   checkpoint          all B buckets, with their op counts and checksums
 *   data  x many        PUT ops, `batch` per line, bucket after bucket
 *   checkpoint_complete
 *
 * followed by `rounds` incremental rounds, each changing one existing row:
 *
 *   checkpoint_diff     the bucket of the row, with its new checksum
 *   data                one PUT of the row (same key, so it supersedes)
 *   checkpoint_complete
 *
 * Every value is a pure function of (config, row index), so the benchmark
 * driver can rebuild any row to insert it (the SQLite floor) or to check what a
 * core wrote, without parsing the stream. Rows are numbered 0..N-1; row i has
 * op id i+1 and lives in bucket i % B; the op of incremental round k (1-based)
 * has op id N+k.
 *
 * Lines are written as NDJSON (one JSON object and a newline per line) or as
 * BSON (concatenated documents, each starting with its little-endian int32
 * length), field for field like the real service
 * (../shared/fixtures/real-service/README.md).
 */
#ifndef PS_BENCH_GEN_H
#define PS_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The user schema: one synced table `todos` with an index on list_id, like
 * the PowerSync demo apps. Passed to powersync_replace_schema and to
 * powersync_control('start'). */
#define BENCH_SCHEMA_JSON                                                      \
  "{\"tables\":[{\"name\":\"todos\",\"columns\":["                             \
  "{\"name\":\"created_at\",\"type\":\"TEXT\"},"                               \
  "{\"name\":\"completed_at\",\"type\":\"TEXT\"},"                             \
  "{\"name\":\"description\",\"type\":\"TEXT\"},"                              \
  "{\"name\":\"completed\",\"type\":\"INTEGER\"},"                             \
  "{\"name\":\"created_by\",\"type\":\"TEXT\"},"                               \
  "{\"name\":\"list_id\",\"type\":\"TEXT\"},"                                  \
  "{\"name\":\"priority\",\"type\":\"INTEGER\"},"                              \
  "{\"name\":\"score\",\"type\":\"REAL\"},"                                    \
  "{\"name\":\"rev\",\"type\":\"INTEGER\"}],"                                  \
  "\"indexes\":[{\"name\":\"list\",\"columns\":"                               \
  "[{\"name\":\"list_id\",\"ascending\":true,\"type\":\"TEXT\"}]}]}]}"

#define BENCH_TABLE "todos"

struct bench_config {
  uint64_t rows;     /* N, at least 1 */
  uint32_t buckets;  /* B, 1..rows */
  uint32_t batch;    /* ops per data line, at least 1 */
  uint32_t row_size; /* target length of a row's JSON text, in bytes */
  uint32_t rounds;   /* incremental rounds after the first checkpoint */
  uint64_t seed;
};

/* Growable byte buffer; aborts the process when memory runs out. */
struct bench_buf {
  char *p;
  size_t len, cap;
};

void bench_buf_reserve(struct bench_buf *b, size_t extra);
void bench_buf_add(struct bench_buf *b, const void *p, size_t n);
void bench_buf_str(struct bench_buf *b, const char *s);
void bench_buf_free(struct bench_buf *b);

/* One generated row, as it appears in a PUT op. */
struct bench_row {
  char id[37];     /* object_id, a v4-style UUID */
  char subkey[74]; /* "<source table uuid>/<row uuid>", like the service */
  uint32_t bucket; /* 0..B-1 */
  uint64_t op_id;  /* op id of this version of the row */
  uint32_t checksum;
  struct bench_buf data; /* the row's JSON object text (not NUL-terminated) */
};

/* Sets the defaults: 1000 rows, 10 buckets, 1000 ops per line, 300-byte rows,
 * 20 rounds, seed 1. */
void bench_config_defaults(struct bench_config *cfg);

/* Applies option `name` (without dashes: rows, buckets, batch, row-size,
 * rounds, seed) with `value`. Returns 1 if the option was consumed, 0 if the
 * name is not a generator option, -1 (with a message on stderr) if the value
 * is invalid. */
int bench_config_option(struct bench_config *cfg, const char *name,
                        const char *value);

/* Checks the cross-field constraints; returns 0 or -1 with a message. */
int bench_config_check(const struct bench_config *cfg);

/* Fills `row` with row `index` (0..N-1) in version `rev`: 0 is the version of
 * the first sync, k > 0 the version written by incremental round k. */
void bench_row_build(const struct bench_config *cfg, uint64_t index,
                     uint32_t rev, struct bench_row *row);

/* The sort key of row index's id: ids are fixed-width lowercase hex, so
 * comparing (key[0], key[1]) numerically orders them like their text. */
void bench_row_id_key(const struct bench_config *cfg, uint64_t index,
                      uint64_t key[2]);

/* The row changed by incremental round k (1..rounds); distinct per round. */
uint64_t bench_round_row(const struct bench_config *cfg, uint32_t k);

/* Checksum of the op with the given op id (any u32; only the bucket sums
 * are checked by the core). */
uint32_t bench_op_checksum(const struct bench_config *cfg, uint64_t op_id);

/* Writes the bucket name of bucket b ("1#list_todos[\"list-<b>\"]") into
 * out (at least 48 bytes). */
void bench_bucket_name(uint32_t b, char *out, size_t size);

/* Writes the whole stream to f. Returns 0, or -1 on a write error. */
int bench_write_stream(const struct bench_config *cfg, int bson, FILE *f);

#endif
