/*
 * crud.c: reading and completing the upload queue (include/powersync/crud.h;
 * sdk.md sections 11.1 to 11.3, core-storage.md 9.1 and 9.5).
 *
 * The core's triggers record every local write of a synced table as one
 * ps_crud row (id AUTOINCREMENT, tx_id, data JSON). The application reads
 * entries from the head of the queue in id order, sends them to its backend
 * and completes them, which deletes them and moves the local write target
 * that gates applying downloaded checkpoints.
 *
 * HOW IT WORKS
 * Reads run in one read transaction, so a batch is a consistent snapshot.
 * A batch always covers every row whose id lies between its first and last
 * entry: batches are taken from the head in id order, and a transaction is
 * followed through consecutive ids with the same tx_id (a recursive CTE
 * joining id + 1, so no index on tx_id is needed). Because ps_crud ids are
 * AUTOINCREMENT they are never reused, which makes this check at completion
 * exact: the batch is still the head of the queue and still whole iff the
 * smallest id in ps_crud is the batch's first id and exactly count rows have
 * an id up to its last. Anything else (completed before, by this or another
 * batch read concurrently; an earlier batch still pending; entries removed
 * by powersync_db_clear) is POWERSYNC_ECONFLICT, found inside the same write
 * transaction that deletes, so two threads completing batches race safely:
 * the writer serialises them and the loser changes nothing.
 *
 * Completion then sets the local write target (K/D/S behaviour of sdk.md
 * 11.3): the custom write checkpoint when one is given and the queue is now
 * empty, MAX_OP_ID ("uploads happened, ask for a checkpoint") otherwise.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "sdk_internal.h"

/* The largest op id: the local write target meaning "local writes exist, no
 * concrete write checkpoint yet" (core-storage.md 9.3). */
#define PS_CRUD_MAX_OP_ID INT64_MAX

/* Other SDKs estimate a queue entry's size as its data plus this overhead
 * for the id, tx_id and row bookkeeping (sdk.md section 5). */
#define PS_CRUD_ENTRY_OVERHEAD 20

/* Room for one error message captured inside a transaction callback: SQLite
 * messages and our own one-line messages fit comfortably. */
#define PS_CRUD_MSG_MAX 512

/* Bound of one entry's JSON form: ps_crud rows are row-sized, far below. */
#define PS_CRUD_JSON_MAX ((size_t)1 << 30)

/* An op id needs at most 19 decimal digits (INT64_MAX). */
#define PS_CRUD_MAX_DIGITS 19

struct powersync_crud_batch {
  powersync_db *db;
  struct ps__arena arena; /* Every string of every entry. */
  powersync_crud_entry *entries;
  size_t count;
  size_t cap;
  int has_more;
  int completed;
};

struct powersync_crud_iter {
  powersync_db *db;
  int64_t after; /* Id of the last entry returned so far (0: none). */
};

/* ---- Errors met inside transaction callbacks ---------------------------- */

/* A failure inside a transaction callback: the transaction function reports
 * POWERSYNC_EUSER for it, so the real code and message travel here and are
 * set as the thread's error afterwards. */
struct ps__crud_status {
  int rc;
  char msg[PS_CRUD_MSG_MAX];
};

static int status_set(struct ps__crud_status *st, int code, const char *fmt,
                      ...) PS_PRINTF(3, 4);

static int status_set(struct ps__crud_status *st, int code, const char *fmt,
                      ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
  va_end(ap);
  st->rc = code;
  return code;
}

static int status_sqlite(struct ps__crud_status *st, sqlite3 *conn, int rc) {
  int code = sqlite3_extended_errcode(conn);
  if ((code & 0xff) != (rc & 0xff))
    code = rc;
  if ((code & 0xff) == SQLITE_NOMEM)
    return status_set(st, POWERSYNC_ENOMEM, "out of memory");
  return status_set(st, code, "%s", sqlite3_errmsg(conn));
}

