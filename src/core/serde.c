/*
 * serde.c: the serde emulation declared in serde.h.
 *
 * Each helper follows one serde_json code path: which bytes serde_json has
 * consumed when the error is raised decides the reported position, and
 * serde_json fills in the position of an error raised by serde itself (which
 * has none) only when the deserialize call of the enclosing value returns,
 * after that call has consumed blanks and a closing bracket.
 */
#include "serde.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bits of the field masks of struct ps__serde_struct. */
#define FIELD_BIT(i) (1u << (i))

int ps__serde_parse(struct ps__serde *d, struct ps__arena *arena,
                    const char *text, size_t len, char *err, size_t errlen) {
  struct ps__json_value *root = NULL;
  int rc;
  memset(d, 0, sizeof(*d));
  d->text = text ? text : "";
  d->len = text ? len : 0;
  d->err = err;
  d->errlen = err ? errlen : 0;
  if (d->errlen)
    d->err[0] = '\0';
  rc = ps__json_parse_ex(arena, d->text, d->len,
                         PS_JSON_KEEP_DUPLICATES | PS_JSON_PARTIAL, &root,
                         d->syntax_msg, sizeof(d->syntax_msg));
  if (rc == -2) {
    if (d->errlen)
      snprintf(d->err, d->errlen, "out of memory");
    return -1;
  }
  d->syntax = rc == -1;
  d->root = root;
  return 0;
}

int ps__serde_syntax_error(struct ps__serde *d) {
  if (d->errlen)
    snprintf(d->err, d->errlen, "%s", d->syntax_msg);
  return -1;
}

int ps__serde_finish(struct ps__serde *d) {
  return d->syntax ? ps__serde_syntax_error(d) : 0;
}

size_t ps__serde_skip_ws(const struct ps__serde *d, size_t at) {
  while (at < d->len) {
    char c = d->text[at];
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
      break;
    at++;
  }
  return at;
}

/* Writes message plus position to the error buffer. */
static int fail_message(struct ps__serde *d, size_t at, const char *message) {
  size_t line;
  size_t column;
  if (!d->errlen)
    return -1;
  if (at == PS_SERDE_NO_POSITION) {
    snprintf(d->err, d->errlen, "%s", message);
    return -1;
  }
  ps__json_position(d->text, d->len, at, &line, &column);
  snprintf(d->err, d->errlen, "%s at line %zu column %zu", message, line,
           column);
  return -1;
}

/* Like fail_message() for a message built in b; an allocation failure of b
 * is reported as such. */
static int fail_buf(struct ps__serde *d, size_t at, struct ps__buf *b) {
  int rc;
  if (ps__buf_failed(b) == PS_BUF_FAILED_NOMEM) {
    ps__buf_free(b);
    return fail_message(d, PS_SERDE_NO_POSITION, "out of memory");
  }
  rc = fail_message(d, at, ps__buf_cstr(b));
  ps__buf_free(b);
  return rc;
}

int ps__serde_fail_at(struct ps__serde *d, size_t at, const char *fmt, ...) {
  struct ps__buf b;
  va_list ap;
  ps__buf_init(&b, 0);
  va_start(ap, fmt);
  ps__buf_vprintf(&b, fmt, ap);
  va_end(ap);
  return fail_buf(d, at, &b);
}

/* Appends the UTF-8 code point cp as Rust's \u{..} escape. */
static void put_unicode_escape(struct ps__buf *out, unsigned long cp) {
  ps__buf_printf(out, "\\u{%lx}", cp);
}

/* Rust's Debug form of a string, which serde uses for unexpected strings:
 * quoted, with \0 \t \r \n \\ \" and \u{..} for control characters (C0, DEL,
 * C1) and the soft hyphen. Rust also escapes other non-printable and
 * grapheme-extending code points; those are copied as they are. The input is
 * valid UTF-8 (the JSON reader checks it). */
