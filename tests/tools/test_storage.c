/*
 * test_storage.c: the dev server's oplog (tools/devserver/storage.c) over
 * a real source database and the sync config of the real-service fixtures
 * (shared/fixtures/real-service/README.md: global lists, per-user todos).
 *
 * Writes come from a second connection (an "external writer", like the
 * sqlite3 shell) or from the upload endpoint's batch format; every test
 * checks the oplog the way a client would see it: bucket checksum = sum of
 * its ops mod 2^32, count = number of ops, and a model of the client's
 * oplog (core-sync.md 12.2: PUT/REMOVE supersede by type/id/subkey, MOVE
 * and CLEAR adjust the checksum) fed with the ops ends up holding exactly
 * the objects the source rows produce, before and after compaction.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "codec.h"
#include "storage.h"
#include "sync_config.h"

#define GLOBAL  "1#global[]"
#define TODOS_A "1#user_todos[\"user-a\"]"
#define TODOS_B "1#user_todos[\"user-b\"]"

#define LIST_1 "11111111-1111-1111-1111-111111111111"
#define LIST_2 "22222222-2222-2222-2222-222222222222"
#define MILK   "aaaaaaa1-0000-0000-0000-000000000001"
#define EGGS   "aaaaaaa1-0000-0000-0000-000000000002"
#define REPORT "bbbbbbb2-0000-0000-0000-000000000001"

static const char CONFIG[] =
    "bucket_definitions:\n"
    "  global:\n"
    "    data:\n"
    "      - SELECT * FROM lists\n"
    "  user_todos:\n"
    "    parameters: SELECT request.user_id() AS user_id\n"
    "    data:\n"
    "      - SELECT * FROM todos WHERE created_by = bucket.user_id\n";

static const char CONFIG_LISTS_ONLY[] = "bucket_definitions:\n"
                                        "  global:\n"
                                        "    data:\n"
                                        "      - SELECT * FROM lists\n";

static const char SCHEMA[] =
    "CREATE TABLE lists(id TEXT PRIMARY KEY, created_at TEXT, name TEXT,"
    "  owner_id TEXT);"
    "CREATE TABLE todos(id TEXT PRIMARY KEY, created_at TEXT,"
    "  completed_at TEXT, description TEXT, completed INTEGER,"
    "  created_by TEXT, list_id TEXT, priority INTEGER, score REAL);"
    "INSERT INTO lists VALUES ('" LIST_1 "', '2026-11-26 10:00:00Z',"
    "  'Groceries', 'user-a');"
    "INSERT INTO lists VALUES ('" LIST_2 "', '2026-11-26 10:00:01Z',"
    "  'Work', 'user-b');"
    "INSERT INTO todos VALUES ('" MILK "', '2026-11-26 10:00:02Z', NULL,"
    "  'Buy milk', 0, 'user-a', '" LIST_1 "', 1, 1.5);"
    "INSERT INTO todos VALUES ('" EGGS "', '2026-11-26 10:00:03Z', NULL,"
    "  'Buy eggs', 1, 'user-a', '" LIST_1 "', NULL, NULL);"
    "INSERT INTO todos VALUES ('" REPORT "', '2026-11-26 10:00:04Z', NULL,"
    "  'Write report', 0, 'user-b', '" LIST_2 "', NULL, 0.25);";

/* --- Fixture ----------------------------------------------------------------
 */

struct fx {
  char path[1024];
  sqlite3 *ext; /* The external writer. */
  struct psd_sync_config *cfg;
  struct psd_storage *s;
};

static void ext_exec(struct fx *f, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(f->ext, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, msg);
    sqlite3_free(msg);
    fail();
  }
}