/* The result of a transaction whose callback recorded st. */
static int status_report(const struct ps__crud_status *st, int tx_rc) {
  if (st->rc != POWERSYNC_OK)
    return ps__error_set(st->rc, "%s", st->msg);
  return tx_rc;
}

/* ---- Batches --------------------------------------------------------------
 */

static powersync_crud_batch *batch_new(powersync_db *db) {
  powersync_crud_batch *b = calloc(1, sizeof(*b));
  if (!b)
    return NULL;
  b->db = db;
  ps__arena_init(&b->arena, 0);
  return b;
}

void powersync_crud_batch_free(powersync_crud_batch *b) {
  if (!b)
    return;
  ps__arena_free(&b->arena);
  free(b->entries);
  free(b);
}

size_t powersync_crud_batch_count(const powersync_crud_batch *b) {
  return b ? b->count : 0;
}

const powersync_crud_entry *
powersync_crud_batch_entry(const powersync_crud_batch *b, size_t i) {
  if (!b || i >= b->count)
    return NULL;
  return &b->entries[i];
}

int powersync_crud_batch_has_more(const powersync_crud_batch *b) {
  return b ? b->has_more : 0;
}

static powersync_crud_entry *batch_push(powersync_crud_batch *b) {
  if (b->count == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    powersync_crud_entry *grown = realloc(b->entries, cap * sizeof(*grown));
    if (!grown)
      return NULL;
    b->entries = grown;
    b->cap = cap;
  }
  memset(&b->entries[b->count], 0, sizeof(b->entries[0]));
  return &b->entries[b->count++];
}

/* ---- One ps_crud row -> one entry ---------------------------------------- */

static int parse_op(const char *op, powersync_crud_op *out) {
  if (strcmp(op, "PUT") == 0)
    *out = POWERSYNC_CRUD_PUT;
  else if (strcmp(op, "PATCH") == 0)
    *out = POWERSYNC_CRUD_PATCH;
  else if (strcmp(op, "DELETE") == 0)
    *out = POWERSYNC_CRUD_DELETE;
  else
    return -1;
  return 0;
}

/* A string member of the row's JSON copied into the batch, or NULL. */
static const char *string_member(powersync_crud_batch *b,
                                 const struct ps__json_value *obj,
                                 const char *key) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  if (!v || v->type != PS_JSON_STRING)
    return NULL;
  return ps__arena_strndup(&b->arena, v->as.str.ptr, v->as.str.len);
}

/* The text of an embedded JSON value (data, old) exactly as stored, so the
 * application sees the core's number formatting and key order; NULL when
 * absent or null. ok is cleared when out of memory. */
static const char *raw_member(powersync_crud_batch *b, const char *text,
                              const struct ps__json_value *obj, const char *key,
                              int *ok) {
  const struct ps__json_value *v = ps__json_get(obj, key);
  const char *copy;
  if (!v || v->type == PS_JSON_NULL)
    return NULL;
  copy = ps__arena_strndup(&b->arena, text + v->start, v->end - v->start);
  if (!copy)
    *ok = 0;
  return copy;
}

const char *powersync_crud_op_name(powersync_crud_op op) {
  switch (op) {
  case POWERSYNC_CRUD_PUT:
    return "PUT";
  case POWERSYNC_CRUD_PATCH:
    return "PATCH";
  case POWERSYNC_CRUD_DELETE:
    return "DELETE";
  }
  return "";
}

static void write_member_key(struct ps__buf *out, const char *key) {
  ps__buf_putc(out, ',');
  ps__json_write_string(out, key, strlen(key));
  ps__buf_putc(out, ':');
}

/* The entry's JSON form {op_id, op, type, id, tx_id, data, old, metadata}
 * (sdk.md 11.2, J's CrudEntry.toJSON); absent members are left out, a
 * legacy row's tx_id is null. */