static void put_debug_string(struct ps__buf *out, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  ps__buf_putc(out, '"');
  while (i < n) {
    unsigned char c = u[i];
    if (c == 0xC2 && i + 1 < n && (u[i + 1] <= 0x9F || u[i + 1] == 0xAD)) {
      put_unicode_escape(out, u[i + 1]);
      i += 2;
      continue;
    }
    i++;
    switch (c) {
    case '\0':
      ps__buf_puts(out, "\\0");
      break;
    case '\t':
      ps__buf_puts(out, "\\t");
      break;
    case '\r':
      ps__buf_puts(out, "\\r");
      break;
    case '\n':
      ps__buf_puts(out, "\\n");
      break;
    case '\\':
      ps__buf_puts(out, "\\\\");
      break;
    case '"':
      ps__buf_puts(out, "\\\"");
      break;
    default:
      if (c < 0x20 || c == 0x7F)
        put_unicode_escape(out, c);
      else
        ps__buf_putc(out, (char)c);
    }
  }
  ps__buf_putc(out, '"');
}

void ps__serde_unexpected(struct ps__buf *out, const struct ps__json_value *v) {
  switch (v->type) {
  case PS_JSON_NULL:
    ps__buf_puts(out, "null");
    break;
  case PS_JSON_FALSE:
    ps__buf_puts(out, "boolean `false`");
    break;
  case PS_JSON_TRUE:
    ps__buf_puts(out, "boolean `true`");
    break;
  case PS_JSON_INT:
    ps__buf_printf(out, "integer `%lld`", (long long)v->as.i);
    break;
  case PS_JSON_UINT:
    ps__buf_printf(out, "integer `%llu`", (unsigned long long)v->as.u);
    break;
  case PS_JSON_FLOAT:
    ps__buf_puts(out, "floating point `");
    ps__json_write_double(out, v->as.f);
    ps__buf_putc(out, '`');
    break;
  case PS_JSON_STRING:
    ps__buf_puts(out, "string ");
    put_debug_string(out, v->as.str.ptr, v->as.str.len);
    break;
  case PS_JSON_ARRAY:
    ps__buf_puts(out, "sequence");
    break;
  case PS_JSON_OBJECT:
    ps__buf_puts(out, "map");
    break;
  }
}

/* Where serde_json reports an error about a value it was reading. */
static size_t value_error_at(const struct ps__json_value *v) {
  return v->type == PS_JSON_ARRAY || v->type == PS_JSON_OBJECT ? v->start
                                                               : v->end;
}

static int unexpected_at(struct ps__serde *d, const char *kind,
                         const struct ps__json_value *v, const char *expected,
                         size_t at) {
  struct ps__buf b;
  ps__buf_init(&b, 0);
  ps__buf_puts(&b, kind);
  ps__buf_puts(&b, ": ");
  ps__serde_unexpected(&b, v);
  ps__buf_puts(&b, ", expected ");
  ps__buf_puts(&b, expected);
  return fail_buf(d, at, &b);
}

int ps__serde_invalid_type_at(struct ps__serde *d,
                              const struct ps__json_value *v,
                              const char *expected, size_t at) {
  return unexpected_at(d, "invalid type", v, expected, at);
}

int ps__serde_invalid_type(struct ps__serde *d, const struct ps__json_value *v,
                           const char *expected) {
  if (!v)
    return ps__serde_syntax_error(d);
  return unexpected_at(d, "invalid type", v, expected, value_error_at(v));
}

int ps__serde_invalid_value(struct ps__serde *d, const struct ps__json_value *v,
                            const char *expected) {
  if (!v)
    return ps__serde_syntax_error(d);
  return unexpected_at(d, "invalid value", v, expected, value_error_at(v));
}

int ps__serde_is_field(const struct ps__serde_struct *s, const char *key,
                       size_t key_len) {
  size_t i;
  for (i = 0; i < s->field_count; i++) {
    if (strlen(s->fields[i]) == key_len && !memcmp(s->fields[i], key, key_len))
      return 1;
  }
  return 0;
}

static size_t field_index(const struct ps__serde_struct *s, const char *key,
                          size_t key_len) {
  size_t i;
  for (i = 0; i < s->field_count; i++) {
    if (strlen(s->fields[i]) == key_len && !memcmp(s->fields[i], key, key_len))
      return i;
  }
  return s->field_count;
}