static int64_t ext_int(struct fx *f, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v;
  assert_int_equal(sqlite3_prepare_v2(f->ext, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* A copy of the first column of the first row (NULL: none); caller frees. */
static char *ext_text(struct fx *f, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *v = NULL;
  assert_int_equal(sqlite3_prepare_v2(f->ext, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

static void load_config(struct fx *f, const char *yaml) {
  char err[256] = "";
  if (psd_sync_config_load(yaml, strlen(yaml), f->ext, &f->cfg, err,
                           sizeof(err)) != 0) {
    fprintf(stderr, "config: %s\n", err);
    fail();
  }
}

static void open_storage(struct fx *f) {
  char err[256] = "";
  if (psd_storage_open(f->path, f->cfg, &f->s, err, sizeof(err)) != 0) {
    fprintf(stderr, "open: %s\n", err);
    fail();
  }
}

/* A fresh source database with the fixture's seed rows, its config and an
 * open storage. */
static void fx_open(struct fx *f, const char *name) {
  const char *dir = getenv("PS_TEST_DIR");
  char side[1100];
  memset(f, 0, sizeof(*f));
  snprintf(f->path, sizeof(f->path), "%s/storage_%s.db",
           dir && *dir ? dir : ".", name);
  unlink(f->path);
  snprintf(side, sizeof(side), "%s-wal", f->path);
  unlink(side);
  snprintf(side, sizeof(side), "%s-shm", f->path);
  unlink(side);
  assert_int_equal(sqlite3_open(f->path, &f->ext), SQLITE_OK);
  sqlite3_busy_timeout(f->ext, 5000);
  ext_exec(f, SCHEMA);
  load_config(f, CONFIG);
  open_storage(f);
}

static void fx_close(struct fx *f) {
  psd_storage_close(f->s);
  psd_sync_config_free(f->cfg);
  sqlite3_close(f->ext);
}

static void replicate(struct fx *f) {
  char err[256] = "";
  int64_t head = -1;
  if (psd_storage_replicate(f->s, &head, err, sizeof(err)) != 0) {
    fprintf(stderr, "replicate: %s\n", err);
    fail();
  }
  /* Other threads may have replicated since (concurrency test). */
  assert_true(head >= 0 && head <= psd_storage_head(f->s));
}

static void apply(struct fx *f, const char *json) {
  char err[256] = "";
  if (psd_storage_apply_batch(f->s, json, strlen(json), err, sizeof(err)) !=
      0) {
    fprintf(stderr, "apply_batch: %s\n", err);
    fail();
  }
}

/* --- Reading ops ------------------------------------------------------------
 */

struct op_copy {
  int64_t op_id;
  char op[8];
  char *type, *id, *subkey, *data;
  uint32_t checksum;
};

struct ops {
  struct op_copy v[256];
  size_t n;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int collect_op(void *user_data, const struct psd_op *op) {
  struct ops *out = user_data;
  struct op_copy *c;
  if (out->n == sizeof(out->v) / sizeof(out->v[0]))
    return 1;
  c = &out->v[out->n++];
  c->op_id = op->op_id;
  snprintf(c->op, sizeof(c->op), "%s", op->op);
  c->type = dup_or_null(op->object_type);
  c->id = dup_or_null(op->object_id);
  c->subkey = dup_or_null(op->subkey);
  c->data = dup_or_null(op->data);
  c->checksum = op->checksum;
  return 0;
}

static void ops_free(struct ops *o) {
  size_t i;
  for (i = 0; i < o->n; i++) {
    free(o->v[i].type);
    free(o->v[i].id);
    free(o->v[i].subkey);
    free(o->v[i].data);
  }
  o->n = 0;
}

/* Ops of bucket after `after` up to the head, read in pages of 2 so that
 * paging (has_more) is exercised everywhere. */
static void read_ops(struct fx *f, const char *bucket, int64_t after,
                     struct ops *out) {
  int64_t upto = psd_storage_head(f->s);
  int has_more = 1;
  out->n = 0;
  while (has_more) {
    size_t before = out->n;
    psd_storage_lock(f->s);
    assert_int_equal(psd_storage_ops_locked(f->s, bucket, after, upto, 2,
                                            collect_op, out, &has_more),
                     0);
    psd_storage_unlock(f->s);
    assert_true(out->n - before <= 2);
    if (has_more)
      assert_int_equal(out->n - before, 2);
    if (out->n > before)
      after = out->v[out->n - 1].op_id;
  }
}

static void bucket_state(struct fx *f, const char *bucket, uint32_t *checksum,
                         int64_t *count) {
  psd_storage_lock(f->s);
  assert_int_equal(
      psd_storage_bucket_state_locked(f->s, bucket, checksum, count), 0);
  psd_storage_unlock(f->s);
}

/* The bucket's checksum and count are those of its ops, ops ascend, and
 * every PUT/REMOVE carries the service's checksum. Returns the op count. */
static size_t check_bucket(struct fx *f, const char *bucket) {
  struct ops o;
  uint32_t sum = 0, checksum;
  int64_t count;
  size_t i;
  read_ops(f, bucket, 0, &o);
  for (i = 0; i < o.n; i++) {
    const struct op_copy *c = &o.v[i];
    sum += c->checksum;
    if (i > 0)
      assert_true(c->op_id > o.v[i - 1].op_id);
    assert_true(c->op_id <= psd_storage_head(f->s));
    if (strcmp(c->op, "PUT") == 0) {
      assert_non_null(c->data);
      assert_int_equal(c->checksum,
                       psd_op_checksum_put(c->type, c->id, c->data));
    } else if (strcmp(c->op, "REMOVE") == 0) {
      assert_null(c->data);
      assert_int_equal(c->checksum, psd_op_checksum_remove(c->subkey));
    } else {
      assert_null(c->type);
      assert_null(c->data);
    }
  }
  bucket_state(f, bucket, &checksum, &count);
  assert_int_equal(checksum, sum);
  assert_int_equal(count, (int64_t)o.n);
  ops_free(&o);
  return i;
}

/* The last op of bucket (by op id); caller ops_free()s. */
static const struct op_copy *last_op(struct fx *f, const char *bucket,
                                     struct ops *o) {
  read_ops(f, bucket, 0, o);
  assert_true(o->n > 0);
  return &o->v[o->n - 1];
}

/* --- A model client (core-sync.md 12.2) -----------------------------------
 */

struct model_row {
  char *bucket, *key, *type, *id, *data;
  uint32_t checksum;
};

struct model_bucket {
  char name[64];
  uint32_t add;
  int64_t after;
};

struct model {
  struct model_row rows[256];
  size_t n;
  struct model_bucket buckets[8];
  size_t nb;
};

static struct model_bucket *model_bucket(struct model *m, const char *name) {
  size_t i;
  for (i = 0; i < m->nb; i++)
    if (strcmp(m->buckets[i].name, name) == 0)
      return &m->buckets[i];
  assert_true(m->nb < 8);
  memset(&m->buckets[m->nb], 0, sizeof(m->buckets[0]));
  snprintf(m->buckets[m->nb].name, sizeof(m->buckets[0].name), "%s", name);
  return &m->buckets[m->nb++];
}

static void model_drop(struct model *m, size_t i) {
  free(m->rows[i].bucket);
  free(m->rows[i].key);
  free(m->rows[i].type);
  free(m->rows[i].id);
  free(m->rows[i].data);
  m->rows[i] = m->rows[--m->n];
}

/* Supersedes the row of key in bucket: its checksum moves to add. */
static void model_supersede(struct model *m, struct model_bucket *b,
                            const char *key) {
  size_t i;
  for (i = 0; i < m->n; i++) {
    if (strcmp(m->rows[i].bucket, b->name) == 0 &&
        strcmp(m->rows[i].key, key) == 0) {
      b->add += m->rows[i].checksum;
      model_drop(m, i);
      return;
    }
  }
}

static void model_apply(struct model *m, const char *bucket,
                        const struct op_copy *op) {
  struct model_bucket *b = model_bucket(m, bucket);
  char key[512];
  size_t i;
  b->after = op->op_id;
  if (strcmp(op->op, "MOVE") == 0) {
    b->add += op->checksum;
    return;
  }
  if (strcmp(op->op, "CLEAR") == 0) {
    for (i = m->n; i-- > 0;)
      if (strcmp(m->rows[i].bucket, bucket) == 0)
        model_drop(m, i);
    b->add = op->checksum;
    return;
  }
  snprintf(key, sizeof(key), "%s/%s/%s", op->type, op->id,
           op->subkey ? op->subkey : "null");
  model_supersede(m, b, key);
  if (strcmp(op->op, "REMOVE") == 0) {
    b->add += op->checksum;
    return;
  }
  assert_string_equal(op->op, "PUT");
  assert_true(m->n < 256);
  m->rows[m->n].bucket = strdup(bucket);
  m->rows[m->n].key = strdup(key);
  m->rows[m->n].type = strdup(op->type);
  m->rows[m->n].id = strdup(op->id);
  m->rows[m->n].data = strdup(op->data);
  m->rows[m->n].checksum = op->checksum;
  m->n++;
}

/* Downloads what is new in bucket since the model's position, then checks
 * the model's checksum against the bucket's. */
static void model_sync(struct model *m, struct fx *f, const char *bucket) {
  struct model_bucket *b = model_bucket(m, bucket);
  struct ops o;
  uint32_t sum, checksum;
  int64_t count;
  size_t i;
  read_ops(f, bucket, b->after, &o);
  for (i = 0; i < o.n; i++)
    model_apply(m, bucket, &o.v[i]);
  ops_free(&o);
  sum = b->add;
  for (i = 0; i < m->n; i++)
    if (strcmp(m->rows[i].bucket, bucket) == 0)
      sum += m->rows[i].checksum;
  bucket_state(f, bucket, &checksum, &count);
  assert_int_equal(sum, checksum);
}

static void model_free(struct model *m) {
  while (m->n)
    model_drop(m, 0);
  m->nb = 0;
}

/* The model holds exactly the objects the source rows put in the bucket:
 * one row per source row of the bucket's query, with the data the config
 * evaluates now (the membership table) and the row's current values. */
static void model_matches_source(struct model *m, struct fx *f,
                                 const char *bucket, const char *count_sql) {
  size_t i, n = 0;
  for (i = 0; i < m->n; i++) {
    char *sql, *data;
    if (strcmp(m->rows[i].bucket, bucket) != 0)
      continue;
    n++;
    sql = sqlite3_mprintf(
        "SELECT data FROM _powersync_current WHERE bucket = %Q AND "
        "object_type = %Q AND object_id = %Q",
        bucket, m->rows[i].type, m->rows[i].id);
    data = ext_text(f, sql);
    sqlite3_free(sql);
    assert_non_null(data);
    assert_string_equal(m->rows[i].data, data);
    free(data);
    sql = sqlite3_mprintf("SELECT count(*) FROM \"%w\" WHERE id = %Q",
                          m->rows[i].type, m->rows[i].id);
    assert_int_equal(ext_int(f, sql), 1);
    sqlite3_free(sql);
  }
  assert_int_equal((int64_t)n, ext_int(f, count_sql));
}

/* --- Snapshot and replication ---------------------------------------------
 */

static void snapshot_of_existing_rows(void **state) {
  struct fx f;
  struct ops o;
  size_t i;
  (void)state;
  fx_open(&f, "snapshot");
  assert_int_equal(psd_storage_head(f.s), 5);
  assert_int_equal(check_bucket(&f, GLOBAL), 2);
  assert_int_equal(check_bucket(&f, TODOS_A), 2);
  assert_int_equal(check_bucket(&f, TODOS_B), 1);
  read_ops(&f, TODOS_B, 0, &o);
  assert_string_equal(o.v[0].op, "PUT");
  assert_string_equal(o.v[0].type, "todos");
  assert_string_equal(o.v[0].id, REPORT);
  assert_string_equal(o.v[0].subkey, "todos/" REPORT);
  assert_non_null(strstr(o.v[0].data, "\"Write report\""));
  ops_free(&o);
  read_ops(&f, GLOBAL, 0, &o);
  for (i = 0; i < o.n; i++)
    assert_string_equal(o.v[i].type, "lists");
  ops_free(&o);
  /* A bucket without ops reads as 0/0. */
  {
    uint32_t cs = 1;
    int64_t count = 1;
    bucket_state(&f, "1#user_todos[\"nobody\"]", &cs, &count);
    assert_int_equal(cs, 0);
    assert_int_equal(count, 0);
  }
  fx_close(&f);
}

static void external_insert_update_delete(void **state) {
  struct fx f;
  struct ops o;
  const struct op_copy *op;
  int64_t head;
  (void)state;
  fx_open(&f, "external");
  ext_exec(&f, "INSERT INTO lists VALUES ('33333333', NULL, 'Holiday',"
               " 'user-a');"
               "INSERT INTO todos(id, description, created_by, list_id) "
               "VALUES ('t3', 'Book flights', 'user-a', '33333333')");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 7);
  op = last_op(&f, GLOBAL, &o);
  assert_string_equal(op->op, "PUT");
  assert_string_equal(op->id, "33333333");
  ops_free(&o);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->id, "t3");
  assert_non_null(strstr(op->data, "Book flights"));
  ops_free(&o);

  /* An update sends the whole row again under the same subkey. */
  ext_exec(&f, "UPDATE todos SET completed = 1 WHERE id = '" MILK "'");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 8);
  op = last_op(&f, TODOS_A, &o);
  assert_int_equal(op->op_id, 8);
  assert_string_equal(op->op, "PUT");
  assert_string_equal(op->subkey, "todos/" MILK);
  ops_free(&o);

  /* An update that changes nothing a query selects: no op. */
  ext_exec(&f, "UPDATE todos SET description = description");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 8);

  /* Delete: a REMOVE with the subkey's checksum. */
  ext_exec(&f, "DELETE FROM todos WHERE id = '" EGGS "'");
  replicate(&f);
  op = last_op(&f, TODOS_A, &o);
  assert_int_equal(op->op_id, 9);
  assert_string_equal(op->op, "REMOVE");
  assert_string_equal(op->id, EGGS);
  assert_string_equal(op->subkey, "todos/" EGGS);
  assert_null(op->data);
  ops_free(&o);

  /* Several changes to one row in one replication: one op. */
  head = psd_storage_head(f.s);
  ext_exec(&f, "UPDATE todos SET priority = 2 WHERE id = 't3';"
               "UPDATE todos SET priority = 3 WHERE id = 't3'");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), head + 1);
  op = last_op(&f, TODOS_A, &o);
  assert_non_null(strstr(op->data, "\"priority\":3"));
  ops_free(&o);

  /* Insert then delete before replication: nothing to send. */
  head = psd_storage_head(f.s);
  ext_exec(&f, "INSERT INTO todos(id, created_by) VALUES ('gone', 'user-a');"
               "DELETE FROM todos WHERE id = 'gone'");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), head);

  check_bucket(&f, GLOBAL);
  check_bucket(&f, TODOS_A);
  check_bucket(&f, TODOS_B);
  fx_close(&f);
}

