/*
 * sync_config.c: loads the service's sync config (YAML) and compiles each
 * query into plain SQLite statements over the source database, so the dev
 * server needs no SQL engine of its own (sync_config.h has the supported
 * subset and semantics).
 *
 * Compilation, per data query: a row-side statement
 *     SELECT CAST((<id>) AS TEXT), (<bucket param exprs>...), (<cols>...)
 *     FROM <table> [AS <alias>] WHERE rowid = ?1 AND (<filter>)...
 * whose row (if any) gives object id, bucket parameters and data columns;
 * and, for streams, one request-side statement per parameter-binding term
 * that yields the values a request sees for that parameter. Parameter
 * queries of bucket definitions are run as written, with the PowerSync
 * functions rewritten into bound parameters (sync_sql.h lists them).
 * Every statement is prepared once at load time against the source, which
 * is how unknown tables, columns and functions are reported.
 *
 * Statements are prepared again for each evaluation (on the caller's
 * connection), which keeps the config immutable and shareable.
 *
 * Choices the header leaves open:
 *  - A row whose bucket parameter value is NULL belongs to no bucket of
 *    that query (SQL: NULL = x is never true).
 *  - Request side, bucket definitions: a NULL parameter value yields a
 *    bucket with null (e.g. by_org[null]) as the service does; it stays
 *    empty because of the rule above.
 *  - Request side, streams: NULL values yield no bucket. An explicit
 *    subscription lacking a subscription.parameter() the stream uses, or
 *    with parameters that are not a JSON object, is reported through the
 *    error callback and yields nothing; default subscriptions see NULL.
 *  - Streams with a single query name their buckets after the stream
 *    (1#todos["l1"]); with several queries (`queries:`) each query's
 *    buckets are "<stream>|<index>" so they cannot mix (the service's
 *    alpha engine names stream buckets that way too).
 *  - SQL errors while evaluating a request (malformed JSON parameters, ...)
 *    are reported per stream through the error callback; only other SQLite
 *    failures (busy, I/O, out of memory) fail the whole call.
 */
#include "sync_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sync_json.h"
#include "sync_sql.h"

#define MAX_TERMS        64
#define BUCKET_VERSION   "1"
#define DEFAULT_PRIORITY 3

/* --- Data structures ------------------------------------------------- */

struct name_list {
  char **v;
  size_t n;
};

/* Request side of one parameter-binding term of a stream query: a
 * statement whose first column lists the values the parameter takes. */
struct stream_bind {
  char *sql;
};

struct data_query {
  char *table;       /* Source table (unquoted). */
  char *object_type; /* Alias or table. */
  char *bucket_name; /* Definition name, or "<stream>|<i>". */
  char *row_sql;     /* ?1 = rowid. */
  size_t param_count;
  struct name_list keys; /* Data JSON keys, in column order. */
  struct stream_bind *binds;
  size_t bind_count;
};

struct param_query {
  char *sql;
  size_t *slot; /* Result column -> bucket parameter position. */
  size_t column_count;
};

struct definition {
  char *name;
  int is_stream;
  int is_default;
  int priority;
  struct name_list params; /* Bucket definitions: bucket parameter names. */
  struct param_query *pqs;
  size_t pq_count;
  struct data_query *dqs;
  size_t dq_count;
  struct name_list sub_params; /* Streams: subscription.parameter() names. */
};

struct psd_sync_config {
  struct definition *defs;
  size_t def_count;
  struct name_list tables;
};

static void names_free(struct name_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

/* Index of name in l (case-sensitive unless nocase), or -1. */
static long names_find(const struct name_list *l, const char *name,
                       int nocase) {
  size_t i;
  for (i = 0; i < l->n; i++) {
    if (nocase ? sqlite3_stricmp(l->v[i], name) == 0
               : strcmp(l->v[i], name) == 0)
      return (long)i;
  }
  return -1;
}

/* Appends a copy of name. Returns 0 or -1 (out of memory). */
static int names_add(struct name_list *l, const char *name) {
  char **v = realloc(l->v, (l->n + 1) * sizeof(char *));
  char *copy = strdup(name);
  if (v)
    l->v = v;
  if (!v || !copy) {
    free(copy);
    return -1;
  }
  l->v[l->n++] = copy;
  return 0;
}

static int names_add_unique(struct name_list *l, const char *name, int nocase) {
  return names_find(l, name, nocase) >= 0 ? 0 : names_add(l, name);
}

static void data_query_free(struct data_query *dq) {
  size_t i;
  free(dq->table);
  free(dq->object_type);
  free(dq->bucket_name);
  free(dq->row_sql);
  names_free(&dq->keys);
  for (i = 0; i < dq->bind_count; i++)
    free(dq->binds[i].sql);
  free(dq->binds);
}

static void definition_free(struct definition *d) {
  size_t i;
  free(d->name);
  names_free(&d->params);
  names_free(&d->sub_params);
  for (i = 0; i < d->pq_count; i++) {
    free(d->pqs[i].sql);
    free(d->pqs[i].slot);
  }
  free(d->pqs);
  for (i = 0; i < d->dq_count; i++)
    data_query_free(&d->dqs[i]);
  free(d->dqs);
}

void psd_sync_config_free(struct psd_sync_config *cfg) {
  size_t i;
  if (!cfg)
    return;
  for (i = 0; i < cfg->def_count; i++)
    definition_free(&cfg->defs[i]);
  free(cfg->defs);
  names_free(&cfg->tables);
  free(cfg);
}

/* Sets out to a new zeroed last item of the array items (count grows), or
 * to NULL when out of memory (the array is then unchanged). */
#define APPEND(items, count, out)                                              \
  do {                                                                         \
    void *grown_ = grow_array((items), (count), sizeof(*(items)));             \
    (out) = NULL;                                                              \
    if (grown_) {                                                              \
      (items) = grown_;                                                        \
      (out) = &(items)[(count)++];                                             \
    }                                                                          \
  } while (0)

static void *grow_array(void *items, size_t count, size_t elem) {
  char *p = realloc(items, (count + 1) * elem);
  if (p)
    memset(p + count * elem, 0, elem);
  return p;
}

/* --- Load errors ----------------------------------------------------- */

struct loader {
  sqlite3 *source;
  yaml_document_t *doc;
  struct psd_sync_config *cfg;
  char *err;
  size_t errlen;
};

static int fail(struct loader *L, int line, const char *fmt, ...)
    PS_PRINTF(3, 4);

static int fail(struct loader *L, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (L->err && L->errlen)
    snprintf(L->err, L->errlen, "sync config line %d: %s", line, msg);
  return -1;
}

static int node_line(const yaml_node_t *node) {
  return (int)node->start_mark.line + 1;
}

/* The YAML line of byte offset in a scalar's value: exact for literal
 * block scalars (|), the scalar's first line otherwise (folding loses the
 * line structure). */
static int line_at(const yaml_node_t *node, size_t offset) {
  const char *s = (const char *)node->data.scalar.value;
  int line = node_line(node);
  size_t i;
  if (node->data.scalar.style != YAML_LITERAL_SCALAR_STYLE)
    return line;
  line++; /* The text starts below the '|'. */
  for (i = 0; i < offset && s[i]; i++) {
    if (s[i] == '\n')
      line++;
  }
  return line;
}

static int fail_sql(struct loader *L, const yaml_node_t *node,
                    const struct psd_sql_err *e, const char *what) {
  return fail(L, line_at(node, e->offset), "%s in %s", e->msg, what);
}

/* Prepares sql on the source to check it; SQLite names unknown tables,
 * columns and functions. */
static int check_sql(struct loader *L, const yaml_node_t *node, const char *sql,
                     const char *what) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(L->source, sql, -1, &stmt, NULL);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK)
    return fail(L, node_line(node), "%s in %s", sqlite3_errmsg(L->source),
                what);
  return 0;
}