/* The map form of a derived struct (serde's generated visit_map). */
static int read_map(struct ps__serde *d, const struct ps__json_value *v,
                    const struct ps__serde_struct *s, ps__serde_field_fn fn,
                    void *ctx) {
  unsigned seen = 0;
  size_t i;
  for (i = 0; i < v->as.obj.count; i++) {
    const struct ps__json_member *m = &v->as.obj.members[i];
    size_t f = field_index(s, m->key, m->key_len);
    if (f == s->field_count)
      continue; /* Ignored, or read later by the caller of a flatten struct. */
    /* serde checks for a repeated field right after the key; serde_json has
     * skipped the blanks before the ':' when the map gives up. */
    if (seen & FIELD_BIT(f))
      return ps__serde_fail_at(d, ps__serde_skip_ws(d, m->key_end),
                               "duplicate field `%s`", s->fields[f]);
    seen |= FIELD_BIT(f);
    if (!m->value)
      return ps__serde_syntax_error(d);
    if (fn(d, ctx, f, m->value))
      return -1;
  }
  if (v->end == PS_JSON_INCOMPLETE)
    return ps__serde_syntax_error(d);
  for (i = 0; i < s->field_count; i++) {
    if ((s->required & FIELD_BIT(i)) && !(seen & FIELD_BIT(i)))
      return ps__serde_fail_at(d, v->end, "missing field `%s`", s->fields[i]);
  }
  return 0;
}

/* After a sequence's expected items were read: serde_json's end_seq, which
 * rejects anything but ']'. after is the offset after the last item read. */
static int seq_trailing(struct ps__serde *d, size_t after) {
  size_t at = ps__serde_skip_ws(d, after);
  if (at >= d->len)
    return ps__serde_syntax_error(d);
  if (d->text[at] == ']')
    return 0;
  if (d->text[at] != ',')
    return ps__serde_fail_at(d, at + 1, "trailing characters");
  at = ps__serde_skip_ws(d, at + 1);
  if (at < d->len && d->text[at] == ']')
    return ps__serde_fail_at(d, at + 1, "trailing comma");
  return ps__serde_fail_at(d, at + 1, "trailing characters");
}

/* The sequence form of a derived struct (serde's generated visit_seq). */
static int read_seq(struct ps__serde *d, const struct ps__json_value *v,
                    const struct ps__serde_struct *s, ps__serde_field_fn fn,
                    void *ctx) {
  size_t n = v->as.arr.count;
  size_t i;
  for (i = 0; i < s->field_count; i++) {
    if (i < n) {
      if (fn(d, ctx, i, v->as.arr.items[i]))
        return -1;
      continue;
    }
    if (v->end == PS_JSON_INCOMPLETE)
      return ps__serde_syntax_error(d);
    if (s->defaults & FIELD_BIT(i))
      continue;
    return ps__serde_fail_at(d, v->end,
                             "invalid length %zu, expected struct %s with %zu "
                             "element%s",
                             i, s->name, s->field_count,
                             s->field_count == 1 ? "" : "s");
  }
  if (n > s->field_count || v->end == PS_JSON_INCOMPLETE)
    return seq_trailing(d, s->field_count
                               ? v->as.arr.items[s->field_count - 1]->end
                               : v->start + 1);
  return 0;
}

int ps__serde_struct(struct ps__serde *d, const struct ps__json_value *v,
                     const struct ps__serde_struct *s, ps__serde_field_fn fn,
                     void *ctx) {
  char expected[96];
  if (!v)
    return ps__serde_syntax_error(d);
  if (v->type == PS_JSON_OBJECT)
    return read_map(d, v, s, fn, ctx);
  if (v->type == PS_JSON_ARRAY && !s->flatten)
    return read_seq(d, v, s, fn, ctx);
  snprintf(expected, sizeof(expected), "struct %s", s->name);
  return ps__serde_invalid_type(d, v, expected);
}

int ps__serde_seq(struct ps__serde *d, const struct ps__json_value *v,
                  const char *expected) {
  if (!v)
    return ps__serde_syntax_error(d);
  if (v->type != PS_JSON_ARRAY)
    return ps__serde_invalid_type(d, v, expected);
  return 0;
}

int ps__serde_seq_end(struct ps__serde *d, const struct ps__json_value *v) {
  return v->end == PS_JSON_INCOMPLETE ? ps__serde_syntax_error(d) : 0;
}

size_t ps__serde_seq_error_at(const struct ps__serde *d,
                              const struct ps__json_value *arr, size_t i) {
  size_t at = ps__serde_skip_ws(d, arr->as.arr.items[i]->end);
  if (at < d->len && d->text[at] == ']')
    return at + 1;
  if (at < d->len && d->text[at] == ',')
    return ps__serde_skip_ws(d, at + 1);
  return at;
}