static void membership_change_moves_between_buckets(void **state) {
  struct fx f;
  struct ops o;
  const struct op_copy *op;
  (void)state;
  fx_open(&f, "membership");
  ext_exec(&f, "UPDATE todos SET created_by = 'user-b' WHERE id = '" MILK "'");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 7);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->op, "REMOVE");
  assert_string_equal(op->id, MILK);
  assert_int_equal(op->op_id, 6);
  ops_free(&o);
  op = last_op(&f, TODOS_B, &o);
  assert_string_equal(op->op, "PUT");
  assert_string_equal(op->id, MILK);
  assert_int_equal(op->op_id, 7);
  ops_free(&o);
  /* Out of every bucket: a todo of nobody's. */
  ext_exec(&f, "UPDATE todos SET created_by = NULL WHERE id = '" REPORT "'");
  replicate(&f);
  op = last_op(&f, TODOS_B, &o);
  assert_string_equal(op->op, "REMOVE");
  assert_string_equal(op->id, REPORT);
  ops_free(&o);
  /* Changing the id: the old object goes, the new one comes. */
  ext_exec(&f, "UPDATE lists SET id = 'renamed' WHERE id = '" LIST_2 "'");
  replicate(&f);
  read_ops(&f, GLOBAL, psd_storage_head(f.s) - 2, &o);
  assert_int_equal(o.n, 2);
  assert_string_equal(o.v[0].op, "REMOVE");
  assert_string_equal(o.v[0].id, LIST_2);
  assert_string_equal(o.v[1].op, "PUT");
  assert_string_equal(o.v[1].id, "renamed");
  assert_string_equal(o.v[1].subkey, "lists/renamed");
  ops_free(&o);
  /* INSERT OR REPLACE gives the row a new rowid without a delete trigger:
   * still one PUT under the same subkey. */
  ext_exec(&f, "INSERT OR REPLACE INTO lists(id, name, owner_id) "
               "VALUES ('" LIST_1 "', 'Replaced', 'user-a')");
  replicate(&f);
  op = last_op(&f, GLOBAL, &o);
  assert_string_equal(op->op, "PUT");
  assert_string_equal(op->subkey, "lists/" LIST_1);
  assert_non_null(strstr(op->data, "Replaced"));
  ops_free(&o);
  assert_int_equal(check_bucket(&f, GLOBAL), 5);
  assert_int_equal(check_bucket(&f, TODOS_A), 3);
  assert_int_equal(check_bucket(&f, TODOS_B), 3);
  fx_close(&f);
}

