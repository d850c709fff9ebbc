/*
 * sync_sql.c: tokenizer, top-level structure and PowerSync function
 * rewriting for sync config queries (see sync_sql.h for why we stop short
 * of parsing SQL: SQLite validates and evaluates what we leave alone).
 */
#include "sync_sql.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_INDEX ((size_t)-1)

static int set_err(struct psd_sql_err *err, size_t offset, const char *fmt, ...)
    PS_PRINTF(3, 4);

static int set_err(struct psd_sql_err *err, size_t offset, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
  va_end(ap);
  err->offset = offset;
  return -1;
}

/* --- Tokenizer ------------------------------------------------------- */

static int is_ident_start(unsigned char c) {
  return isalpha(c) || c == '_' || c >= 0x80;
}

static int is_ident_char(unsigned char c) {
  return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Length of a quoted token starting at s (quote character s[0], closing
 * character close, doubled close = escaped), or 0 when unterminated. */
static size_t quoted_len(const char *s, char close) {
  size_t i = 1;
  for (;;) {
    if (!s[i])
      return 0;
    if (s[i] == close) {
      if (s[i + 1] == close && close != ']') {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
}

static size_t number_len(const char *s) {
  size_t i = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    i = 2;
    while (isxdigit((unsigned char)s[i]))
      i++;
    return i;
  }
  while (isdigit((unsigned char)s[i]))
    i++;
  if (s[i] == '.') {
    i++;
    while (isdigit((unsigned char)s[i]))
      i++;
  }
  if ((s[i] == 'e' || s[i] == 'E') && (isdigit((unsigned char)s[i + 1]) ||
                                       ((s[i + 1] == '+' || s[i + 1] == '-') &&
                                        isdigit((unsigned char)s[i + 2])))) {
    i += 2;
    while (isdigit((unsigned char)s[i]))
      i++;
  }
  return i;
}

static size_t operator_len(const char *s) {
  static const char *const multi[] = {
      "->>", "->", "||", "<=", ">=", "<>", "!=", "==", "<<", ">>"};
  size_t k;
  for (k = 0; k < sizeof(multi) / sizeof(multi[0]); k++) {
    size_t n = strlen(multi[k]);
    if (strncmp(s, multi[k], n) == 0)
      return n;
  }
  return strchr("(),.;=<>+-*/%&|~", s[0]) ? 1 : 0;
}

/* Skips whitespace and comments from i; returns the new position, or
 * NO_INDEX for an unterminated block comment. */
static size_t skip_space(const char *s, size_t i) {
  for (;;) {
    if (isspace((unsigned char)s[i])) {
      i++;
    } else if (s[i] == '-' && s[i + 1] == '-') {
      while (s[i] && s[i] != '\n')
        i++;
    } else if (s[i] == '/' && s[i + 1] == '*') {
      const char *close = strstr(s + i + 2, "*/");
      if (!close)
        return NO_INDEX;
      i = (size_t)(close - s) + 2;
    } else {
      return i;
    }
  }
}

/* Classifies the token at s: sets *type and returns its length, or 0 with
 * err for something we cannot tokenize. */
static size_t scan_token(const char *s, size_t at, enum psd_tok_type *type,
                         struct psd_sql_err *err) {
  const char *p = s + at;
  unsigned char c = (unsigned char)p[0];
  size_t n;
  if ((c == 'x' || c == 'X') && p[1] == '\'') {
    *type = PSD_TOK_BLOB;
    n = quoted_len(p + 1, '\'');
    if (!n) {
      set_err(err, at, "unterminated blob literal");
      return 0;
    }
    return n + 1;
  }
  if (is_ident_start(c)) {
    n = 1;
    while (is_ident_char((unsigned char)p[n]))
      n++;
    *type = PSD_TOK_IDENT;
    return n;
  }
  if (c == '\'' || c == '"' || c == '`' || c == '[') {
    *type = c == '\'' ? PSD_TOK_STRING : PSD_TOK_QIDENT;
    n = quoted_len(p, c == '[' ? ']' : (char)c);
    if (!n)
      set_err(err, at, "unterminated %s",
              c == '\'' ? "string literal" : "quoted identifier");
    return n;
  }
  if (isdigit(c) || (c == '.' && isdigit((unsigned char)p[1]))) {
    *type = PSD_TOK_NUMBER;
    return number_len(p);
  }
  if (c == '?' || c == ':' || c == '@' || c == '$') {
    set_err(err, at, "SQL parameters ('%c') are not supported", c);
    return 0;
  }
  n = operator_len(p);
  *type = PSD_TOK_OP;
  if (!n)
    set_err(err, at, "unexpected character '%c'", c);
  return n;
}

static int push_token(struct psd_sql *q, size_t *cap, enum psd_tok_type type,
                      size_t start, size_t len) {
  if (q->count == *cap) {
    size_t ncap = *cap ? *cap * 2 : 32;
    struct psd_tok *t = realloc(q->toks, ncap * sizeof(*t));
    if (!t)
      return -1;
    q->toks = t;
    *cap = ncap;
  }
  q->toks[q->count].type = type;
  q->toks[q->count].start = start;
  q->toks[q->count].len = len;
  q->count++;
  return 0;
}

int psd_sql_tokenize(const char *text, struct psd_sql *out,
                     struct psd_sql_err *err) {
  size_t i = 0, cap = 0;
  out->text = text;
  out->toks = NULL;
  out->count = 0;
  for (;;) {
    enum psd_tok_type type = PSD_TOK_OP;
    size_t n;
    i = skip_space(text, i);
    if (i == NO_INDEX) {
      psd_sql_free(out);
      return set_err(err, 0, "unterminated comment");
    }
    if (!text[i])
      break;
    n = scan_token(text, i, &type, err);
    if (!n || push_token(out, &cap, type, i, n) != 0) {
      if (n)
        set_err(err, i, "out of memory");
      psd_sql_free(out);
      return -1;
    }
    i += n;
  }
  if (out->count && psd_sql_is(out, out->count - 1, ";"))
    out->count--;
  for (i = 0; i < out->count; i++) {
    if (psd_sql_is(out, i, ";")) {
      size_t at = out->toks[i].start;
      psd_sql_free(out);
      return set_err(err, at, "only one SQL statement is allowed");
    }
  }
  return 0;
}

void psd_sql_free(struct psd_sql *q) {
  free(q->toks);
  q->toks = NULL;
  q->count = 0;
}

int psd_sql_is(const struct psd_sql *q, size_t i, const char *word) {
  const struct psd_tok *t;
  size_t n = strlen(word), k;
  if (i >= q->count)
    return 0;
  t = &q->toks[i];
  if (t->len != n || (t->type != PSD_TOK_IDENT && t->type != PSD_TOK_OP))
    return 0;
  for (k = 0; k < n; k++) {
    if (tolower((unsigned char)q->text[t->start + k]) !=
        tolower((unsigned char)word[k]))
      return 0;
  }
  return 1;
}

char *psd_sql_tok_name(const struct psd_sql *q, size_t i) {
  const struct psd_tok *t = &q->toks[i];
  const char *s = q->text + t->start;
  char *out = malloc(t->len + 1), close;
  size_t k, n = 0;
  if (!out)
    return NULL;
  if (t->type != PSD_TOK_QIDENT && t->type != PSD_TOK_STRING) {
    memcpy(out, s, t->len);
    out[t->len] = '\0';
    return out;
  }
  close = s[0] == '[' ? ']' : s[0];
  for (k = 1; k + 1 < t->len; k++) {
    out[n++] = s[k];
    if (s[k] == close && close != ']')
      k++; /* Doubled quote. */
  }
  out[n] = '\0';
  return out;
}

char *psd_sql_text(const struct psd_sql *q, size_t a, size_t b) {
  size_t start, len;
  char *out;
  if (a >= b)
    return calloc(1, 1);
  start = q->toks[a].start;
  len = q->toks[b - 1].start + q->toks[b - 1].len - start;
  out = malloc(len + 1);
  if (out) {
    memcpy(out, q->text + start, len);
    out[len] = '\0';
  }
  return out;
}

/* --- Nesting --------------------------------------------------------- */

/* +1 for a token opening a nesting level, -1 for one closing it. */
static int nesting(const struct psd_sql *q, size_t i) {
  if (psd_sql_is(q, i, "(") || psd_sql_is(q, i, "CASE"))
    return 1;
  if (psd_sql_is(q, i, ")") || psd_sql_is(q, i, "END"))
    return -1;
  return 0;
}

size_t psd_sql_matching_close(const struct psd_sql *q, size_t open,
                              size_t end) {
  int depth = 0;
  size_t i;
  for (i = open; i < end; i++) {
    depth += nesting(q, i);
    if (depth == 0)
      return i;
    if (depth < 0)
      break;
  }
  return NO_INDEX;
}

size_t psd_sql_find_top(const struct psd_sql *q, size_t a, size_t b,
                        const char *word, size_t *pos, size_t max) {
  int depth = 0;
  size_t i, found = 0;
  for (i = a; i < b; i++) {
    int d = nesting(q, i);
    if (d < 0)
      depth--;
    if (depth == 0 && psd_sql_is(q, i, word)) {
      if (found < max)
        pos[found] = i;
      found++;
    }
    if (d > 0)
      depth++;
  }
  return found;
}

int psd_sql_split_and(const struct psd_sql *q, size_t a, size_t b,
                      size_t *starts, size_t *ends, size_t max) {
  int depth = 0, between = 0;
  size_t i, n = 0, start = a;
  for (i = a; i < b; i++) {
    depth += nesting(q, i);
    if (depth < 0)
      return -1;
    if (depth != 0)
      continue;
    if (psd_sql_is(q, i, "BETWEEN")) {
      between++;
    } else if (psd_sql_is(q, i, "AND")) {
      if (between) {
        between--;
        continue;
      }
      if (n == max)
        return -1;
      starts[n] = start;
      ends[n++] = i;
      start = i + 1;
    }
  }
  if (depth != 0 || n == max)
    return -1;
  starts[n] = start;
  ends[n++] = b;
  return (int)n;
}

/* --- PowerSync functions --------------------------------------------- */

struct fn_spec {
  const char *ns;
  const char *name;
  int takes_name; /* parameter('x') */
  enum psd_ref_kind kind;
  int family;
};

static const struct fn_spec FUNCTIONS[] = {
    {"request", "user_id", 0, PSD_REF_USER_ID, PSD_FAMILY_REQUEST},
    {"request", "jwt", 0, PSD_REF_JWT, PSD_FAMILY_REQUEST},
    {"request", "parameters", 0, PSD_REF_CONN, PSD_FAMILY_REQUEST},
    {"auth", "user_id", 0, PSD_REF_USER_ID, PSD_FAMILY_STREAM},
    {"auth", "parameters", 0, PSD_REF_JWT, PSD_FAMILY_STREAM},
    {"auth", "parameter", 1, PSD_REF_JWT_CLAIM, PSD_FAMILY_STREAM},
    {"connection", "parameters", 0, PSD_REF_CONN, PSD_FAMILY_STREAM},
    {"connection", "parameter", 1, PSD_REF_CONN_PARAM, PSD_FAMILY_STREAM},
    {"subscription", "parameters", 0, PSD_REF_SUB, PSD_FAMILY_STREAM},
    {"subscription", "parameter", 1, PSD_REF_SUB_PARAM, PSD_FAMILY_STREAM},
};

/* Namespaces whose members are plain names, not calls. */
static int is_field_namespace(const struct psd_sql *q, size_t i) {
  return psd_sql_is(q, i, "bucket") || psd_sql_is(q, i, "token_parameters") ||
         psd_sql_is(q, i, "user_parameters");
}

static int is_call_namespace(const struct psd_sql *q, size_t i) {
  return psd_sql_is(q, i, "request") || psd_sql_is(q, i, "auth") ||
         psd_sql_is(q, i, "connection") || psd_sql_is(q, i, "subscription");
}

static int same_name(const struct psd_sql *q, size_t i, const char *name) {
  return name && q->toks[i].type == PSD_TOK_IDENT && psd_sql_is(q, i, name);
}

/* Copies token i's unquoted name into ref->name. */
static int take_name(const struct psd_sql *q, size_t i, struct psd_ref *ref,
                     struct psd_sql_err *err) {
  char *name = psd_sql_tok_name(q, i);
  size_t n;
  if (!name)
    return set_err(err, q->toks[i].start, "out of memory");
  n = strlen(name);
  if (n >= sizeof(ref->name) || strchr(name, '"')) {
    free(name);
    return set_err(err, q->toks[i].start,
                   "unsupported parameter name (too long or contains '\"')");
  }
  memcpy(ref->name, name, n + 1);
  free(name);
  return 0;
}

static int parse_field_ref(const struct psd_sql *q, size_t i, size_t end,
                           struct psd_ref *ref, struct psd_sql_err *err) {
  size_t n = i + 2;
  if (n >= end ||
      (q->toks[n].type != PSD_TOK_IDENT && q->toks[n].type != PSD_TOK_QIDENT))
    return set_err(err, q->toks[i].start, "expected a name after '%.*s.'",
                   (int)q->toks[i].len, q->text + q->toks[i].start);
  if (n + 1 < end && psd_sql_is(q, n + 1, "("))
    return set_err(err, q->toks[i].start, "unsupported function '%.*s.%.*s()'",
                   (int)q->toks[i].len, q->text + q->toks[i].start,
                   (int)q->toks[n].len, q->text + q->toks[n].start);
  if (take_name(q, n, ref, err) != 0)
    return -1;
  ref->first = i;
  ref->end = n + 1;
  if (psd_sql_is(q, i, "bucket")) {
    ref->kind = PSD_REF_BUCKET;
    ref->family = PSD_FAMILY_BUCKET;
  } else if (psd_sql_is(q, i, "user_parameters")) {
    ref->kind = PSD_REF_CONN_PARAM;
    ref->family = PSD_FAMILY_REQUEST;
  } else {
    ref->kind = strcmp(ref->name, "user_id") == 0 ? PSD_REF_USER_ID
                                                  : PSD_REF_TOKEN_PARAM;
    ref->family = PSD_FAMILY_REQUEST;
  }
  return 1;
}

static const struct fn_spec *find_function(const struct psd_sql *q, size_t ns,
                                           size_t name) {
  size_t k;
  for (k = 0; k < sizeof(FUNCTIONS) / sizeof(FUNCTIONS[0]); k++) {
    if (psd_sql_is(q, ns, FUNCTIONS[k].ns) &&
        psd_sql_is(q, name, FUNCTIONS[k].name))
      return &FUNCTIONS[k];
  }
  return NULL;
}

static int parse_call_ref(const struct psd_sql *q, size_t i, size_t end,
                          struct psd_ref *ref, struct psd_sql_err *err) {
  size_t n = i + 2, close;
  const struct fn_spec *fn;
  if (n >= end || q->toks[n].type != PSD_TOK_IDENT)
    return 0;
  fn = find_function(q, i, n);
  if (n + 1 >= end || !psd_sql_is(q, n + 1, "(")) {
    if (!fn)
      return 0; /* A column of a table that happens to be called so. */
    return set_err(err, q->toks[i].start, "'%.*s.%s' must be called: %.*s.%s()",
                   (int)q->toks[i].len, q->text + q->toks[i].start, fn->name,
                   (int)q->toks[i].len, q->text + q->toks[i].start, fn->name);
  }
  close = psd_sql_matching_close(q, n + 1, end);
  if (!fn || close == NO_INDEX)
    return set_err(err, q->toks[i].start, "unsupported function '%.*s.%.*s()'",
                   (int)q->toks[i].len, q->text + q->toks[i].start,
                   (int)q->toks[n].len, q->text + q->toks[n].start);
  if (fn->takes_name) {
    if (close != n + 3 || q->toks[n + 2].type != PSD_TOK_STRING)
      return set_err(err, q->toks[i].start,
                     "%s.%s() takes one string literal argument", fn->ns,
                     fn->name);
    if (take_name(q, n + 2, ref, err) != 0)
      return -1;
  } else {
    if (close != n + 2)
      return set_err(err, q->toks[i].start, "%s.%s() takes no arguments",
                     fn->ns, fn->name);
    ref->name[0] = '\0';
  }
  ref->kind = fn->kind;
  ref->family = fn->family;
  ref->first = i;
  ref->end = close + 1;
  return 1;
}

int psd_sql_parse_ref(const struct psd_sql *q, size_t i, size_t end,
                      const char *not_ns, struct psd_ref *ref,
                      struct psd_sql_err *err) {
  if (i + 1 >= end || q->toks[i].type != PSD_TOK_IDENT ||
      !psd_sql_is(q, i + 1, ".") || same_name(q, i, not_ns))
    return 0;
  if (i > 0 && psd_sql_is(q, i - 1, "."))
    return 0; /* The second part of a qualified name. */
  if (is_field_namespace(q, i))
    return parse_field_ref(q, i, end, ref, err);
  if (is_call_namespace(q, i))
    return parse_call_ref(q, i, end, ref, err);
  return 0;
}

int psd_sql_first_ref(const struct psd_sql *q, size_t a, size_t b,
                      const char *not_ns, struct psd_ref *ref,
                      struct psd_sql_err *err) {
  size_t i;
  for (i = a; i < b; i++) {
    int rc = psd_sql_parse_ref(q, i, b, not_ns, ref, err);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* A JSON path string literal selecting key name: '$."name"' with the
 * prefix given ('$.' or '$.parameters.'). */
static void append_path(struct ps__buf *out, const char *prefix,
                        const char *name) {
  const char *p;
  ps__buf_printf(out, "'%s\"", prefix);
  for (p = name; *p; p++) {
    if (*p == '\'')
      ps__buf_putc(out, '\'');
    ps__buf_putc(out, *p);
  }
  ps__buf_puts(out, "\"'");
}

static void append_ref_sql(struct ps__buf *out, const struct psd_ref *ref) {
  static const char *const param[] = {"?1", "?2", "?2", "?2", "?3",
                                      "?3", "?4", "?4", ""};
  const char *p = param[ref->kind];
  switch (ref->kind) {
  case PSD_REF_JWT_CLAIM:
  case PSD_REF_CONN_PARAM:
  case PSD_REF_SUB_PARAM:
  case PSD_REF_TOKEN_PARAM:
    ps__buf_printf(out, "json_extract(%s, ", p);
    append_path(out, ref->kind == PSD_REF_TOKEN_PARAM ? "$.parameters." : "$.",
                ref->name);
    ps__buf_putc(out, ')');
    break;
  default:
    ps__buf_puts(out, p);
    break;
  }
}

static const char *family_name(int family) {
  switch (family) {
  case PSD_FAMILY_REQUEST:
    return "request functions (request.*, token_parameters, user_parameters)";
  case PSD_FAMILY_STREAM:
    return "stream functions (auth.*, connection.*, subscription.*)";
  default:
    return "bucket parameters";
  }
}

int psd_sql_rewrite(const struct psd_sql *q, size_t a, size_t b, int allowed,
                    const char *where, const char *not_ns,
                    psd_sql_name_cb on_sub_param, void *user_data,
                    struct ps__buf *out, struct psd_sql_err *err) {
  size_t i, copied;
  if (a >= b)
    return 0;
  copied = q->toks[a].start;
  for (i = a; i < b; i++) {
    struct psd_ref ref;
    int rc = psd_sql_parse_ref(q, i, b, not_ns, &ref, err);
    if (rc < 0)
      return -1;
    if (rc == 0)
      continue;
    if (!(ref.family & allowed))
      return set_err(err, q->toks[i].start, "%s cannot be used in %s",
                     family_name(ref.family), where);
    if (ref.kind == PSD_REF_SUB_PARAM && on_sub_param &&
        on_sub_param(user_data, ref.name) != 0)
      return set_err(err, q->toks[i].start, "out of memory");
    ps__buf_append(out, q->text + copied, q->toks[i].start - copied);
    append_ref_sql(out, &ref);
    copied = q->toks[ref.end - 1].start + q->toks[ref.end - 1].len;
    i = ref.end - 1;
  }
  ps__buf_append(out, q->text + copied,
                 q->toks[b - 1].start + q->toks[b - 1].len - copied);
  return ps__buf_failed(out) ? set_err(err, 0, "out of memory") : 0;
}

/* --- SELECT structure ------------------------------------------------ */

static int is_name_tok(const struct psd_sql *q, size_t i) {
  return i < q->count && (q->toks[i].type == PSD_TOK_IDENT ||
                          q->toks[i].type == PSD_TOK_QIDENT);
}

static int name_item(const struct psd_sql *q, struct psd_select_item *it) {
  size_t n = it->b - it->a, name_tok = NO_INDEX;
  it->expr_b = it->b;
  if (n == 1 && psd_sql_is(q, it->a, "*")) {
    it->star = 1;
  } else if (n == 3 && is_name_tok(q, it->a) && psd_sql_is(q, it->a + 1, ".") &&
             psd_sql_is(q, it->a + 2, "*")) {
    it->star = 1;
  } else if (n >= 3 && psd_sql_is(q, it->b - 2, "AS") &&
             is_name_tok(q, it->b - 1)) {
    name_tok = it->b - 1;
    it->expr_b = it->b - 2;
  } else if (n == 1 && is_name_tok(q, it->a)) {
    name_tok = it->a;
  } else if (n == 3 && is_name_tok(q, it->a) && psd_sql_is(q, it->a + 1, ".") &&
             is_name_tok(q, it->a + 2)) {
    name_tok = it->a + 2;
  }
  if (name_tok != NO_INDEX) {
    it->name = psd_sql_tok_name(q, name_tok);
    if (!it->name)
      return -1;
  }
  return 0;
}

static int parse_items(const struct psd_sql *q, size_t a, size_t b,
                       struct psd_select *out, struct psd_sql_err *err) {
  size_t commas = psd_sql_find_top(q, a, b, ",", NULL, 0), k, start = a;
  size_t *pos = malloc((commas + 1) * sizeof(size_t));
  if (!pos)
    return set_err(err, 0, "out of memory");
  psd_sql_find_top(q, a, b, ",", pos, commas);
  pos[commas] = b;
  out->items = calloc(commas + 1, sizeof(*out->items));
  if (!out->items) {
    free(pos);
    return set_err(err, 0, "out of memory");
  }
  for (k = 0; k <= commas; k++) {
    struct psd_select_item *it = &out->items[out->item_count++];
    it->a = start;
    it->b = pos[k];
    start = pos[k] + 1;
    if (it->a >= it->b) {
      size_t at = it->a < q->count ? q->toks[it->a].start : 0;
      free(pos);
      return set_err(err, at, "empty item in the SELECT list");
    }
    if (name_item(q, it) != 0) {
      free(pos);
      return set_err(err, 0, "out of memory");
    }
  }
  free(pos);
  return 0;
}

static int is_clause_keyword(const struct psd_sql *q, size_t i) {
  static const char *const words[] = {
      "WHERE",  "JOIN",  "LEFT",   "RIGHT",     "INNER",  "CROSS", "NATURAL",
      "FULL",   "OUTER", "ON",     "USING",     "GROUP",  "ORDER", "LIMIT",
      "HAVING", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "OFFSET"};
  size_t k;
  for (k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
    if (psd_sql_is(q, i, words[k]))
      return 1;
  }
  return 0;
}

/* FROM <table> [[AS] alias] starting at the table token i. */
static int parse_from(const struct psd_sql *q, size_t i, size_t b,
                      struct psd_select *out, struct psd_sql_err *err) {
  size_t at = i < q->count ? q->toks[i].start : q->toks[q->count - 1].start;
  if (i >= b || !is_name_tok(q, i))
    return set_err(err, at, "expected a table name after FROM");
  if (i + 1 < b && psd_sql_is(q, i + 1, "."))
    return set_err(err, at, "schema-qualified tables are not supported");
  out->table_tok = i;
  out->table = psd_sql_tok_name(q, i);
  if (!out->table)
    return set_err(err, at, "out of memory");
  i++;
  if (i < b && psd_sql_is(q, i, "AS")) {
    if (i + 1 >= b || !is_name_tok(q, i + 1))
      return set_err(err, q->toks[i].start, "expected an alias after AS");
    i++;
  }
  if (i < b && is_name_tok(q, i) && !is_clause_keyword(q, i)) {
    out->alias = psd_sql_tok_name(q, i);
    if (!out->alias)
      return set_err(err, at, "out of memory");
    i++;
  }
  out->from_end = i;
  if (i < b && !psd_sql_is(q, i, "WHERE"))
    return set_err(err, q->toks[i].start,
                   "unsupported '%.*s' after FROM %s (only one table and an "
                   "optional WHERE are supported)",
                   (int)q->toks[i].len, q->text + q->toks[i].start, out->table);
  return 0;
}

int psd_sql_parse_select(const struct psd_sql *q, size_t a, size_t b,
                         struct psd_select *out, struct psd_sql_err *err) {
  size_t from = NO_INDEX, where = NO_INDEX, items_end;
  memset(out, 0, sizeof(*out));
  out->end = b;
  if (a >= b || !psd_sql_is(q, a, "SELECT"))
    return set_err(err, a < q->count ? q->toks[a].start : 0,
                   "expected a SELECT query");
  if (psd_sql_is(q, a + 1, "DISTINCT") || psd_sql_is(q, a + 1, "ALL"))
    return set_err(err, q->toks[a + 1].start,
                   "SELECT DISTINCT/ALL is not supported");
  psd_sql_find_top(q, a + 1, b, "FROM", &from, 1);
  psd_sql_find_top(q, a + 1, b, "WHERE", &where, 1);
  items_end = from != NO_INDEX ? from : where != NO_INDEX ? where : b;
  if (parse_items(q, a + 1, items_end, out, err) != 0)
    return -1;
  if (from != NO_INDEX) {
    if (parse_from(q, from + 1, b, out, err) != 0)
      return -1;
    where = out->from_end < b ? out->from_end : NO_INDEX;
  }
  if (where != NO_INDEX) {
    if (where + 1 >= b)
      return set_err(err, q->toks[where].start, "empty WHERE clause");
    out->has_where = 1;
    out->where_a = where + 1;
  }
  return 0;
}

void psd_select_free(struct psd_select *s) {
  size_t k;
  for (k = 0; k < s->item_count; k++)
    free(s->items[k].name);
  free(s->items);
  free(s->table);
  free(s->alias);
  memset(s, 0, sizeof(*s));
}