static const char *entry_json(powersync_crud_batch *b,
                              const powersync_crud_entry *e, int has_tx) {
  struct ps__buf out;
  const char *copy;
  ps__buf_init(&out, PS_CRUD_JSON_MAX);
  ps__buf_printf(&out, "{\"op_id\":%lld", (long long)e->client_id);
  write_member_key(&out, "op");
  ps__buf_puts(&out, "\"");
  ps__buf_puts(&out, powersync_crud_op_name(e->op));
  ps__buf_puts(&out, "\"");
  write_member_key(&out, "type");
  ps__json_write_string(&out, e->table, strlen(e->table));
  write_member_key(&out, "id");
  ps__json_write_string(&out, e->id, strlen(e->id));
  write_member_key(&out, "tx_id");
  if (has_tx)
    ps__buf_printf(&out, "%lld", (long long)e->transaction_id);
  else
    ps__buf_puts(&out, "null");
  if (e->data) {
    write_member_key(&out, "data");
    ps__buf_puts(&out, e->data);
  }
  if (e->previous_values) {
    write_member_key(&out, "old");
    ps__buf_puts(&out, e->previous_values);
  }
  if (e->metadata) {
    write_member_key(&out, "metadata");
    ps__json_write_string(&out, e->metadata, strlen(e->metadata));
  }
  ps__buf_putc(&out, '}');
  copy = ps__buf_failed(&out)
             ? NULL
             : ps__arena_strndup(&b->arena, ps__buf_cstr(&out), out.len);
  ps__buf_free(&out);
  return copy;
}

/* Fills e from the row's data JSON (parsed in its own arena, so that only
 * the strings the entry keeps stay allocated). */
static int fill_entry(powersync_crud_batch *b, powersync_crud_entry *e,
                      const char *text, size_t len, int has_tx,
                      struct ps__crud_status *st) {
  struct ps__arena tmp;
  struct ps__json_value *root;
  char err[128];
  const char *op;
  int ok = 1;
  int rc = POWERSYNC_OK;
  ps__arena_init(&tmp, 0);
  root = ps__json_parse(&tmp, text, len, err, sizeof(err));
  if (!root || root->type != PS_JSON_OBJECT) {
    rc = status_set(st, POWERSYNC_ERROR,
                    "upload queue entry %lld is not a JSON object: %s",
                    (long long)e->client_id, root ? "wrong type" : err);
    goto done;
  }
  op = string_member(b, root, "op");
  e->table = string_member(b, root, "type");
  e->id = string_member(b, root, "id");
  if (!op || !e->table || !e->id || parse_op(op, &e->op) != 0) {
    rc = status_set(st, POWERSYNC_ERROR,
                    "upload queue entry %lld lacks a valid op, type or id",
                    (long long)e->client_id);
    goto done;
  }
  e->data = raw_member(b, text, root, "data", &ok);
  e->previous_values = raw_member(b, text, root, "old", &ok);
  e->metadata = string_member(b, root, "metadata");
  e->json = ok ? entry_json(b, e, has_tx) : NULL;
  if (!e->json)
    rc = status_set(st, POWERSYNC_ENOMEM, "out of memory");
done:
  ps__arena_free(&tmp);
  return rc;
}

/* Appends the current row of stmt (id, tx_id, data) to the batch. */
static int add_row(powersync_crud_batch *b, sqlite3_stmt *stmt,
                   struct ps__crud_status *st) {
  powersync_crud_entry *e = batch_push(b);
  const char *text;
  int has_tx;
  if (!e)
    return status_set(st, POWERSYNC_ENOMEM, "out of memory");
  e->client_id = sqlite3_column_int64(stmt, 0);
  has_tx = sqlite3_column_type(stmt, 1) != SQLITE_NULL;
  e->transaction_id = has_tx ? sqlite3_column_int64(stmt, 1) : 0;
  text = (const char *)sqlite3_column_text(stmt, 2);
  if (!text)
    return status_set(st, POWERSYNC_ERROR,
                      "upload queue entry %lld has no data",
                      (long long)e->client_id);
  return fill_entry(b, e, text, (size_t)sqlite3_column_bytes(stmt, 2), has_tx,
                    st);
}