/* --- Write checkpoints -----------------------------------------------------
 */

static int64_t create_wc(struct fx *f, const char *user, const char *client) {
  char err[256] = "";
  int64_t v = -1;
  if (psd_storage_create_write_checkpoint(f->s, user, client, &v, err,
                                          sizeof(err)) != 0) {
    fprintf(stderr, "write checkpoint: %s\n", err);
    fail();
  }
  return v;
}

static int64_t lookup_wc(struct fx *f, const char *user, const char *client,
                         int64_t head) {
  int64_t v;
  psd_storage_lock(f->s);
  v = psd_storage_write_checkpoint_locked(f->s, user, client, head);
  psd_storage_unlock(f->s);
  return v;
}

static void write_checkpoints_per_key_and_head(void **state) {
  struct fx f;
  uint64_t gen;
  (void)state;
  fx_open(&f, "write_checkpoints");
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 5), 0);
  gen = psd_storage_generation(f.s);
  assert_int_equal(create_wc(&f, "user-a", "c1"), 1);
  /* Creating one wakes streams (a write-checkpoint-only diff). */
  assert_int_equal(psd_storage_wait(f.s, &gen, 0), 1);
  assert_int_equal(create_wc(&f, "user-a", "c1"), 2);
  assert_int_equal(create_wc(&f, "user-a", "c2"), 1);
  assert_int_equal(create_wc(&f, "user-b", "c1"), 1);
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 5), 2);
  assert_int_equal(lookup_wc(&f, "user-a", "c2", 5), 1);
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 4), 0);

  /* A pending write is replicated before the counter records the head. */
  ext_exec(&f, "UPDATE lists SET name = 'x' WHERE id = '" LIST_1 "'");
  assert_int_equal(create_wc(&f, "user-a", "c1"), 3);
  assert_int_equal(psd_storage_head(f.s), 6);
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 5), 2);
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 6), 3);
  assert_int_equal(lookup_wc(&f, "user-a", "c1", 100), 3);
  /* Without a client id the key is the user alone. */
  assert_int_equal(create_wc(&f, "user-a", NULL), 1);
  assert_int_equal(lookup_wc(&f, "user-a", NULL, 6), 1);
  fx_close(&f);
}