int ps__serde_string(struct ps__serde *d, const struct ps__json_value *v,
                     const char **out, size_t *len) {
  if (!v)
    return ps__serde_syntax_error(d);
  if (v->type != PS_JSON_STRING)
    return ps__serde_invalid_type(d, v, "a string");
  *out = v->as.str.ptr;
  *len = v->as.str.len;
  return 0;
}

/* serde's "unknown variant `x`, expected ..." with its list forms. */
static int unknown_variant(struct ps__serde *d, size_t at, const char *name,
                           size_t name_len, const char *const *variants,
                           size_t n) {
  struct ps__buf b;
  size_t i;
  ps__buf_init(&b, 0);
  ps__buf_puts(&b, "unknown variant `");
  ps__buf_append(&b, name, name_len);
  if (n == 0) {
    ps__buf_puts(&b, "`, there are no variants");
  } else if (n == 1) {
    ps__buf_printf(&b, "`, expected `%s`", variants[0]);
  } else if (n == 2) {
    ps__buf_printf(&b, "`, expected `%s` or `%s`", variants[0], variants[1]);
  } else {
    ps__buf_puts(&b, "`, expected one of ");
    for (i = 0; i < n; i++)
      ps__buf_printf(&b, "%s`%s`", i ? ", " : "", variants[i]);
  }
  return fail_buf(d, at, &b);
}

static size_t variant_index(const char *const *variants, size_t n,
                            const char *name, size_t len) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (strlen(variants[i]) == len && !memcmp(variants[i], name, len))
      return i;
  }
  return n;
}

int ps__serde_enum(struct ps__serde *d, const struct ps__json_value *v,
                   const char *const *variants, size_t n, size_t *variant,
                   const struct ps__json_value **content) {
  const struct ps__json_member *m;
  size_t i;
  *content = NULL;
  if (!v && !d->root) {
    /* The document itself failed. serde_json's enum reading looks only for
     * '"' and '{', so a broken literal or number is "expected value" at its
     * first byte, before the syntax error our reader found inside it. */
    size_t at = ps__serde_skip_ws(d, 0);
    if (at < d->len && d->text[at] != '"' && d->text[at] != '{')
      return ps__serde_fail_at(d, at + 1, "expected value");
  }
  if (!v)
    return ps__serde_syntax_error(d);
  if (v->type == PS_JSON_STRING) {
    i = variant_index(variants, n, v->as.str.ptr, v->as.str.len);
    if (i == n)
      return unknown_variant(d, v->end, v->as.str.ptr, v->as.str.len, variants,
                             n);
    *variant = i;
    return 0;
  }
  if (v->type != PS_JSON_OBJECT)
    return ps__serde_fail_at(d, v->start + 1, "expected value");
  if (v->as.obj.count == 0) {
    /* serde_json peeks at the '}' where it wants the variant's name. */
    if (v->end == PS_JSON_INCOMPLETE)
      return ps__serde_syntax_error(d);
    return ps__serde_fail_at(d, ps__serde_skip_ws(d, v->start + 1) + 1,
                             "expected value");
  }
  m = &v->as.obj.members[0];
  i = variant_index(variants, n, m->key, m->key_len);
  if (i == n)
    return unknown_variant(d, m->key_end, m->key, m->key_len, variants, n);
  if (!m->value)
    return ps__serde_syntax_error(d);
  *variant = i;
  *content = m->value;
  return 0;
}

int ps__serde_unit_content(struct ps__serde *d,
                           const struct ps__json_value *content) {
  if (!content)
    return ps__serde_syntax_error(d);
  if (content->type != PS_JSON_NULL)
    return ps__serde_invalid_type(d, content, "unit");
  return 0;
}

int ps__serde_enum_end(struct ps__serde *d, const struct ps__json_value *v,
                       const struct ps__json_value *content) {
  size_t at;
  if (v->type != PS_JSON_OBJECT)
    return 0;
  at = ps__serde_skip_ws(d, content->end);
  if (at >= d->len)
    return ps__serde_syntax_error(d);
  if (d->text[at] == '}')
    return 0;
  /* serde_json's Deserializer::error: at the byte it looked at. */
  return ps__serde_fail_at(d, at, "expected value");
}