/* Runs stmt to the end (or until max rows were added), appending rows.
 * *extra is set when a row beyond max was seen. */
static int add_rows(powersync_crud_batch *b, sqlite3 *conn, sqlite3_stmt *stmt,
                    size_t max, int *extra, struct ps__crud_status *st) {
  size_t added = 0;
  int rc;
  *extra = 0;
  for (rc = sqlite3_step(stmt); rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
    if (added == max) {
      *extra = 1;
      return POWERSYNC_OK;
    }
    if (add_row(b, stmt, st) != POWERSYNC_OK)
      return st->rc;
    added++;
  }
  if (rc != SQLITE_DONE)
    return status_sqlite(st, conn, rc);
  return POWERSYNC_OK;
}

/* ---- Reading ---------------------------------------------------------------
 */

/* Up to limit rows after the given id, plus one to learn whether more
 * follow (sdk.md 11.3 getCrudBatch). */
static const char SQL_BATCH[] =
    "SELECT id, tx_id, data FROM ps_crud WHERE id > ?1 ORDER BY id LIMIT ?2";

/* The transaction starting at the first row after ?1: consecutive ids with
 * the same tx_id. A NULL tx_id (legacy row) matches nothing, so such a row
 * is a transaction of its own. */
static const char SQL_NEXT_TRANSACTION[] =
    "WITH RECURSIVE tx(id, tx_id, data) AS ("
    " SELECT id, tx_id, data FROM ps_crud"
    "  WHERE id = (SELECT min(id) FROM ps_crud WHERE id > ?1)"
    " UNION ALL"
    " SELECT c.id, c.tx_id, c.data FROM tx JOIN ps_crud c ON c.id = tx.id + 1"
    "  WHERE c.tx_id = tx.tx_id"
    ") SELECT id, tx_id, data FROM tx ORDER BY id";

static const char SQL_HAS_MORE[] =
    "SELECT EXISTS (SELECT 1 FROM ps_crud WHERE id > ?1)";

/* What to read in one read transaction. */
struct ps__crud_read {
  powersync_crud_batch *batch;
  int64_t after;           /* Read rows with a larger id. */
  int whole_transactions;  /* 0: limit rows; 1: whole transactions. */
  size_t limit;            /* Rows (batch), or entries (transactions). */
  size_t max_transactions; /* Transactions mode: at most this many. */
  struct ps__crud_status st;
};

static int read_plain_batch(sqlite3 *conn, struct ps__crud_read *r) {
  sqlite3_stmt *stmt = NULL;
  int extra = 0;
  int rc = sqlite3_prepare_v2(conn, SQL_BATCH, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return status_sqlite(&r->st, conn, rc);
  sqlite3_bind_int64(stmt, 1, r->after);
  /* limit + 1 cannot overflow int64: limit was checked against INT64_MAX. */
  sqlite3_bind_int64(stmt, 2, (sqlite3_int64)r->limit + 1);
  rc = add_rows(r->batch, conn, stmt, r->limit, &extra, &r->st);
  r->batch->has_more = extra;
  sqlite3_finalize(stmt);
  return rc;
}

static int query_has_more(sqlite3 *conn, int64_t after,
                          struct ps__crud_status *st, int *out) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, SQL_HAS_MORE, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return status_sqlite(st, conn, rc);
  sqlite3_bind_int64(stmt, 1, after);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    *out = sqlite3_column_int(stmt, 0);
    rc = POWERSYNC_OK;
  } else {
    rc = status_sqlite(st, conn, rc);
  }
  sqlite3_finalize(stmt);
  return rc;
}

/* Appends whole transactions while they fit in r->limit entries (the first
 * one always), up to r->max_transactions. */