/* --- Uploads ----------------------------------------------------------------
 */

static void apply_batch_put_patch_delete(void **state) {
  struct fx f;
  struct ops o;
  const struct op_copy *op;
  char *text;
  (void)state;
  fx_open(&f, "apply_batch");
  apply(&f, "{\"batch\":["
            "{\"op\":\"PUT\",\"type\":\"todos\",\"id\":\"n1\",\"data\":"
            "{\"description\":\"New\",\"created_by\":\"user-a\","
            "\"completed\":true,\"score\":2.5,\"priority\":7,"
            "\"completed_at\":null,\"list_id\":{\"a\":[1,\"x\"]}}},"
            "{\"op\":\"PATCH\",\"type\":\"todos\",\"id\":\"" MILK "\","
            "\"data\":{\"description\":\"Buy oat milk\"}},"
            "{\"op\":\"DELETE\",\"type\":\"todos\",\"id\":\"" EGGS "\"}"
            "]}");
  assert_int_equal(ext_int(&f, "SELECT count(*) FROM todos WHERE id = 'n1' "
                               "AND completed = 1 AND typeof(completed) = "
                               "'integer' AND score = 2.5 AND priority = 7 "
                               "AND completed_at IS NULL"),
                   1);
  text = ext_text(&f, "SELECT list_id FROM todos WHERE id = 'n1'");
  assert_string_equal(text, "{\"a\":[1,\"x\"]}");
  free(text);
  text = ext_text(&f, "SELECT description FROM todos WHERE id = '" MILK "'");
  assert_string_equal(text, "Buy oat milk");
  free(text);
  /* PATCH leaves the other columns alone. */
  assert_int_equal(
      ext_int(&f, "SELECT priority FROM todos WHERE id = '" MILK "'"), 1);
  assert_int_equal(
      ext_int(&f, "SELECT count(*) FROM todos WHERE id = '" EGGS "'"), 0);
  /* Replicated as part of the upload. */
  assert_int_equal(psd_storage_head(f.s), 8);
  read_ops(&f, TODOS_A, 5, &o);
  assert_int_equal(o.n, 3);
  ops_free(&o);

  /* PUT of an existing id replaces the row (unset columns revert). */
  apply(&f, "{\"batch\":[{\"op\":\"PUT\",\"type\":\"todos\",\"id\":\"" MILK
            "\",\"data\":{\"description\":\"Fresh\",\"created_by\":"
            "\"user-a\"}}]}");
  assert_int_equal(ext_int(&f, "SELECT count(*) FROM todos WHERE id = '" MILK
                               "' AND priority IS NULL AND description = "
                               "'Fresh'"),
                   1);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->id, MILK);
  assert_non_null(strstr(op->data, "Fresh"));
  ops_free(&o);
  check_bucket(&f, TODOS_A);
  fx_close(&f);
}

static void apply_batch_errors_apply_nothing(void **state) {
  struct fx f;
  char err[256] = "";
  int64_t head;
  static const char unknown_column[] =
      "{\"batch\":["
      "{\"op\":\"PUT\",\"type\":\"todos\",\"id\":\"n2\",\"data\":"
      "{\"description\":\"first\"}},"
      "{\"op\":\"PATCH\",\"type\":\"todos\",\"id\":\"n2\",\"data\":"
      "{\"colour\":\"red\"}}]}";
  static const char unknown_table[] =
      "{\"batch\":[{\"op\":\"DELETE\",\"type\":\"nope\",\"id\":\"1\"}]}";
  static const char bad_op[] = "{\"batch\":[{\"op\":\"MERGE\"}]}";
  static const char internal_table[] =
      "{\"batch\":[{\"op\":\"DELETE\",\"type\":\"_powersync_ops\","
      "\"id\":\"1\"}]}";
  (void)state;
  fx_open(&f, "apply_errors");
  head = psd_storage_head(f.s);
  assert_int_equal(psd_storage_apply_batch(f.s, unknown_column,
                                           strlen(unknown_column), err,
                                           sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "colour"));
  assert_non_null(strstr(err, "todos"));
  assert_int_equal(ext_int(&f, "SELECT count(*) FROM todos WHERE id = 'n2'"),
                   0);
  assert_int_equal(psd_storage_head(f.s), head);
  assert_int_equal(psd_storage_apply_batch(f.s, unknown_table,
                                           strlen(unknown_table), err,
                                           sizeof(err)),
                   -1);
  assert_non_null(strstr(err, "nope"));
  assert_int_equal(psd_storage_apply_batch(f.s, internal_table,
                                           strlen(internal_table), err,
                                           sizeof(err)),
                   -1);
  assert_int_equal(
      psd_storage_apply_batch(f.s, "{\"batch\":", 9, err, sizeof(err)), -1);
  assert_int_equal(
      psd_storage_apply_batch(f.s, bad_op, strlen(bad_op), err, sizeof(err)),
      -1);
  assert_non_null(strstr(err, "PUT, PATCH or DELETE"));
  /* The storage still works after failed batches. */
  apply(&f, "{\"batch\":[{\"op\":\"DELETE\",\"type\":\"lists\",\"id\":\"" LIST_2
            "\"}]}");
  assert_int_equal(psd_storage_head(f.s), head + 1);
  fx_close(&f);
}