static int oom(struct loader *L, const yaml_node_t *node) {
  return fail(L, node ? node_line(node) : 0, "out of memory");
}

/* --- YAML helpers ---------------------------------------------------- */

static const char *scalar(const yaml_node_t *node) {
  return node && node->type == YAML_SCALAR_NODE
             ? (const char *)node->data.scalar.value
             : NULL;
}

static yaml_node_t *node_at(struct loader *L, int index) {
  return yaml_document_get_node(L->doc, index);
}

static int expect_mapping(struct loader *L, const yaml_node_t *node,
                          const char *what) {
  if (node->type != YAML_MAPPING_NODE)
    return fail(L, node_line(node), "%s must be a mapping", what);
  return 0;
}

static int parse_priority(struct loader *L, const yaml_node_t *node, int *out) {
  const char *s = scalar(node);
  char *end = NULL;
  long v;
  if (!s || !*s)
    return fail(L, node_line(node), "priority must be an integer 0..3");
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v < 0 || v > 3)
    return fail(L, node_line(node),
                "priority must be an integer 0..3, not '%s'", s);
  *out = (int)v;
  return 0;
}

static int parse_bool(struct loader *L, const yaml_node_t *node, int *out) {
  const char *s = scalar(node);
  if (s && (sqlite3_stricmp(s, "true") == 0 || sqlite3_stricmp(s, "yes") == 0))
    *out = 1;
  else if (s &&
           (sqlite3_stricmp(s, "false") == 0 || sqlite3_stricmp(s, "no") == 0))
    *out = 0;
  else
    return fail(L, node_line(node), "expected true or false");
  return 0;
}

/* Calls fn for node if it is a scalar, or for each item of a sequence of
 * scalars. */
typedef int (*query_fn)(struct loader *L, struct definition *d,
                        const yaml_node_t *node, size_t index);

static int for_each_query(struct loader *L, struct definition *d,
                          const yaml_node_t *node, const char *what,
                          query_fn fn) {
  yaml_node_item_t *it;
  size_t index = 0;
  if (node->type == YAML_SCALAR_NODE)
    return fn(L, d, node, 0);
  if (node->type != YAML_SEQUENCE_NODE)
    return fail(L, node_line(node), "%s must be a query or a list of queries",
                what);
  for (it = node->data.sequence.items.start; it < node->data.sequence.items.top;
       it++) {
    const yaml_node_t *q = node_at(L, *it);
    if (!scalar(q))
      return fail(L, node_line(q), "%s must be a query or a list of queries",
                  what);
    if (fn(L, d, q, index++) != 0)
      return -1;
  }
  return 0;
}

/* --- Parameter queries (bucket definitions) -------------------------- */

static int slot_taken(const struct param_query *pq, size_t before,
                      size_t slot) {
  size_t k;
  for (k = 0; k < before; k++) {
    if (pq->slot[k] == slot)
      return 1;
  }
  return 0;
}

/* Makes pq->slot map the query's columns onto the definition's bucket
 * parameters; the first parameter query declares them. */
static int assign_param_slots(struct loader *L, struct definition *d,
                              struct param_query *pq,
                              const struct psd_select *sel,
                              const yaml_node_t *node) {
  size_t k;
  int first = d->pq_count == 1;
  pq->column_count = sel->item_count;
  pq->slot = calloc(sel->item_count, sizeof(size_t));
  if (!pq->slot)
    return oom(L, node);
  if (!first && sel->item_count != d->params.n)
    return fail(L, node_line(node),
                "parameter query returns %zu columns, but the definition's "
                "first parameter query returns %zu",
                sel->item_count, d->params.n);
  for (k = 0; k < sel->item_count; k++) {
    const char *name = sel->items[k].name;
    long at = names_find(&d->params, name, 0);
    if (first) {
      if (at >= 0)
        return fail(L, node_line(node), "duplicate parameter column '%s'",
                    name);
      if (names_add(&d->params, name) != 0)
        return oom(L, node);
      at = (long)d->params.n - 1;
    } else if (at < 0 || slot_taken(pq, k, (size_t)at)) {
      return fail(L, node_line(node),
                  "parameter column '%s' is not returned by the definition's "
                  "first parameter query, or is repeated",
                  name);
    }
    pq->slot[k] = (size_t)at;
  }
  return 0;
}

static int check_param_items(struct loader *L, const struct psd_sql *q,
                             const struct psd_select *sel,
                             const yaml_node_t *node) {
  size_t k;
  for (k = 0; k < sel->item_count; k++) {
    const struct psd_select_item *it = &sel->items[k];
    if (it->star || !it->name)
      return fail(L, line_at(node, q->toks[it->a].start),
                  "parameter query columns need a name ('<expr> AS <name>')");
  }
  return 0;
}

static int compile_param_query(struct loader *L, struct definition *d,
                               const yaml_node_t *node, size_t index) {
  struct psd_sql q;
  struct psd_select sel;
  struct psd_sql_err e;
  struct ps__buf sql;
  struct param_query *pq;
  int rc = -1;
  (void)index;
  if (psd_sql_tokenize(scalar(node), &q, &e) != 0)
    return fail_sql(L, node, &e, "parameter query");
  ps__buf_init(&sql, PS_BUF_DEFAULT_MAX);
  memset(&sel, 0, sizeof(sel));
  if (psd_sql_parse_select(&q, 0, q.count, &sel, &e) != 0 ||
      psd_sql_rewrite(&q, 0, q.count, PSD_FAMILY_REQUEST, "parameter queries",
                      sel.alias ? sel.alias : sel.table, NULL, NULL, &sql,
                      &e) != 0) {
    fail_sql(L, node, &e, "parameter query");
    goto done;
  }
  if (check_param_items(L, &q, &sel, node) != 0)
    goto done;
  APPEND(d->pqs, d->pq_count, pq);
  if (!pq || !(pq->sql = ps__buf_take(&sql))) {
    oom(L, node);
    goto done;
  }
  if (assign_param_slots(L, d, pq, &sel, node) != 0 ||
      check_sql(L, node, pq->sql, "parameter query") != 0)
    goto done;
  if (sel.table && names_add_unique(&L->cfg->tables, sel.table, 1) != 0) {
    oom(L, node);
    goto done;
  }
  rc = 0;
done:
  ps__buf_free(&sql);
  psd_select_free(&sel);
  psd_sql_free(&q);
  return rc;
}

/* --- Data queries ---------------------------------------------------- */

/* What compiling one data query collects before writing its statement. */
struct dq_build {
  struct loader *L;
  struct definition *d;
  const yaml_node_t *node;
  const struct psd_sql *q;
  const struct psd_select *sel;
  const char *self; /* Table alias or name (never a function namespace). */
  struct name_list exprs;       /* SQL per data key (parallel to keys). */
  struct name_list param_exprs; /* Row-side SQL per bucket parameter. */
  struct name_list filters;     /* Residual WHERE terms. */
  char *id_expr;
};