static int read_transactions(sqlite3 *conn, struct ps__crud_read *r) {
  powersync_crud_batch *b = r->batch;
  sqlite3_stmt *stmt = NULL;
  size_t transactions = 0;
  int64_t after = r->after;
  int extra = 0;
  int rc = sqlite3_prepare_v2(conn, SQL_NEXT_TRANSACTION, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return status_sqlite(&r->st, conn, rc);
  while (transactions < r->max_transactions) {
    size_t before = b->count;
    sqlite3_reset(stmt);
    sqlite3_bind_int64(stmt, 1, after);
    rc = add_rows(b, conn, stmt, (size_t)-1, &extra, &r->st);
    if (rc != POWERSYNC_OK)
      goto done;
    if (b->count == before) { /* The queue ends here. */
      b->has_more = 0;
      goto done;
    }
    if (transactions > 0 && b->count > r->limit) {
      b->count = before; /* Does not fit: leave it for the next batch. */
      b->has_more = 1;
      goto done;
    }
    transactions++;
    after = b->entries[b->count - 1].client_id;
  }
  rc = query_has_more(conn, after, &r->st, &b->has_more);
done:
  sqlite3_finalize(stmt);
  return rc;
}

static int read_cb(sqlite3 *conn, void *user_data) {
  struct ps__crud_read *r = user_data;
  if (r->whole_transactions)
    read_transactions(conn, r);
  else
    read_plain_batch(conn, r);
  /* Read transactions are rolled back anyway; the outcome is in r->st. */
  return 0;
}

/* Reads a batch as r describes; *out is NULL when nothing was found. */
static int read_batch(powersync_db *db, struct ps__crud_read *r,
                      powersync_crud_batch **out) {
  int rc;
  r->batch = batch_new(db);
  if (!r->batch)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  rc = powersync_db_read_transaction(db, read_cb, r);
  rc = status_report(&r->st, rc);
  if (rc != POWERSYNC_OK || r->batch->count == 0) {
    powersync_crud_batch_free(r->batch);
    return rc;
  }
  *out = r->batch;
  return POWERSYNC_OK;
}

int powersync_db_crud_batch(powersync_db *db, size_t limit,
                            powersync_crud_batch **out) {
  struct ps__crud_read r;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!db || !out)
    return ps__error_set(POWERSYNC_EINVAL, "db and out must not be NULL");
  if (limit == 0 || limit >= (size_t)INT64_MAX)
    return ps__error_set(POWERSYNC_EINVAL,
                         "limit must be between 1 and INT64_MAX - 1");
  memset(&r, 0, sizeof(r));
  r.limit = limit;
  return read_batch(db, &r, out);
}

int powersync_db_crud_next_transaction(powersync_db *db,
                                       powersync_crud_batch **out) {
  struct ps__crud_read r;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!db || !out)
    return ps__error_set(POWERSYNC_EINVAL, "db and out must not be NULL");
  memset(&r, 0, sizeof(r));
  r.whole_transactions = 1;
  r.limit = (size_t)-1;
  r.max_transactions = 1;
  return read_batch(db, &r, out);
}

int powersync_db_crud_transactions(powersync_db *db, size_t max_entries,
                                   powersync_crud_batch **out) {
  struct ps__crud_read r;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!db || !out)
    return ps__error_set(POWERSYNC_EINVAL, "db and out must not be NULL");
  if (max_entries == 0)
    return ps__error_set(POWERSYNC_EINVAL, "max_entries must be at least 1");
  memset(&r, 0, sizeof(r));
  r.whole_transactions = 1;
  r.limit = max_entries;
  r.max_transactions = (size_t)-1;
  return read_batch(db, &r, out);
}

/* ---- Iterating --------------------------------------------------------------
 */

int powersync_db_crud_iter(powersync_db *db, powersync_crud_iter **out) {
  powersync_crud_iter *it;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!db || !out)
    return ps__error_set(POWERSYNC_EINVAL, "db and out must not be NULL");
  it = calloc(1, sizeof(*it));
  if (!it)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  it->db = db;
  *out = it;
  return POWERSYNC_OK;
}

