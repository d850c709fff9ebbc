/*
 * fn_small.c: the small SQL functions of the extension (core-storage.md 2.4).
 *
 *   SELECT powersync_rs_version();          -- '0.5.3/powersync-c-0.1.0'
 *   SELECT uuid(), gen_random_uuid();       -- random version-4 UUIDs
 *   SELECT powersync_diff('{"a":1}', '{"a":2,"b":3}');   -- '{"a":2,"b":3}'
 *   SELECT powersync_json_merge('{"a":1}', '{"b":2}');   -- '{"a":1,"b":2}'
 *   SELECT powersync_strip_subtype(json_object());       -- '{}' as text
 *   SELECT powersync_remove_duplicate_key_encoding('t/1/"k"'); -- 't/1/k'
 *   SELECT powersync_drop_view('v');
 *   SELECT powersync_in_sync_operation();   -- 0 or 1
 *   SELECT powersync_client_id();
 *
 * Generated triggers call powersync_diff, powersync_json_merge and
 * powersync_strip_subtype, and stored down migrations call
 * powersync_drop_view, so their names and behaviour are part of the on-disk
 * format.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../core/json.h"
#include "error.h"
#include "register.h"
#include "sql.h"

/* The official SDKs parse the part before '/' as the core version and accept
 * 0.5.x; what follows names this implementation. */
#define PS_RS_VERSION "0.5.3/powersync-c-" POWERSYNC_VERSION_STRING

static void rs_version_fn(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, PS_RS_VERSION, -1, SQLITE_STATIC);
}

/* --- uuid() --------------------------------------------------------------- */

static void random_bytes(unsigned char *out, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = getrandom(out + got, len - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  /* getrandom cannot fail on a Linux with the syscall once the pool is
   * initialised; SQLite's generator (seeded from the OS) is the fallback. */
  if (got < len)
    sqlite3_randomness((int)(len - got), out + got);
}

static void uuid_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  char text[36];
  size_t i;
  size_t pos = 0;
  (void)argc;
  (void)argv;
  random_bytes(b, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  for (i = 0; i < sizeof(b); i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      text[pos++] = '-';
    text[pos++] = hex[b[i] >> 4];
    text[pos++] = hex[b[i] & 15];
  }
  sqlite3_result_text(ctx, text, 36, SQLITE_TRANSIENT);
}

/* --- Results built in a ps__buf --------------------------------------------
 */

static void result_buf(sqlite3_context *ctx, struct ps__buf *b) {
  if (ps__buf_failed(b)) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, ps__buf_cstr(b), (int)b->len, SQLITE_TRANSIENT);
}

/* --- powersync_diff ---------------------------------------------------------
 */

/* Documents much larger than a row never reach these functions; the cap keeps
 * a hostile argument from exhausting memory. */
#define DIFF_MAX_ARENA ((size_t)512 * 1024 * 1024)

static const struct ps__json_value JSON_NULL = {.type = PS_JSON_NULL};

static int compare_members(const void *a, const void *b) {
  const struct ps__json_member *x = a;
  const struct ps__json_member *y = b;
  size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, n);
  if (c)
    return c;
  return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static const struct ps__json_value *get_member(const struct ps__json_value *obj,
                                               const char *key, size_t len) {
  size_t i;
  for (i = 0; i < obj->as.obj.count; i++) {
    const struct ps__json_member *m = &obj->as.obj.members[i];
    if (m->key_len == len && memcmp(m->key, key, len) == 0)
      return m->value;
  }
  return NULL;
}

/* A member counts only if its value is not null. */
static const struct ps__json_value *
get_present(const struct ps__json_value *obj, const char *key, size_t len) {
  const struct ps__json_value *v = get_member(obj, key, len);
  return v && v->type != PS_JSON_NULL ? v : NULL;
}