static void dq_build_free(struct dq_build *b) {
  names_free(&b->exprs);
  names_free(&b->param_exprs);
  names_free(&b->filters);
}

static int tok_line(const struct dq_build *b, size_t tok) {
  size_t off = tok < b->q->count ? b->q->toks[tok].start : 0;
  return line_at(b->node, off);
}

static int build_fail_sql(struct dq_build *b, const struct psd_sql_err *e) {
  return fail_sql(b->L, b->node, e,
                  b->d->is_stream ? "stream query" : "data query");
}

/* Adds key with SQL expr; a repeated key keeps its first position and takes
 * the later expression (as a JavaScript object would). */
static int add_column(struct dq_build *b, struct data_query *dq,
                      const char *key, const char *expr) {
  long at = names_find(&dq->keys, key, 0);
  if (at >= 0) {
    char *copy = strdup(expr);
    if (!copy)
      return -1;
    free(b->exprs.v[at]);
    b->exprs.v[at] = copy;
    return 0;
  }
  if (names_add(&dq->keys, key) != 0)
    return -1;
  return names_add(&b->exprs, expr);
}

/* "name" quoted as an SQL identifier. */
static char *quote_ident(const char *name) {
  char *s = sqlite3_mprintf("\"%w\"", name);
  char *copy = s ? strdup(s) : NULL;
  sqlite3_free(s);
  return copy;
}