int powersync_crud_iter_next(powersync_crud_iter *it,
                             powersync_crud_batch **out) {
  struct ps__crud_read r;
  int rc;
  ps__error_reset();
  if (out)
    *out = NULL;
  if (!it || !out)
    return ps__error_set(POWERSYNC_EINVAL, "it and out must not be NULL");
  memset(&r, 0, sizeof(r));
  r.after = it->after;
  r.whole_transactions = 1;
  r.limit = (size_t)-1;
  r.max_transactions = 1;
  rc = read_batch(it->db, &r, out);
  if (rc == POWERSYNC_OK && *out)
    it->after = (*out)->entries[(*out)->count - 1].client_id;
  return rc;
}

void powersync_crud_iter_free(powersync_crud_iter *it) { free(it); }

/* ---- Completing
 * -------------------------------------------------------------- */

/* Smallest id in the queue, and how many rows lie at or before ?1. */
static const char SQL_HEAD[] = "SELECT (SELECT min(id) FROM ps_crud),"
                               " (SELECT count(*) FROM ps_crud WHERE id <= ?1)";

static const char SQL_DELETE[] = "DELETE FROM ps_crud WHERE id <= ?1";

static const char SQL_IS_EMPTY[] = "SELECT NOT EXISTS (SELECT 1 FROM ps_crud)";

static const char SQL_SET_TARGET[] =
    "SELECT powersync_control('target_checkpoint_request_id', ?1)";

struct ps__crud_complete {
  const powersync_crud_batch *batch;
  int has_checkpoint;
  int64_t checkpoint;
  struct ps__crud_status st;
};

/* Runs sql (binding value to ?1 unless it is negative) to completion; the
 * first column of the last row, if any, goes to *first. */
static int run_step(sqlite3 *conn, const char *sql, int64_t value,
                    int64_t *first, struct ps__crud_status *st) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, sql, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return status_sqlite(st, conn, rc);
  if (value >= 0)
    sqlite3_bind_int64(stmt, 1, value);
  for (rc = sqlite3_step(stmt); rc == SQLITE_ROW; rc = sqlite3_step(stmt)) {
    if (first)
      *first = sqlite3_column_int64(stmt, 0);
  }
  rc = rc == SQLITE_DONE ? POWERSYNC_OK : status_sqlite(st, conn, rc);
  sqlite3_finalize(stmt);
  return rc;
}

/* ECONFLICT unless the batch is still the whole head of the queue (see the
 * file comment for why this is exact). */