/* --- Compaction -------------------------------------------------------------
 */

static void churn(struct fx *f) {
  int i;
  char sql[256];
  for (i = 0; i < 4; i++) {
    snprintf(sql, sizeof(sql),
             "UPDATE todos SET priority = %d WHERE id = '" MILK "'", i + 10);
    ext_exec(f, sql);
    replicate(f);
  }
  ext_exec(f, "DELETE FROM todos WHERE id = '" EGGS "'");
  replicate(f);
  ext_exec(f, "INSERT INTO todos(id, description, created_by) "
              "VALUES ('t9', 'short-lived', 'user-a')");
  replicate(f);
  ext_exec(f, "DELETE FROM todos WHERE id = 't9'");
  replicate(f);
  ext_exec(f, "UPDATE lists SET name = 'Groceries (weekly)' WHERE id = '" LIST_1
              "'");
  replicate(f);
}

#define TODOS_A_COUNT "SELECT count(*) FROM todos WHERE created_by = 'user-a'"
#define LISTS_COUNT   "SELECT count(*) FROM lists"

static void compact(struct fx *f) {
  char err[256] = "";
  if (psd_storage_compact(f->s, err, sizeof(err)) != 0) {
    fprintf(stderr, "compact: %s\n", err);
    fail();
  }
}

static void compaction_keeps_checksums_and_live_rows(void **state) {
  struct fx f;
  struct model before = {0}, after = {0};
  struct ops o;
  uint32_t cs_before, cs_after;
  int64_t count_before, count_after, head;
  size_t i, puts = 0;
  (void)state;
  fx_open(&f, "compaction");
  /* A client that synced the snapshot only... */
  model_sync(&before, &f, TODOS_A);
  model_sync(&before, &f, GLOBAL);
  churn(&f);
  head = psd_storage_head(f.s);
  bucket_state(&f, TODOS_A, &cs_before, &count_before);
  compact(&f);
  bucket_state(&f, TODOS_A, &cs_after, &count_after);
  assert_int_equal(cs_after, cs_before);
  assert_true(count_after < count_before);
  assert_int_equal(psd_storage_head(f.s), head);
  assert_int_equal(check_bucket(&f, TODOS_A), count_after);
  check_bucket(&f, GLOBAL);
  check_bucket(&f, TODOS_B);

  /* ...one PUT per live object is left, and it is the latest. */
  read_ops(&f, TODOS_A, 0, &o);
  for (i = 0; i < o.n; i++) {
    if (strcmp(o.v[i].op, "PUT") == 0) {
      char *sql = sqlite3_mprintf("SELECT count(*) FROM _powersync_current "
                                  "WHERE bucket = %Q AND object_id = %Q AND "
                                  "op_id = %lld",
                                  TODOS_A, o.v[i].id, (long long)o.v[i].op_id);
      assert_int_equal(ext_int(&f, sql), 1);
      sqlite3_free(sql);
      puts++;
    }
  }
  assert_int_equal((int64_t)puts, ext_int(&f, TODOS_A_COUNT));
  /* Deleted objects left nothing but checksums: the leading run became
   * one CLEAR. */
  assert_string_equal(o.v[0].op, "CLEAR");
  ops_free(&o);

  /* ...catches up after compaction, and a fresh client syncs from 0: both
   * hold the source's rows with matching checksums. */
  model_sync(&before, &f, TODOS_A);
  model_sync(&before, &f, GLOBAL);
  model_matches_source(&before, &f, TODOS_A, TODOS_A_COUNT);
  model_matches_source(&before, &f, GLOBAL, LISTS_COUNT);
  model_sync(&after, &f, TODOS_A);
  model_sync(&after, &f, GLOBAL);
  model_matches_source(&after, &f, TODOS_A, TODOS_A_COUNT);
  model_matches_source(&after, &f, GLOBAL, LISTS_COUNT);

  /* Compacting again changes nothing; new ops keep working. */
  compact(&f);
  bucket_state(&f, TODOS_A, &cs_after, &count_before);
  assert_int_equal(count_before, count_after);
  ext_exec(&f, "DELETE FROM todos WHERE created_by = 'user-a'");
  replicate(&f);
  compact(&f);
  read_ops(&f, TODOS_A, 0, &o);
  assert_int_equal(o.n, 1);
  assert_string_equal(o.v[0].op, "CLEAR");
  assert_int_equal(o.v[0].op_id, psd_storage_head(f.s));
  ops_free(&o);
  model_sync(&before, &f, TODOS_A);
  model_matches_source(&before, &f, TODOS_A, TODOS_A_COUNT);
  model_free(&before);
  model_free(&after);
  fx_close(&f);
}

/* A client midway through the ops when compaction runs (its position is
 * inside what becomes the CLEAR) still converges. */