static int add_star_columns(struct dq_build *b, struct data_query *dq) {
  sqlite3_stmt *stmt = NULL;
  int rc, found = 0;
  rc = sqlite3_prepare_v2(
      b->L->source, "SELECT name FROM pragma_table_info(?1)", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    sqlite3_bind_text(stmt, 1, dq->table, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    char *expr = quote_ident(name ? name : "");
    found = 1;
    if (!expr || add_column(b, dq, name ? name : "", expr) != 0)
      rc = SQLITE_NOMEM;
    free(expr);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK)
    return fail(b->L, node_line(b->node), "cannot read the columns of %s",
                dq->table);
  if (!found)
    return fail(b->L, tok_line(b, b->sel->table_tok), "no such table: %s in %s",
                dq->table, b->d->is_stream ? "stream query" : "data query");
  return 0;
}

static int add_select_items(struct dq_build *b, struct data_query *dq) {
  size_t k;
  for (k = 0; k < b->sel->item_count; k++) {
    const struct psd_select_item *it = &b->sel->items[k];
    struct psd_ref ref;
    struct psd_sql_err e;
    char *expr;
    int rc;
    if (it->star) {
      if (add_star_columns(b, dq) != 0)
        return -1;
      continue;
    }
    rc = psd_sql_first_ref(b->q, it->a, it->expr_b, b->self, &ref, &e);
    if (rc < 0)
      return build_fail_sql(b, &e);
    if (rc > 0)
      return fail(b->L, tok_line(b, ref.first),
                  "PowerSync functions and bucket parameters cannot be "
                  "selected in a data query (only used in WHERE)");
    expr = psd_sql_text(b->q, it->a, it->expr_b);
    if (!it->name) {
      fail(b->L, tok_line(b, it->a),
           "expression '%s' in a data query needs a name ('AS <name>')",
           expr ? expr : "");
      free(expr);
      return -1;
    }
    rc = expr ? add_column(b, dq, it->name, expr) : -1;
    free(expr);
    if (rc != 0)
      return oom(b->L, b->node);
  }
  return 0;
}

/* Sets b->id_expr from the "id" key. */
static int find_id(struct dq_build *b, struct data_query *dq) {
  long at = names_find(&dq->keys, "id", 0);
  if (at < 0)
    return fail(b->L, node_line(b->node),
                "data query must select an id column (from %s)", dq->table);
  b->id_expr = b->exprs.v[at];
  return 0;
}

/* Counts top-level tokens of [a, b) that bind like '=' or looser. */
static size_t count_loose_ops(const struct psd_sql *q, size_t a, size_t b) {
  static const char *const ops[] = {
      "=",     "==",     "!=",      "<>",  "IS", "IN",  "LIKE",  "GLOB",
      "MATCH", "REGEXP", "BETWEEN", "NOT", "OR", "AND", "ESCAPE"};
  size_t k, n = 0;
  for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
    n += psd_sql_find_top(q, a, b, ops[k], NULL, 0);
  return n;
}

static int has_ref(struct dq_build *b, size_t a, size_t z, struct psd_ref *ref,
                   struct psd_sql_err *e) {
  return psd_sql_first_ref(b->q, a, z, b->self, ref, e);
}

/* Adds the row-side expression [a, z) of a binding term. */
static int add_param_expr(struct dq_build *b, size_t a, size_t z) {
  char *expr = psd_sql_text(b->q, a, z);
  int rc = expr ? names_add(&b->param_exprs, expr) : -1;
  free(expr);
  return rc != 0 ? oom(b->L, b->node) : 0;
}

/* `<row expr> = bucket.<p>` in a bucket definition's data query. */
static int bind_bucket_param(struct dq_build *b, size_t row_a, size_t row_z,
                             size_t req_a, size_t req_z, size_t *bound) {
  struct psd_ref ref;
  struct psd_sql_err e;
  int rc = has_ref(b, req_a, req_z, &ref, &e);
  long slot;
  if (rc < 0)
    return build_fail_sql(b, &e);
  if (ref.family != PSD_FAMILY_BUCKET)
    return fail(b->L, tok_line(b, ref.first),
                "data queries of bucket definitions can only use bucket "
                "parameters (bucket.<name>); read request values in a "
                "parameter query");
  if (ref.first != req_a || ref.end != req_z)
    return fail(b->L, tok_line(b, req_a),
                "bucket parameters must be compared directly: "
                "'<column> = bucket.%s'",
                ref.name);
  slot = names_find(&b->d->params, ref.name, 0);
  if (slot < 0)
    return fail(b->L, tok_line(b, ref.first),
                "unknown bucket parameter 'bucket.%s' (not returned by a "
                "parameter query of '%s')",
                ref.name, b->d->name);
  if (bound[slot])
    return fail(b->L, tok_line(b, ref.first),
                "bucket parameter 'bucket.%s' is bound twice", ref.name);
  bound[slot] = b->param_exprs.n + 1;
  return add_param_expr(b, row_a, row_z);
}

static int collect_sub_param(void *user_data, const char *name) {
  struct definition *d = user_data;
  return names_add_unique(&d->sub_params, name, 0);
}

/* Rewrites [a, z) into a stream bind's request-side SQL: prefix + text +
 * suffix. */
static int add_stream_bind(struct dq_build *b, struct data_query *dq, size_t a,
                           size_t z, const char *self, const char *prefix,
                           const char *suffix) {
  struct ps__buf sql;
  struct psd_sql_err e;
  struct stream_bind *bind;
  ps__buf_init(&sql, PS_BUF_DEFAULT_MAX);
  ps__buf_puts(&sql, prefix);
  if (psd_sql_rewrite(b->q, a, z, PSD_FAMILY_STREAM, "stream queries", self,
                      collect_sub_param, b->d, &sql, &e) != 0) {
    ps__buf_free(&sql);
    return build_fail_sql(b, &e);
  }
  ps__buf_puts(&sql, suffix);
  APPEND(dq->binds, dq->bind_count, bind);
  if (!bind || !(bind->sql = ps__buf_take(&sql))) {
    ps__buf_free(&sql);
    return oom(b->L, b->node);
  }
  return check_sql(b->L, b->node, bind->sql, "stream query");
}

/* `<row expr> IN (SELECT <col> FROM <table> [WHERE ...])` in a stream. */
static int bind_subquery(struct dq_build *b, struct data_query *dq, size_t open,
                         size_t close) {
  struct psd_select sub;
  struct psd_sql_err e;
  int rc = -1;
  if (psd_sql_parse_select(b->q, open + 1, close, &sub, &e) != 0) {
    build_fail_sql(b, &e);
  } else if (sub.item_count != 1 || sub.items[0].star || !sub.table) {
    fail(b->L, tok_line(b, open + 1),
         "a subquery must select one column from one table");
  } else if (names_add_unique(&b->L->cfg->tables, sub.table, 1) != 0) {
    oom(b->L, b->node);
  } else {
    rc = add_stream_bind(b, dq, open + 1, close,
                         sub.alias ? sub.alias : sub.table, "", "");
  }
  psd_select_free(&sub);
  return rc;
}

/* JSON array (or single value) to rows of values. */
#define ARRAY_BIND_PREFIX "WITH v(x) AS (SELECT "
#define ARRAY_BIND_SUFFIX                                                      \
  ") SELECT j.value FROM v, json_each(CASE WHEN json_valid(v.x) THEN v.x "     \
  "ELSE json_quote(v.x) END) AS j"

static int bind_in_term(struct dq_build *b, struct data_query *dq, size_t a,
                        size_t in, size_t z) {
  struct psd_ref ref;
  struct psd_sql_err e;
  size_t close;
  int rc = has_ref(b, a, in, &ref, &e);
  if (rc != 0)
    return rc < 0 ? build_fail_sql(b, &e)
                  : fail(b->L, tok_line(b, ref.first),
                         "'<value> IN <column>' (array columns) is not "
                         "supported");
  if (!b->d->is_stream)
    return fail(b->L, tok_line(b, in),
                "IN is not supported with bucket parameters; use "
                "'<column> = bucket.<name>'");
  if (add_param_expr(b, a, in) != 0)
    return -1;
  if (psd_sql_is(b->q, in + 1, "(") && psd_sql_is(b->q, in + 2, "SELECT")) {
    close = psd_sql_matching_close(b->q, in + 1, z);
    if (close == z - 1)
      return bind_subquery(b, dq, in + 1, close);
  }
  return add_stream_bind(b, dq, in + 1, z, b->self, ARRAY_BIND_PREFIX,
                         ARRAY_BIND_SUFFIX);
}

static int bind_eq_term(struct dq_build *b, struct data_query *dq, size_t a,
                        size_t eq, size_t z, size_t *bound) {
  struct psd_ref ref;
  struct psd_sql_err e;
  int left = has_ref(b, a, eq, &ref, &e), right;
  if (left < 0)
    return build_fail_sql(b, &e);
  right = has_ref(b, eq + 1, z, &ref, &e);
  if (right < 0)
    return build_fail_sql(b, &e);
  if (left && right)
    return fail(b->L, tok_line(b, a),
                "only one side of '=' may use PowerSync functions");
  if (eq == a || eq + 1 == z)
    return fail(b->L, tok_line(b, eq), "incomplete comparison");
  if (!b->d->is_stream)
    return left ? bind_bucket_param(b, eq + 1, z, a, eq, bound)
                : bind_bucket_param(b, a, eq, eq + 1, z, bound);
  if (left ? add_param_expr(b, eq + 1, z) : add_param_expr(b, a, eq))
    return -1;
  return left ? add_stream_bind(b, dq, a, eq, b->self, "SELECT ", "")
              : add_stream_bind(b, dq, eq + 1, z, b->self, "SELECT ", "");
}

static int fail_unsupported_ref(struct dq_build *b, const struct psd_ref *ref,
                                size_t a, size_t z) {
  char *term = psd_sql_text(b->q, a, z);
  int rc = fail(b->L, tok_line(b, ref->first), "unsupported condition '%s': %s",
                term ? term : "",
                b->d->is_stream
                    ? "stream parameters must appear as '<column> = <value>' "
                      "or '<column> IN ...' in the WHERE clause's AND terms"
                    : "bucket parameters must appear as '<column> = "
                      "bucket.<name>' in the WHERE clause's AND terms");
  free(term);
  return rc;
}

/* One AND term of the WHERE clause: a parameter binding or a row filter. */
static int compile_term(struct dq_build *b, struct data_query *dq, size_t a,
                        size_t z, size_t *bound) {
  struct psd_ref ref;
  struct psd_sql_err e;
  size_t pos = 0;
  int rc = has_ref(b, a, z, &ref, &e);
  char *text;
  if (rc < 0)
    return build_fail_sql(b, &e);
  if (rc == 0) {
    text = psd_sql_text(b->q, a, z);
    rc = text ? names_add(&b->filters, text) : -1;
    free(text);
    return rc != 0 ? oom(b->L, b->node) : 0;
  }
  if (count_loose_ops(b->q, a, z) == 1) {
    if (psd_sql_find_top(b->q, a, z, "=", &pos, 1) == 1 ||
        psd_sql_find_top(b->q, a, z, "==", &pos, 1) == 1)
      return bind_eq_term(b, dq, a, pos, z, bound);
    if (psd_sql_find_top(b->q, a, z, "IN", &pos, 1) == 1)
      return bind_in_term(b, dq, a, pos, z);
  }
  return fail_unsupported_ref(b, &ref, a, z);
}

static int compile_where(struct dq_build *b, struct data_query *dq) {
  size_t starts[MAX_TERMS], ends[MAX_TERMS], *bound, k;
  int n, rc = 0;
  bound = calloc(b->d->params.n + 1, sizeof(size_t));
  if (!bound)
    return oom(b->L, b->node);
  n = b->sel->has_where ? psd_sql_split_and(b->q, b->sel->where_a, b->sel->end,
                                            starts, ends, MAX_TERMS)
                        : 0;
  if (n < 0)
    rc = fail(b->L, tok_line(b, b->sel->where_a),
              "WHERE clause has unbalanced parentheses or more than %d terms",
              MAX_TERMS);
  for (k = 0; rc == 0 && k < (size_t)n; k++)
    rc = compile_term(b, dq, starts[k], ends[k], bound);
  for (k = 0; rc == 0 && !b->d->is_stream && k < b->d->params.n; k++) {
    if (!bound[k])
      rc = fail(b->L, node_line(b->node),
                "data query does not bind bucket parameter '%s' (add "
                "'WHERE <column> = bucket.%s')",
                b->d->params.v[k], b->d->params.v[k]);
  }
  if (rc == 0 && !b->d->is_stream) {
    /* Order the row-side expressions by parameter position. */
    struct name_list ordered = {NULL, 0};
    for (k = 0; rc == 0 && k < b->d->params.n; k++)
      rc = names_add(&ordered, b->param_exprs.v[bound[k] - 1]);
    names_free(&b->param_exprs);
    b->param_exprs = ordered;
    if (rc != 0)
      rc = oom(b->L, b->node);
  }
  free(bound);
  return rc;
}

static char *build_row_sql(struct dq_build *b, const struct data_query *dq) {
  struct ps__buf sql;
  char *from = psd_sql_text(b->q, b->sel->table_tok, b->sel->from_end);
  size_t k;
  if (!from)
    return NULL;
  ps__buf_init(&sql, PS_BUF_DEFAULT_MAX);
  ps__buf_printf(&sql, "SELECT CAST((%s) AS TEXT)", b->id_expr);
  for (k = 0; k < b->param_exprs.n; k++)
    ps__buf_printf(&sql, ", (%s)", b->param_exprs.v[k]);
  for (k = 0; k < dq->keys.n; k++)
    ps__buf_printf(&sql, ", (%s)", b->exprs.v[k]);
  ps__buf_printf(&sql, " FROM %s WHERE rowid = ?1", from);
  for (k = 0; k < b->filters.n; k++)
    ps__buf_printf(&sql, " AND (%s)", b->filters.v[k]);
  free(from);
  return ps__buf_take(&sql);
}

static int init_data_query(struct dq_build *b, struct data_query *dq,
                           size_t index) {
  const struct psd_select *sel = b->sel;
  const char *type = sel->alias ? sel->alias : sel->table;
  char name[512];
  if (b->d->is_stream && index != (size_t)-1)
    snprintf(name, sizeof(name), "%s|%zu", b->d->name, index);
  else
    snprintf(name, sizeof(name), "%s", b->d->name);
  dq->table = strdup(sel->table);
  dq->object_type = strdup(type);
  dq->bucket_name = strdup(name);
  if (!dq->table || !dq->object_type || !dq->bucket_name)
    return oom(b->L, b->node);
  return 0;
}

static int compile_data_select(struct dq_build *b, struct data_query *dq,
                               size_t index) {
  if (!b->sel->table)
    return fail(b->L, node_line(b->node), "data query needs FROM <table>");
  b->self = b->sel->alias ? b->sel->alias : b->sel->table;
  if (init_data_query(b, dq, index) != 0 || add_select_items(b, dq) != 0 ||
      find_id(b, dq) != 0 || compile_where(b, dq) != 0)
    return -1;
  dq->param_count = b->param_exprs.n;
  dq->row_sql = build_row_sql(b, dq);
  if (!dq->row_sql)
    return oom(b->L, b->node);
  if (check_sql(b->L, b->node, dq->row_sql,
                b->d->is_stream ? "stream query" : "data query") != 0)
    return -1;
  return names_add_unique(&b->L->cfg->tables, dq->table, 1) != 0
             ? oom(b->L, b->node)
             : 0;
}

/* index: the query's position in a multi-query stream, or -1. */
static int compile_data_query_at(struct loader *L, struct definition *d,
                                 const yaml_node_t *node, size_t index) {
  struct psd_sql q;
  struct psd_select sel;
  struct psd_sql_err e;
  struct dq_build b;
  struct data_query *dq;
  int rc = -1;
  if (psd_sql_tokenize(scalar(node), &q, &e) != 0)
    return fail_sql(L, node, &e, d->is_stream ? "stream query" : "data query");
  memset(&b, 0, sizeof(b));
  b.L = L;
  b.d = d;
  b.node = node;
  b.q = &q;
  b.sel = &sel;
  if (psd_sql_parse_select(&q, 0, q.count, &sel, &e) != 0) {
    fail_sql(L, node, &e, d->is_stream ? "stream query" : "data query");
  } else {
    APPEND(d->dqs, d->dq_count, dq);
    rc = dq ? compile_data_select(&b, dq, index) : oom(L, node);
  }
  dq_build_free(&b);
  psd_select_free(&sel);
  psd_sql_free(&q);
  return rc;
}

static int compile_data_query(struct loader *L, struct definition *d,
                              const yaml_node_t *node, size_t index) {
  (void)index;
  return compile_data_query_at(L, d, node, (size_t)-1);
}

static int compile_stream_query(struct loader *L, struct definition *d,
                                const yaml_node_t *node, size_t index) {
  return compile_data_query_at(L, d, node, index);
}

/* --- Definitions ----------------------------------------------------- */

static struct definition *add_definition(struct loader *L,
                                         const yaml_node_t *key) {
  const char *name = scalar(key);
  struct psd_sync_config *cfg = L->cfg;
  struct definition *d;
  size_t i;
  if (!name || !*name) {
    fail(L, node_line(key), "definition names must be non-empty strings");
    return NULL;
  }
  for (i = 0; i < cfg->def_count; i++) {
    if (strcmp(cfg->defs[i].name, name) == 0) {
      fail(L, node_line(key), "duplicate definition name '%s'", name);
      return NULL;
    }
  }
  APPEND(cfg->defs, cfg->def_count, d);
  if (!d || !(d->name = strdup(name))) {
    oom(L, key);
    return NULL;
  }
  d->priority = DEFAULT_PRIORITY;
  return d;
}

static int load_bucket_definition(struct loader *L, const yaml_node_t *key,
                                  const yaml_node_t *value) {
  const yaml_node_t *params = NULL, *data = NULL;
  yaml_node_pair_t *p;
  struct definition *d = add_definition(L, key);
  int ignored;
  if (!d || expect_mapping(L, value, "a bucket definition") != 0)
    return -1;
  d->is_default = 1;
  for (p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
    const char *name = scalar(k);
    if (name && strcmp(name, "parameters") == 0)
      params = v;
    else if (name && strcmp(name, "data") == 0)
      data = v;
    else if (name && strcmp(name, "priority") == 0) {
      if (parse_priority(L, v, &d->priority) != 0)
        return -1;
    } else if (name &&
               strcmp(name, "accept_potentially_dangerous_queries") == 0) {
      if (parse_bool(L, v, &ignored) != 0)
        return -1;
    } else {
      return fail(L, node_line(k), "unsupported key '%s' in bucket definition",
                  name ? name : "?");
    }
  }
  if (!data)
    return fail(L, node_line(key), "bucket definition '%s' has no data",
                d->name);
  if (params &&
      for_each_query(L, d, params, "parameters", compile_param_query) != 0)
    return -1;
  return for_each_query(L, d, data, "data", compile_data_query);
}

/* The stream's query node(s): `query` (single) or `queries` (list). */
static int compile_stream_queries(struct loader *L, struct definition *d,
                                  const yaml_node_t *key,
                                  const yaml_node_t *query,
                                  const yaml_node_t *queries) {
  if (!query == !queries)
    return fail(L, node_line(key),
                "stream '%s' needs exactly one of query "
                "and queries",
                d->name);
  if (query) {
    if (!scalar(query))
      return fail(L, node_line(query), "query must be a string");
    return compile_stream_query(L, d, query, (size_t)-1);
  }
  if (scalar(queries))
    return compile_stream_query(L, d, queries, (size_t)-1);
  if (queries->type == YAML_SEQUENCE_NODE &&
      queries->data.sequence.items.top - queries->data.sequence.items.start ==
          1 &&
      scalar(node_at(L, *queries->data.sequence.items.start)))
    return compile_stream_query(
        L, d, node_at(L, *queries->data.sequence.items.start), (size_t)-1);
  return for_each_query(L, d, queries, "queries", compile_stream_query);
}

static int load_stream(struct loader *L, const yaml_node_t *key,
                       const yaml_node_t *value) {
  const yaml_node_t *query = NULL, *queries = NULL;
  yaml_node_pair_t *p;
  struct definition *d = add_definition(L, key);
  int ignored;
  if (!d || expect_mapping(L, value, "a stream") != 0)
    return -1;
  d->is_stream = 1;
  for (p = value->data.mapping.pairs.start; p < value->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
    const char *name = scalar(k);
    int rc = 0;
    if (name && strcmp(name, "query") == 0)
      query = v;
    else if (name && strcmp(name, "queries") == 0)
      queries = v;
    else if (name && strcmp(name, "priority") == 0)
      rc = parse_priority(L, v, &d->priority);
    else if (name && strcmp(name, "auto_subscribe") == 0)
      rc = parse_bool(L, v, &d->is_default);
    else if (name && strcmp(name, "accept_potentially_dangerous_queries") == 0)
      rc = parse_bool(L, v, &ignored);
    else
      rc = fail(L, node_line(k), "unsupported key '%s' in stream",
                name ? name : "?");
    if (rc != 0)
      return -1;
  }
  return compile_stream_queries(L, d, key, query, queries);
}

typedef int (*definition_fn)(struct loader *L, const yaml_node_t *key,
                             const yaml_node_t *value);

static int load_definitions(struct loader *L, const yaml_node_t *map,
                            const char *what, definition_fn fn) {
  yaml_node_pair_t *p;
  if (expect_mapping(L, map, what) != 0)
    return -1;
  for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
       p++) {
    if (fn(L, node_at(L, p->key), node_at(L, p->value)) != 0)
      return -1;
  }
  return 0;
}