static size_t count_present(const struct ps__json_value *obj) {
  size_t i;
  size_t n = 0;
  for (i = 0; i < obj->as.obj.count; i++)
    n += obj->as.obj.members[i].value->type != PS_JSON_NULL;
  return n;
}

/* The members of new_obj that differ from old_obj, plus nulls for members
 * that old_obj has and new_obj lacks; nulls count as absent on both sides.
 * Lookups are linear: rows have tens of columns, and a hash would cost more
 * than it saves at that size. */
static size_t diff_members(const struct ps__json_value *old_obj,
                           const struct ps__json_value *new_obj,
                           struct ps__json_member *out) {
  size_t i;
  size_t n = 0;
  int old_empty = count_present(old_obj) == 0;
  for (i = 0; i < new_obj->as.obj.count; i++) {
    const struct ps__json_member *m = &new_obj->as.obj.members[i];
    const struct ps__json_value *before;
    if (m->value->type == PS_JSON_NULL)
      continue;
    before = old_empty ? NULL : get_present(old_obj, m->key, m->key_len);
    if (!before || !ps__json_equal(before, m->value))
      out[n++] = *m;
  }
  if (old_empty)
    return n;
  for (i = 0; i < old_obj->as.obj.count; i++) {
    const struct ps__json_member *m = &old_obj->as.obj.members[i];
    if (m->value->type == PS_JSON_NULL ||
        get_present(new_obj, m->key, m->key_len))
      continue;
    out[n] = *m;
    out[n].value = (struct ps__json_value *)&JSON_NULL;
    n++;
  }
  return n;
}

static void write_sorted_object(struct ps__buf *out,
                                struct ps__json_member *members, size_t n) {
  size_t i;
  qsort(members, n, sizeof(*members), compare_members);
  ps__buf_putc(out, '{');
  for (i = 0; i < n; i++) {
    if (i)
      ps__buf_putc(out, ',');
    ps__json_write_string(out, members[i].key, members[i].key_len);
    ps__buf_putc(out, ':');
    ps__json_write(out, members[i].value, 1);
  }
  ps__buf_putc(out, '}');
}

static struct ps__json_value *
parse_argument(struct ps__arena *arena, sqlite3_value *v, struct ps__err *e) {
  const char *text = (const char *)sqlite3_value_text(v);
  size_t len = text ? (size_t)sqlite3_value_bytes(v) : 0;
  char msg[160];
  struct ps__json_value *root =
      ps__json_parse(arena, text ? text : "", len, msg, sizeof(msg));
  if (!root)
    ps__err_argument(e, "", msg);
  return root;
}

static int diff(sqlite3_value *old_arg, sqlite3_value *new_arg,
                struct ps__arena *arena, struct ps__buf *out,
                struct ps__err *e) {
  struct ps__json_value *new_obj = parse_argument(arena, new_arg, e);
  struct ps__json_value *old_obj;
  struct ps__json_member *members;
  if (!new_obj)
    return -1;
  old_obj = parse_argument(arena, old_arg, e);
  if (!old_obj)
    return -1;
  if (old_obj->type != PS_JSON_OBJECT || new_obj->type != PS_JSON_OBJECT) {
    ps__err_argument(e, "expected two JSON objects", NULL);
    return -1;
  }
  members = ps__arena_alloc(
      arena,
      (old_obj->as.obj.count + new_obj->as.obj.count + 1) * sizeof(*members));
  if (!members) {
    ps__err_nomem(e);
    return -1;
  }
  write_sorted_object(out, members, diff_members(old_obj, new_obj, members));
  return 0;
}

static void diff_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  struct ps__arena arena;
  struct ps__buf out;
  struct ps__err e;
  (void)argc;
  ps__arena_init(&arena, DIFF_MAX_ARENA);
  ps__buf_init(&out, 0);
  ps__err_init(&e);
  if (diff(argv[0], argv[1], &arena, &out, &e))
    ps__err_result(ctx, "powersync_diff", &e);
  else
    result_buf(ctx, &out);
  ps__err_free(&e);
  ps__buf_free(&out);
  ps__arena_free(&arena);
}