static int check_batch_is_head(sqlite3 *conn, struct ps__crud_complete *c) {
  const powersync_crud_batch *b = c->batch;
  int64_t first = b->entries[0].client_id;
  int64_t last = b->entries[b->count - 1].client_id;
  sqlite3_stmt *stmt = NULL;
  int has_head;
  int64_t head, upto;
  int rc = sqlite3_prepare_v2(conn, SQL_HEAD, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return status_sqlite(&c->st, conn, rc);
  sqlite3_bind_int64(stmt, 1, last);
  rc = sqlite3_step(stmt);
  if (rc != SQLITE_ROW) {
    rc = status_sqlite(&c->st, conn, rc);
    sqlite3_finalize(stmt);
    return rc;
  }
  has_head = sqlite3_column_type(stmt, 0) != SQLITE_NULL;
  head = sqlite3_column_int64(stmt, 0);
  upto = sqlite3_column_int64(stmt, 1);
  sqlite3_finalize(stmt);
  if (has_head && head < first)
    return status_set(&c->st, POWERSYNC_ECONFLICT,
                      "upload queue entries %lld..%lld are not at the head "
                      "of the queue: entry %lld must be completed first",
                      (long long)first, (long long)last, (long long)head);
  if (!has_head || head > first || upto != (int64_t)b->count)
    return status_set(&c->st, POWERSYNC_ECONFLICT,
                      "upload queue entries %lld..%lld were already "
                      "completed or removed",
                      (long long)first, (long long)last);
  return POWERSYNC_OK;
}

static int complete_cb(sqlite3 *conn, void *user_data) {
  struct ps__crud_complete *c = user_data;
  const powersync_crud_batch *b = c->batch;
  int64_t empty = 0;
  int64_t target = PS_CRUD_MAX_OP_ID;
  if (check_batch_is_head(conn, c) != POWERSYNC_OK)
    return 1;
  if (run_step(conn, SQL_DELETE, b->entries[b->count - 1].client_id, NULL,
               &c->st) != POWERSYNC_OK)
    return 1;
  if (c->has_checkpoint) {
    if (run_step(conn, SQL_IS_EMPTY, -1, &empty, &c->st) != POWERSYNC_OK)
      return 1;
    if (empty)
      target = c->checkpoint;
  }
  if (run_step(conn, SQL_SET_TARGET, target, NULL, &c->st) != POWERSYNC_OK)
    return 1;
  return 0;
}

/* A write checkpoint is a decimal op id (the service's write_checkpoint). */
static int parse_checkpoint(const char *text, int64_t *out) {
  size_t len = strlen(text);
  size_t i;
  long long v;
  char *end = NULL;
  if (len == 0 || len > PS_CRUD_MAX_DIGITS)
    return -1;
  for (i = 0; i < len; i++)
    if (text[i] < '0' || text[i] > '9')
      return -1;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0')
    return -1;
  *out = (int64_t)v;
  return 0;
}

int powersync_crud_batch_complete(powersync_crud_batch *b,
                                  const char *write_checkpoint) {
  struct ps__crud_complete c;
  int rc;
  ps__error_reset();
  if (!b || b->count == 0)
    return ps__error_set(POWERSYNC_EINVAL, "batch must not be NULL");
  memset(&c, 0, sizeof(c));
  c.batch = b;
  if (write_checkpoint) {
    if (parse_checkpoint(write_checkpoint, &c.checkpoint) != 0)
      return ps__error_set(POWERSYNC_EINVAL,
                           "write checkpoint '%s' is not a decimal op id",
                           write_checkpoint);
    c.has_checkpoint = 1;
  }
  if (b->completed)
    return ps__error_set(POWERSYNC_ECONFLICT,
                         "the batch was already completed");
  rc = powersync_db_write_transaction(b->db, complete_cb, &c);
  rc = status_report(&c.st, rc);
  if (rc == POWERSYNC_OK)
    b->completed = 1;
  return rc;
}

/* ---- Statistics
 * ---------------------------------------------------------------- */

static const char SQL_STATS[] =
    "SELECT count(*), coalesce(sum(length(CAST(data AS BLOB)) + ?1), 0)"
    " FROM ps_crud";

struct ps__crud_stats {
  powersync_upload_queue_stats *out;
  struct ps__crud_status st;
};

static int stats_cb(sqlite3 *conn, void *user_data) {
  struct ps__crud_stats *s = user_data;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(conn, SQL_STATS, -1, &stmt, NULL);
  if (rc != SQLITE_OK) {
    status_sqlite(&s->st, conn, rc);
    return 0;
  }
  sqlite3_bind_int(stmt, 1, PS_CRUD_ENTRY_OVERHEAD);
  rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    s->out->count = sqlite3_column_int64(stmt, 0);
    s->out->size_bytes = sqlite3_column_int64(stmt, 1);
  } else {
    status_sqlite(&s->st, conn, rc);
  }
  sqlite3_finalize(stmt);
  return 0;
}

int powersync_db_upload_queue_stats(powersync_db *db,
                                    powersync_upload_queue_stats *out) {
  struct ps__crud_stats s;
  int rc;
  ps__error_reset();
  if (!db || !out)
    return ps__error_set(POWERSYNC_EINVAL, "db and out must not be NULL");
  memset(out, 0, sizeof(*out));
  memset(&s, 0, sizeof(s));
  s.out = out;
  rc = powersync_db_read_transaction(db, stats_cb, &s);
  return status_report(&s.st, rc);
}