static int load_root(struct loader *L, const yaml_node_t *root) {
  yaml_node_pair_t *p;
  if (!root)
    return fail(L, 1, "the sync config is empty");
  if (expect_mapping(L, root, "the sync config") != 0)
    return -1;
  for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
    const char *name = scalar(k);
    int rc;
    if (name && strcmp(name, "bucket_definitions") == 0)
      rc = load_definitions(L, v, "bucket_definitions", load_bucket_definition);
    else if (name && strcmp(name, "streams") == 0)
      rc = load_definitions(L, v, "streams", load_stream);
    else if (name && strcmp(name, "config") == 0)
      rc = expect_mapping(L, v, "config");
    else
      rc = fail(L, node_line(k), "unsupported top-level key '%s'",
                name ? name : "?");
    if (rc != 0)
      return -1;
  }
  if (L->cfg->def_count == 0)
    return fail(L, node_line(root),
                "the sync config defines no bucket_definitions or streams");
  return 0;
}

int psd_sync_config_load(const char *yaml, size_t len, sqlite3 *source,
                         struct psd_sync_config **out, char *err,
                         size_t errlen) {
  yaml_parser_t parser;
  yaml_document_t doc;
  struct loader L;
  int rc;
  *out = NULL;
  memset(&L, 0, sizeof(L));
  L.source = source;
  L.err = err;
  L.errlen = errlen;
  L.doc = &doc;
  if (!yaml_parser_initialize(&parser))
    return fail(&L, 0, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
  if (!yaml_parser_load(&parser, &doc)) {
    rc =
        fail(&L, (int)parser.problem_mark.line + 1, "YAML syntax error: %s%s%s",
             parser.problem ? parser.problem : "unknown",
             parser.context ? " " : "", parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return rc;
  }
  L.cfg = calloc(1, sizeof(*L.cfg));
  rc = L.cfg ? load_root(&L, yaml_document_get_root_node(&doc))
             : fail(&L, 0, "out of memory");
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (rc != 0) {
    psd_sync_config_free(L.cfg);
    return -1;
  }
  *out = L.cfg;
  return 0;
}

/* --- Accessors ------------------------------------------------------- */

size_t psd_sync_config_table_count(const struct psd_sync_config *cfg) {
  return cfg->tables.n;
}

const char *psd_sync_config_table(const struct psd_sync_config *cfg, size_t i) {
  return i < cfg->tables.n ? cfg->tables.v[i] : NULL;
}

size_t psd_sync_config_stream_count(const struct psd_sync_config *cfg) {
  return cfg->def_count;
}

const char *psd_sync_config_stream_name(const struct psd_sync_config *cfg,
                                        size_t i) {
  return i < cfg->def_count ? cfg->defs[i].name : NULL;
}

int psd_sync_config_stream_is_default(const struct psd_sync_config *cfg,
                                      size_t i) {
  return i < cfg->def_count ? cfg->defs[i].is_default : 0;
}

/* --- Row side -------------------------------------------------------- */

static int eval_fail(char *err, size_t errlen, const char *fmt, ...)
    PS_PRINTF(3, 4);

static int eval_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err && errlen) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Appends "1#<name>[" ... "]" for params in columns [first, first+n) of
 * stmt. Returns 1 if a parameter is NULL (no bucket), 0 otherwise. */
static int row_bucket_id(struct ps__buf *out, const char *name,
                         sqlite3_stmt *stmt, int first, size_t n) {
  size_t k;
  ps__buf_printf(out, BUCKET_VERSION "#%s[", name);
  for (k = 0; k < n; k++) {
    sqlite3_value *v = sqlite3_column_value(stmt, first + (int)k);
    if (sqlite3_value_type(v) == SQLITE_NULL ||
        sqlite3_value_type(v) == SQLITE_BLOB)
      return 1;
    if (k)
      ps__buf_putc(out, ',');
    psd_json_append_value(out, v);
  }
  ps__buf_putc(out, ']');
  return 0;
}

static void row_data(struct ps__buf *out, const struct data_query *dq,
                     sqlite3_stmt *stmt, int first) {
  size_t k;
  int any = 0;
  ps__buf_putc(out, '{');
  for (k = 0; k < dq->keys.n; k++) {
    sqlite3_value *v = sqlite3_column_value(stmt, first + (int)k);
    if (sqlite3_value_type(v) == SQLITE_BLOB)
      continue; /* No JSON form; the service drops these too. */
    if (any++)
      ps__buf_putc(out, ',');
    psd_json_append_string(out, dq->keys.v[k], strlen(dq->keys.v[k]));
    ps__buf_putc(out, ':');
    psd_json_append_value(out, v);
  }
  ps__buf_putc(out, '}');
}

/* Reports the row's result for dq (if it has one). */
static int evaluate_query_row(const struct data_query *dq, sqlite3 *source,
                              const struct psd_stmt_provider *stmts,
                              int64_t rowid, psd_row_cb cb, void *user_data,
                              char *err, size_t errlen) {
  sqlite3_stmt *stmt = NULL;
  struct ps__buf bucket, data;
  int rc, result = 0;
  if (stmts) {
    stmt = stmts->get(stmts->ctx, dq->row_sql, err, errlen);
    if (!stmt)
      return -1;
  } else if (sqlite3_prepare_v2(source, dq->row_sql, -1, &stmt, NULL) !=
             SQLITE_OK) {
    return eval_fail(err, errlen, "%s: %s", dq->bucket_name,
                     sqlite3_errmsg(source));
  }
  sqlite3_bind_int64(stmt, 1, rowid);
  rc = sqlite3_step(stmt);
  ps__buf_init(&bucket, PS_BUF_DEFAULT_MAX);
  ps__buf_init(&data, PS_BUF_DEFAULT_MAX);
  if (rc == SQLITE_ROW &&
      row_bucket_id(&bucket, dq->bucket_name, stmt, 1, dq->param_count) == 0) {
    const char *id = (const char *)sqlite3_column_text(stmt, 0);
    row_data(&data, dq, stmt, 1 + (int)dq->param_count);
    if (ps__buf_failed(&bucket) || ps__buf_failed(&data))
      result = eval_fail(err, errlen, "out of memory");
    else if (cb(user_data, ps__buf_cstr(&bucket), dq->object_type, id ? id : "",
                ps__buf_cstr(&data)) != 0)
      result = eval_fail(err, errlen, "row callback stopped the evaluation");
  } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    result = eval_fail(err, errlen, "%s: %s", dq->bucket_name,
                       sqlite3_errmsg(source));
  }
  ps__buf_free(&bucket);
  ps__buf_free(&data);
  if (stmts)
    sqlite3_reset(stmt);
  else
    sqlite3_finalize(stmt);
  return result;
}