/* --- powersync_json_merge ------------------------------------------------- */

static int only_whitespace(const char *s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++) {
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
      return 0;
  }
  return 1;
}

/* Concatenates the members of JSON objects as text, without parsing: the
 * arguments come from json_object() in generated triggers. Unlike the
 * official core, empty objects contribute nothing instead of a stray comma
 * (docs/compatibility.md). */
static void json_merge_fn(sqlite3_context *ctx, int argc,
                          sqlite3_value **argv) {
  struct ps__buf out;
  int i;
  ps__buf_init(&out, 0);
  ps__buf_putc(&out, '{');
  for (i = 0; i < argc; i++) {
    const char *text = (const char *)sqlite3_value_text(argv[i]);
    size_t len = text ? (size_t)sqlite3_value_bytes(argv[i]) : 0;
    if (len < 2 || text[0] != '{' || text[len - 1] != '}') {
      struct ps__err e;
      ps__err_init(&e);
      ps__err_argument(&e, "Expected json object", NULL);
      ps__err_result(ctx, "powersync_json_merge", &e);
      ps__err_free(&e);
      ps__buf_free(&out);
      return;
    }
    if (only_whitespace(text + 1, len - 2))
      continue;
    if (out.len > 1)
      ps__buf_putc(&out, ',');
    ps__buf_append(&out, text + 1, len - 2);
  }
  ps__buf_putc(&out, '}');
  result_buf(ctx, &out);
  ps__buf_free(&out);
}

/* --- powersync_strip_subtype ------------------------------------------------
 */

static void strip_subtype_fn(sqlite3_context *ctx, int argc,
                             sqlite3_value **argv) {
  (void)argc;
  sqlite3_result_value(ctx, argv[0]);
  sqlite3_result_subtype(ctx, 0);
}

/* --- powersync_remove_duplicate_key_encoding --------------------------------
 */

/* Position of the quote that opens the trailing JSON string of key, or -1.
 * A quote preceded by one backslash is escaped; by two, it is not. */
static long opening_quote(const char *s, size_t len) {
  long i = (long)len - 2;
  while (i >= 0) {
    if (s[i] != '"') {
      i--;
      continue;
    }
    if (i == 0)
      return -1;
    if (s[i - 1] != '\\')
      return i;
    if (i - 2 < 0)
      return -1;
    if (s[i - 2] == '\\')
      return i;
    /* An escaped quote: the character before its backslash is skipped. */
    i -= 3;
  }
  return -1;
}

static void remove_duplicate_key_encoding_fn(sqlite3_context *ctx, int argc,
                                             sqlite3_value **argv) {
  const char *s;
  size_t len;
  long open;
  struct ps__arena arena;
  struct ps__json_value *decoded;
  (void)argc;
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    struct ps__err e;
    ps__err_init(&e);
    ps__err_argument(&e, "Expected a text argument", NULL);
    ps__err_result(ctx, "powersync_remove_duplicate_key_encoding", &e);
    ps__err_free(&e);
    return;
  }
  s = (const char *)sqlite3_value_text(argv[0]);
  len = (size_t)sqlite3_value_bytes(argv[0]);
  if (!s || len == 0 || s[len - 1] != '"')
    return; /* NULL: not affected */
  open = opening_quote(s, len);
  if (open < 0)
    return;
  ps__arena_init(&arena, 0);
  decoded = ps__json_parse(&arena, s + open, len - (size_t)open, NULL, 0);
  if (decoded && decoded->type == PS_JSON_STRING) {
    struct ps__buf out;
    ps__buf_init(&out, 0);
    ps__buf_append(&out, s, (size_t)open);
    ps__buf_append(&out, decoded->as.str.ptr, decoded->as.str.len);
    result_buf(ctx, &out);
    ps__buf_free(&out);
  }
  ps__arena_free(&arena);
}