static void compaction_with_client_midway(void **state) {
  struct fx f;
  struct model m = {0};
  uint32_t cs_before, cs_after;
  int64_t count;
  (void)state;
  fx_open(&f, "compaction_midway");
  churn(&f);
  model_sync(&m, &f, TODOS_A);
  ext_exec(&f, "DELETE FROM todos WHERE id = '" MILK "'");
  replicate(&f);
  ext_exec(&f, "INSERT INTO todos(id, description, created_by) "
               "VALUES ('t10', 'after', 'user-a')");
  replicate(&f);
  bucket_state(&f, TODOS_A, &cs_before, &count);
  compact(&f);
  bucket_state(&f, TODOS_A, &cs_after, &count);
  assert_int_equal(cs_after, cs_before);
  model_sync(&m, &f, TODOS_A);
  model_matches_source(&m, &f, TODOS_A, TODOS_A_COUNT);
  model_free(&m);
  fx_close(&f);
}

/* --- Waiting ----------------------------------------------------------------
 */

struct waiter {
  struct psd_storage *s;
  uint64_t gen;
  int timeout_ms;
  int result;
};

static void *wait_thread(void *arg) {
  struct waiter *w = arg;
  w->result = psd_storage_wait(w->s, &w->gen, w->timeout_ms);
  return NULL;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wait_wakes_on_replicate_and_times_out(void **state) {
  struct fx f;
  struct waiter w;
  pthread_t t;
  uint64_t gen;
  int64_t start;
  (void)state;
  fx_open(&f, "wait");
  /* A zero generation always sees a change at once. */
  gen = 0;
  assert_int_equal(psd_storage_wait(f.s, &gen, 1000), 1);
  assert_int_equal(gen, psd_storage_generation(f.s));
  /* Nothing happens: a timeout after about the time asked for. */
  start = now_ms();
  assert_int_equal(psd_storage_wait(f.s, &gen, 100), 0);
  assert_true(now_ms() - start >= 90);
  /* Replicating nothing wakes nobody. */
  replicate(&f);
  assert_int_equal(psd_storage_wait(f.s, &gen, 0), 0);

  w.s = f.s;
  w.gen = gen;
  w.timeout_ms = 30000;
  w.result = -2;
  assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
  ext_exec(&f, "INSERT INTO lists(id, name) VALUES ('w1', 'wake')");
  replicate(&f);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(w.result, 1);
  assert_int_equal(w.gen, psd_storage_generation(f.s));

  /* Close wakes a waiter with -1. */
  w.gen = psd_storage_generation(f.s);
  w.timeout_ms = -1;
  w.result = -2;
  assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
  while (psd_storage_waiter_count(f.s) == 0) {
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
  }
  fx_close(&f);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(w.result, -1);
}

/* --- Concurrency -----------------------------------------------------------
 */

struct worker {
  struct fx *f;
  int id;
  int stop_waiting;
};

/* Uploads 20 batches of one todo each. */
static void *upload_thread(void *arg) {
  struct worker *w = arg;
  char json[256], err[256];
  int i;
  for (i = 0; i < 20; i++) {
    snprintf(json, sizeof(json),
             "{\"batch\":[{\"op\":\"PUT\",\"type\":\"todos\",\"id\":"
             "\"w%d-%d\",\"data\":{\"created_by\":\"user-a\"}}]}",
             w->id, i);
    assert_int_equal(
        psd_storage_apply_batch(w->f->s, json, strlen(json), err, sizeof(err)),
        0);
  }
  return NULL;
}

/* Reads checkpoints like a stream: state and ops at one head, then waits. */
static void *reader_thread(void *arg) {
  struct worker *w = arg;
  uint64_t gen = 0;
  int i;
  for (i = 0; i < 40; i++) {
    struct ops o;
    uint32_t cs, sum = 0;
    int64_t count, head;
    int has_more;
    size_t k;
    psd_storage_lock(w->f->s);
    head = psd_storage_head(w->f->s);
    assert_int_equal(
        psd_storage_bucket_state_locked(w->f->s, TODOS_A, &cs, &count), 0);
    o.n = 0;
    assert_int_equal(psd_storage_ops_locked(w->f->s, TODOS_A, 0, head, 256,
                                            collect_op, &o, &has_more),
                     0);
    psd_storage_unlock(w->f->s);
    for (k = 0; k < o.n; k++)
      sum += o.v[k].checksum;
    assert_int_equal(sum, cs);
    assert_int_equal((int64_t)o.n, count);
    ops_free(&o);
    psd_storage_wait(w->f->s, &gen, 20);
  }
  return NULL;
}

static void concurrent_uploads_readers_and_writers(void **state) {
  struct fx f;
  struct worker w[3];
  pthread_t t[3];
  int i;
  (void)state;
  fx_open(&f, "concurrent");
  for (i = 0; i < 3; i++) {
    w[i].f = &f;
    w[i].id = i;
    assert_int_equal(pthread_create(&t[i], NULL,
                                    i < 2 ? upload_thread : reader_thread,
                                    &w[i]),
                     0);
  }
  /* Meanwhile an external writer and the poller. */
  for (i = 0; i < 20; i++) {
    char sql[128];
    snprintf(sql, sizeof(sql),
             "INSERT INTO lists(id, name) VALUES ('c%d', 'concurrent')", i);
    ext_exec(&f, sql);
    replicate(&f);
  }
  for (i = 0; i < 3; i++)
    assert_int_equal(pthread_join(t[i], NULL), 0);
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 5 + 40 + 20);
  assert_int_equal(check_bucket(&f, TODOS_A), 42);
  assert_int_equal(check_bucket(&f, GLOBAL), 22);
  fx_close(&f);
}