int psd_sync_config_evaluate_row(const struct psd_sync_config *cfg,
                                 sqlite3 *source,
                                 const struct psd_stmt_provider *stmts,
                                 const char *table, int64_t rowid,
                                 psd_row_cb cb, void *user_data, char *err,
                                 size_t errlen) {
  size_t i, j;
  for (i = 0; i < cfg->def_count; i++) {
    const struct definition *d = &cfg->defs[i];
    for (j = 0; j < d->dq_count; j++) {
      if (sqlite3_stricmp(d->dqs[j].table, table) != 0)
        continue;
      if (evaluate_query_row(&d->dqs[j], source, stmts, rowid, cb, user_data,
                             err, errlen) != 0)
        return -1;
    }
  }
  return 0;
}

/* --- Request side ---------------------------------------------------- */

/* One way a request reaches a definition. */
struct way {
  const struct definition *def;
  int subscription; /* -1: default. */
  int priority;
  const char *sub_params; /* JSON text or NULL. */
  struct name_list seen;  /* Bucket ids reported this way. */
};

struct request_eval {
  sqlite3 *source;
  const struct psd_request *req;
  psd_bucket_cb cb;
  psd_stream_error_cb error_cb;
  void *user_data;
  char *err;
  size_t errlen;
};

/* Reports bucket_id once per way. */
static int emit_bucket(struct request_eval *r, struct way *w,
                       const char *bucket_id) {
  if (names_find(&w->seen, bucket_id, 0) >= 0)
    return 0;
  if (names_add(&w->seen, bucket_id) != 0)
    return eval_fail(r->err, r->errlen, "out of memory");
  if (r->cb(r->user_data, bucket_id, w->priority, w->def->name,
            w->subscription < 0, w->subscription) != 0)
    return eval_fail(r->err, r->errlen, "bucket callback stopped");
  return 0;
}