/* --- powersync_drop_view -------------------------------------------------- */

static void drop_view_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  struct ps__buf sql;
  struct ps__err e;
  (void)argc;
  ps__buf_init(&sql, 0);
  ps__err_init(&e);
  ps__buf_puts(&sql, "DROP VIEW IF EXISTS ");
  ps__buf_ident(&sql, name ? name : "");
  if (ps__buf_failed(&sql))
    sqlite3_result_error_nomem(ctx);
  else if (ps__exec(sqlite3_context_db_handle(ctx), ps__buf_cstr(&sql), &e))
    ps__err_result(ctx, "powersync_drop_view", &e);
  else
    sqlite3_result_null(ctx);
  ps__err_free(&e);
  ps__buf_free(&sql);
}

/* --- powersync_in_sync_operation ------------------------------------------ */

static void in_sync_operation_fn(sqlite3_context *ctx, int argc,
                                 sqlite3_value **argv) {
  struct ps__state *st = sqlite3_user_data(ctx);
  (void)argc;
  (void)argv;
  sqlite3_result_int(ctx, st->in_sync_operation ? 1 : 0);
}

/* --- powersync_client_id -------------------------------------------------- */

static void client_id_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char sql[] = "select value from ps_kv where key = 'client_id'";
  sqlite3_stmt *stmt;
  struct ps__err e;
  int rc;
  (void)argc;
  (void)argv;
  ps__err_init(&e);
  rc = ps__prepare(sqlite3_context_db_handle(ctx), sql, &stmt, &e);
  if (rc == SQLITE_OK) {
    rc = ps__step(stmt, &e);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
      ps__err_null_value(&e, stmt);
    } else if (rc == SQLITE_ROW) {
      const unsigned char *text = sqlite3_column_text(stmt, 0);
      sqlite3_result_text(ctx, text ? (const char *)text : "",
                          sqlite3_column_bytes(stmt, 0), SQLITE_TRANSIENT);
    } else if (rc == SQLITE_DONE) {
      ps__err_set(&e, SQLITE_ABORT, "No client_id found in ps_kv");
    }
    sqlite3_finalize(stmt);
  }
  if (e.code != SQLITE_OK)
    ps__err_result(ctx, "powersync_client_id", &e);
  ps__err_free(&e);
}

int ps__register_small_functions(sqlite3 *db, struct ps__state *st) {
  static const struct {
    const char *name;
    int n_arg;
    int flags;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
  } fns[] = {
      {"powersync_rs_version", 0, 0, rs_version_fn},
      {"gen_random_uuid", 0, 0, uuid_fn},
      {"uuid", 0, 0, uuid_fn},
      {"powersync_diff", 2, SQLITE_DETERMINISTIC | SQLITE_RESULT_SUBTYPE,
       diff_fn},
      {"powersync_remove_duplicate_key_encoding", 1, SQLITE_DETERMINISTIC,
       remove_duplicate_key_encoding_fn},
      {"powersync_json_merge", -1, SQLITE_DETERMINISTIC | SQLITE_RESULT_SUBTYPE,
       json_merge_fn},
      {"powersync_strip_subtype", 1,
       SQLITE_DETERMINISTIC | SQLITE_SUBTYPE | SQLITE_RESULT_SUBTYPE,
       strip_subtype_fn},
      {"powersync_drop_view", 1, 0, drop_view_fn},
      {"powersync_client_id", 0, SQLITE_DETERMINISTIC, client_id_fn},
      {"powersync_in_sync_operation", 0, 0, in_sync_operation_fn},
  };
  size_t i;
  int rc = SQLITE_OK;
  for (i = 0; i < sizeof(fns) / sizeof(fns[0]) && rc == SQLITE_OK; i++)
    rc = ps__create_function(db, st, fns[i].name, fns[i].n_arg, fns[i].flags,
                             fns[i].fn);
  return rc;
}