/* --- Reopening --------------------------------------------------------------
 */

static void reopen_keeps_state(void **state) {
  struct fx f;
  struct ops o;
  const struct op_copy *op;
  uint32_t cs1, cs2;
  int64_t n1, n2;
  (void)state;
  fx_open(&f, "reopen");
  ext_exec(&f, "UPDATE todos SET completed = 1 WHERE id = '" MILK "'");
  replicate(&f);
  assert_int_equal(create_wc(&f, "user-a", "c"), 1);
  bucket_state(&f, TODOS_A, &cs1, &n1);
  psd_storage_close(f.s);
  /* Written while the server was down: the triggers stay in the file. */
  ext_exec(&f,
           "UPDATE todos SET description = 'offline' WHERE id = '" EGGS "'");
  open_storage(&f);
  assert_int_equal(psd_storage_head(f.s), 7);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->id, EGGS);
  assert_int_equal(op->op_id, 7);
  ops_free(&o);
  bucket_state(&f, TODOS_A, &cs2, &n2);
  assert_int_equal(n2, n1 + 1);
  assert_int_equal(create_wc(&f, "user-a", "c"), 2);
  /* Reopening again re-evaluates everything and finds nothing new. */
  psd_storage_close(f.s);
  open_storage(&f);
  assert_int_equal(psd_storage_head(f.s), 7);
  ext_exec(&f, "INSERT INTO lists(id, name) VALUES ('r1', 'after reopen')");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 8);
  check_bucket(&f, GLOBAL);
  check_bucket(&f, TODOS_A);
  assert_int_equal(lookup_wc(&f, "user-a", "c", 8), 2);
  fx_close(&f);
}

/* Two storages on one file (a running server and `powersync-devserver
 * compact`): each takes the next op id after the stored head, whichever
 * replicated last, and the one that did not replicate still notices the
 * new head (its waiters wake, so live streams send a checkpoint). */
static void second_storage_on_same_file(void **state) {
  struct fx f;
  struct psd_storage *other = NULL;
  struct ops o;
  const struct op_copy *op;
  char err[256] = "";
  int64_t head;
  uint64_t gen;
  (void)state;
  fx_open(&f, "two_storages");
  head = psd_storage_head(f.s);
  gen = psd_storage_generation(f.s);
  ext_exec(&f, "UPDATE todos SET completed = 1 WHERE id = '" MILK "'");
  assert_int_equal(psd_storage_open(f.path, f.cfg, &other, err, sizeof(err)),
                   0);
  assert_int_equal(psd_storage_head(other), head + 1);
  replicate(&f); /* Nothing pending: only adopts the new head. */
  assert_int_equal(psd_storage_head(f.s), head + 1);
  assert_int_equal(psd_storage_wait(f.s, &gen, 0), 1);
  apply(&f, "{\"batch\":[{\"op\":\"PATCH\",\"type\":\"todos\","
            "\"id\":\"" EGGS "\",\"data\":{\"completed\":0}}]}");
  assert_int_equal(psd_storage_head(f.s), head + 2);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->id, EGGS);
  assert_int_equal(op->op_id, head + 2);
  ops_free(&o);
  ext_exec(&f, "UPDATE todos SET completed = 0 WHERE id = '" MILK "'");
  assert_int_equal(psd_storage_replicate(other, &head, err, sizeof(err)), 0);
  assert_int_equal(head, psd_storage_head(f.s) + 1);
  psd_storage_close(other);
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), head);
  check_bucket(&f, TODOS_A);
  fx_close(&f);
}

/* A config that stops reading a table: on reopen, its rows leave their
 * buckets (REMOVEs) and its triggers are gone. */
static void reopen_with_changed_config(void **state) {
  struct fx f;
  struct ops o;
  const struct op_copy *op;
  (void)state;
  fx_open(&f, "config_change");
  psd_storage_close(f.s);
  psd_sync_config_free(f.cfg);
  load_config(&f, CONFIG_LISTS_ONLY);
  open_storage(&f);
  assert_int_equal(psd_storage_head(f.s), 8);
  op = last_op(&f, TODOS_A, &o);
  assert_string_equal(op->op, "REMOVE");
  ops_free(&o);
  op = last_op(&f, TODOS_B, &o);
  assert_string_equal(op->op, "REMOVE");
  ops_free(&o);
  check_bucket(&f, TODOS_A);
  assert_int_equal(ext_int(&f, "SELECT count(*) FROM sqlite_master WHERE "
                               "type = 'trigger' AND tbl_name = 'todos'"),
                   0);
  ext_exec(&f, "INSERT INTO todos(id, created_by) VALUES ('x', 'user-a')");
  replicate(&f);
  assert_int_equal(psd_storage_head(f.s), 8);
  assert_int_equal(ext_int(&f, "SELECT count(*) FROM _powersync_changes"), 0);
  fx_close(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(snapshot_of_existing_rows),
      cmocka_unit_test(external_insert_update_delete),
      cmocka_unit_test(membership_change_moves_between_buckets),
      cmocka_unit_test(write_checkpoints_per_key_and_head),
      cmocka_unit_test(apply_batch_put_patch_delete),
      cmocka_unit_test(apply_batch_errors_apply_nothing),
      cmocka_unit_test(compaction_keeps_checksums_and_live_rows),
      cmocka_unit_test(second_storage_on_same_file),
      cmocka_unit_test(compaction_with_client_midway),
      cmocka_unit_test(wait_wakes_on_replicate_and_times_out),
      cmocka_unit_test(concurrent_uploads_readers_and_writers),
      cmocka_unit_test(reopen_keeps_state),
      cmocka_unit_test(reopen_with_changed_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