static int report_error(struct request_eval *r, const struct way *w,
                        const char *stream, const char *message) {
  if (r->error_cb &&
      r->error_cb(r->user_data, stream, w ? w->subscription : -1, message) != 0)
    return eval_fail(r->err, r->errlen, "error callback stopped");
  return 0;
}

/* A failed request-side statement: an SQL error (bad parameters, ...) is
 * the stream's problem; anything else fails the request. */
static int sql_failure(struct request_eval *r, const struct way *w, int rc) {
  const char *msg = sqlite3_errmsg(r->source);
  if (rc == SQLITE_ERROR || rc == SQLITE_MISMATCH || rc == SQLITE_CONSTRAINT)
    return report_error(r, w, w->def->name, msg);
  return eval_fail(r->err, r->errlen, "%s: %s", w->def->name, msg);
}

static void bind_request(sqlite3_stmt *stmt, const struct psd_request *req,
                         const char *sub_params) {
  int n = sqlite3_bind_parameter_count(stmt);
  if (n >= 1 && req->user_id)
    sqlite3_bind_text(stmt, 1, req->user_id, -1, SQLITE_STATIC);
  if (n >= 2)
    sqlite3_bind_text(stmt, 2,
                      req->jwt_payload_json ? req->jwt_payload_json : "{}", -1,
                      SQLITE_STATIC);
  if (n >= 3)
    sqlite3_bind_text(stmt, 3, req->params_json ? req->params_json : "{}", -1,
                      SQLITE_STATIC);
  if (n >= 4 && sub_params)
    sqlite3_bind_text(stmt, 4, sub_params, -1, SQLITE_STATIC);
}

/* Runs a request-side statement; each result row goes to row_fn. Returns
 * 0, 1 after reporting an SQL error for the stream, or -1. */
typedef int (*result_row_fn)(struct request_eval *r, struct way *w,
                             sqlite3_stmt *stmt, void *ctx);

static int run_request_sql(struct request_eval *r, struct way *w,
                           const char *sql, result_row_fn row_fn, void *ctx) {
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2(r->source, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK) {
    bind_request(stmt, r->req, w->sub_params);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (row_fn(r, w, stmt, ctx) != 0) {
        sqlite3_finalize(stmt);
        return -1;
      }
    }
  }
  if (rc != SQLITE_DONE) {
    rc = sql_failure(r, w, rc);
    sqlite3_finalize(stmt);
    return rc < 0 ? -1 : 1;
  }
  sqlite3_finalize(stmt);
  return 0;
}

/* A parameter query row: a bucket with its values in parameter order. */
static int param_row(struct request_eval *r, struct way *w, sqlite3_stmt *stmt,
                     void *ctx) {
  const struct param_query *pq = ctx;
  struct ps__buf *values, id;
  size_t k, n = w->def->params.n;
  int rc = -1;
  values = calloc(n ? n : 1, sizeof(*values));
  if (!values)
    return eval_fail(r->err, r->errlen, "out of memory");
  for (k = 0; k < pq->column_count; k++) {
    ps__buf_init(&values[pq->slot[k]], PS_BUF_DEFAULT_MAX);
    psd_json_append_value(&values[pq->slot[k]],
                          sqlite3_column_value(stmt, (int)k));
  }
  ps__buf_init(&id, PS_BUF_DEFAULT_MAX);
  ps__buf_printf(&id, BUCKET_VERSION "#%s[", w->def->name);
  for (k = 0; k < n; k++) {
    const char *v = ps__buf_cstr(&values[k]);
    ps__buf_printf(&id, "%s%s", k ? "," : "", *v ? v : "null");
  }
  ps__buf_putc(&id, ']');
  if (!ps__buf_failed(&id))
    rc = emit_bucket(r, w, ps__buf_cstr(&id));
  else
    eval_fail(r->err, r->errlen, "out of memory");
  for (k = 0; k < n; k++)
    ps__buf_free(&values[k]);
  free(values);
  ps__buf_free(&id);
  return rc;
}

static int evaluate_bucket_definition(struct request_eval *r, struct way *w) {
  size_t i;
  char id[600];
  if (w->def->pq_count == 0) {
    snprintf(id, sizeof(id), BUCKET_VERSION "#%s[]", w->def->name);
    return emit_bucket(r, w, id);
  }
  for (i = 0; i < w->def->pq_count; i++) {
    int rc = run_request_sql(r, w, w->def->pqs[i].sql, param_row,
                             (void *)&w->def->pqs[i]);
    if (rc < 0)
      return -1;
  }
  return 0;
}

/* The JSON values one stream parameter takes (NULLs dropped). */
static int collect_value(struct request_eval *r, struct way *w,
                         sqlite3_stmt *stmt, void *ctx) {
  struct name_list *values = ctx;
  sqlite3_value *v = sqlite3_column_value(stmt, 0);
  struct ps__buf json;
  int rc = 0;
  (void)w;
  if (sqlite3_value_type(v) == SQLITE_NULL)
    return 0;
  ps__buf_init(&json, PS_BUF_DEFAULT_MAX);
  if (psd_json_append_value(&json, v) == 0)
    rc = ps__buf_failed(&json)
             ? -1
             : names_add_unique(values, ps__buf_cstr(&json), 0);
  ps__buf_free(&json);
  return rc != 0 ? eval_fail(r->err, r->errlen, "out of memory") : 0;
}

/* Emits name[v...] for every combination of the parameters' values. */
static int emit_combinations(struct request_eval *r, struct way *w,
                             const struct data_query *dq,
                             const struct name_list *values, size_t k,
                             struct ps__buf *prefix) {
  size_t i, len = prefix->len;
  int rc = 0;
  if (k == dq->bind_count) {
    ps__buf_putc(prefix, ']');
    rc = ps__buf_failed(prefix) ? eval_fail(r->err, r->errlen, "out of memory")
                                : emit_bucket(r, w, ps__buf_cstr(prefix));
    ps__buf_truncate(prefix, len);
    return rc;
  }
  for (i = 0; rc == 0 && i < values[k].n; i++) {
    ps__buf_printf(prefix, "%s%s", k ? "," : "", values[k].v[i]);
    rc = emit_combinations(r, w, dq, values, k + 1, prefix);
    ps__buf_truncate(prefix, len);
  }
  return rc;
}

static int evaluate_stream_query(struct request_eval *r, struct way *w,
                                 const struct data_query *dq) {
  struct name_list *values = calloc(dq->bind_count + 1, sizeof(*values));
  struct ps__buf prefix;
  size_t k;
  int rc = 0;
  if (!values)
    return eval_fail(r->err, r->errlen, "out of memory");
  for (k = 0; rc == 0 && k < dq->bind_count; k++)
    rc = run_request_sql(r, w, dq->binds[k].sql, collect_value, &values[k]);
  ps__buf_init(&prefix, PS_BUF_DEFAULT_MAX);
  ps__buf_printf(&prefix, BUCKET_VERSION "#%s[", dq->bucket_name);
  if (rc == 0)
    rc = emit_combinations(r, w, dq, values, 0, &prefix);
  ps__buf_free(&prefix);
  for (k = 0; k < dq->bind_count; k++)
    names_free(&values[k]);
  free(values);
  return rc < 0 ? -1 : 0;
}

/* Explicit subscriptions must pass a JSON object with every
 * subscription.parameter() the stream uses. Returns 0 when fine, 1 after
 * reporting a problem, -1 on failure. */
static int check_subscription_params(struct request_eval *r, struct way *w) {
  sqlite3_stmt *stmt = NULL;
  size_t k;
  int rc = sqlite3_prepare_v2(
      r->source, "SELECT json_type(?1) = 'object', json_type(?1, ?2)", -1,
      &stmt, NULL);
  if (rc != SQLITE_OK)
    return eval_fail(r->err, r->errlen, "%s", sqlite3_errmsg(r->source));
  for (k = 0; rc == SQLITE_OK && k <= w->def->sub_params.n; k++) {
    char path[160], msg[256];
    const char *name = k < w->def->sub_params.n ? w->def->sub_params.v[k] : "";
    snprintf(path, sizeof(path), "$.\"%s\"", name);
    sqlite3_bind_text(stmt, 1, w->sub_params, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(stmt) != SQLITE_ROW || !sqlite3_column_int(stmt, 0)) {
      snprintf(msg, sizeof(msg),
               "subscription parameters must be a JSON "
               "object");
      rc = SQLITE_ERROR;
    } else if (k < w->def->sub_params.n &&
               sqlite3_column_type(stmt, 1) == SQLITE_NULL) {
      snprintf(msg, sizeof(msg), "missing subscription parameter '%s'", name);
      rc = SQLITE_ERROR;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return report_error(r, w, w->def->name, msg) < 0 ? -1 : 1;
    }
  }
  sqlite3_finalize(stmt);
  return 0;
}

static int evaluate_way(struct request_eval *r, struct way *w) {
  size_t i;
  int rc = 0;
  if (!w->def->is_stream)
    rc = evaluate_bucket_definition(r, w);
  else if (w->subscription >= 0)
    rc = check_subscription_params(r, w);
  for (i = 0; rc == 0 && w->def->is_stream && i < w->def->dq_count; i++)
    rc = evaluate_stream_query(r, w, &w->def->dqs[i]);
  names_free(&w->seen);
  return rc < 0 ? -1 : 0;
}

static const struct definition *
find_definition(const struct psd_sync_config *cfg, const char *name) {
  size_t i;
  for (i = 0; name && i < cfg->def_count; i++) {
    if (strcmp(cfg->defs[i].name, name) == 0)
      return &cfg->defs[i];
  }
  return NULL;
}

static int evaluate_subscription(struct request_eval *r,
                                 const struct psd_sync_config *cfg,
                                 size_t index) {
  const struct psd_subscription *s = &r->req->subscriptions[index];
  struct way w;
  char msg[300];
  memset(&w, 0, sizeof(w));
  w.def = find_definition(cfg, s->stream);
  w.subscription = (int)index;
  if (!w.def) {
    snprintf(msg, sizeof(msg), "unknown stream '%s'",
             s->stream ? s->stream : "");
    return report_error(r, &w, s->stream ? s->stream : "", msg);
  }
  w.priority = s->override_priority >= 0 && s->override_priority <= 3
                   ? s->override_priority
                   : w.def->priority;
  w.sub_params = s->params_json ? s->params_json : "{}";
  return evaluate_way(r, &w);
}

int psd_sync_config_request_buckets(const struct psd_sync_config *cfg,
                                    sqlite3 *source,
                                    const struct psd_request *req,
                                    psd_bucket_cb cb,
                                    psd_stream_error_cb error_cb,
                                    void *user_data, char *err, size_t errlen) {
  struct request_eval r = {source, req, cb, error_cb, user_data, err, errlen};
  size_t i;
  for (i = 0; req->include_defaults && i < cfg->def_count; i++) {
    struct way w;
    if (!cfg->defs[i].is_default)
      continue;
    memset(&w, 0, sizeof(w));
    w.def = &cfg->defs[i];
    w.subscription = -1;
    w.priority = w.def->priority;
    if (evaluate_way(&r, &w) != 0)
      return -1;
  }
  for (i = 0; i < req->subscription_count; i++) {
    if (evaluate_subscription(&r, cfg, i) != 0)
      return -1;
  }
  return 0;
}
