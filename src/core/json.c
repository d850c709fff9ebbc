/*
 * json.c: the strict JSON reader and the serde_json-compatible writer declared
 * in json.h.
 *
 * HOW IT WORKS
 *
 * Reading is recursive descent over the input bytes. Recursion is bounded by
 * PS_JSON_MAX_DEPTH, so hostile input cannot exhaust the stack. Array items
 * and object members are collected on two scratch stacks shared by all nesting
 * levels (malloc'd, freed when the parse ends) and copied into the arena once
 * the container is closed, so every container costs one exact-size arena
 * allocation. Duplicate keys are folded when an object closes: by pairwise
 * comparison for small objects, by a stable merge sort of member indexes for
 * big ones, which keeps the worst case at O(n log n) whatever the keys are.
 *
 * Error messages follow serde_json's wording and positions: "<what> at line L
 * column C", where C is the 1-based byte column of the offending byte, or the
 * column of the last byte for errors at the end of the input.
 *
 * Numbers avoid the locale: strtod() and printf("%e") use the locale's decimal
 * separator, so the reader hands strtod() only digits and an exponent
 * ("12345e-2"), and the writer takes only the digits and the exponent out of
 * printf's output and lays them out itself.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects with fewer members than this are deduplicated by comparing every
 * pair of keys, which for small objects is faster than sorting. */
#define JSON_SMALL_OBJECT 16

/* A number literal whose decimal magnitude is beyond this power of ten is out
 * of double's range (DBL_MAX is about 1.8e308, the smallest subnormal about
 * 4.9e-324) whatever its digits; the margin keeps such literals away from
 * strtod() and keeps exponent arithmetic far from integer overflow. */
#define JSON_EXP10_LIMIT 400

/* Exponent digits are accumulated up to this value and then saturate. Only a
 * literal with more than this many digits before or after its decimal point
 * could bring such an exponent back into range, and no input is that long;
 * the bound keeps the exponent arithmetic far from overflow. */
#define JSON_EXP_SATURATE 1000000000000000LL

/* Number literals whose significant digits fit in this stack buffer are
 * converted without a heap allocation. */
#define JSON_NUMBER_STACK 128

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

struct json_parser {
  const unsigned char *s;
  size_t len;
  size_t pos;
  struct ps__arena *arena;
  char *err;
  size_t errlen;
  int failed;
  int oom;
  unsigned flags; /* PS_JSON_KEEP_DUPLICATES, PS_JSON_PARTIAL */

  /* Scratch stack of array items of all open arrays. */
  struct ps__json_value **items;
  size_t items_len;
  size_t items_cap;

  /* Scratch stack of members of all open objects. */
  struct ps__json_member *members;
  size_t members_len;
  size_t members_cap;

  /* Index arrays for sorting the members of one big object. */
  size_t *sort_idx;
  size_t *sort_tmp;
  size_t sort_cap;
};

void ps__json_position(const char *text, size_t len, size_t at, size_t *line,
                       size_t *column) {
  size_t n = 1;
  size_t line_start = 0;
  size_t i;
  if (at > len)
    at = len;
  for (i = 0; i < at; i++) {
    if (text[i] == '\n') {
      n++;
      line_start = i + 1;
    }
  }
  *line = n;
  *column = at - line_start;
}

static void json_fail(struct json_parser *p, size_t at, const char *what) {
  size_t line;
  size_t column;
  if (p->failed)
    return;
  p->failed = 1;
  if (!p->errlen)
    return;
  ps__json_position((const char *)p->s, p->len, at, &line, &column);
  snprintf(p->err, p->errlen, "%s at line %zu column %zu", what, line, column);
}

/* Errors without a position in the text. */
static void json_fail_nopos(struct json_parser *p, const char *what) {
  if (p->failed)
    return;
  p->failed = 1;
  if (p->errlen)
    snprintf(p->err, p->errlen, "%s", what);
}

static void json_oom(struct json_parser *p) {
  json_fail_nopos(p, "out of memory");
  p->oom = 1;
}

static void skip_ws(struct json_parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
      break;
    p->pos++;
  }
}

static struct ps__json_value *new_value(struct json_parser *p,
                                        enum ps__json_type type) {
  struct ps__json_value *v = ps__arena_alloc(p->arena, sizeof(*v));
  if (!v) {
    json_oom(p);
    return NULL;
  }
  v->type = type;
  return v;
}

/* Grows a scratch array so that it holds at least need elements. */
static int grow(void **array, size_t *cap, size_t need, size_t elem) {
  size_t ncap = *cap ? *cap : 16;
  void *n;
  while (ncap < need) {
    if (ncap > ((size_t)-1) / 2 / elem)
      return 0;
    ncap *= 2;
  }
  if (ncap > ((size_t)-1) / elem)
    return 0;
  n = realloc(*array, ncap * elem);
  if (!n)
    return 0;
  *array = n;
  *cap = ncap;
  return 1;
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Reads the four hex digits of a \u escape at p->pos. Returns the code unit,
 * or -1 after reporting an error. */
static long read_hex4(struct json_parser *p) {
  long n = 0;
  int i;
  for (i = 0; i < 4; i++) {
    int h;
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing a string");
      return -1;
    }
    h = hex_value(p->s[p->pos]);
    p->pos++;
    if (h < 0) {
      json_fail(p, p->pos, "invalid escape");
      return -1;
    }
    n = n * 16 + h;
  }
  return n;
}

static size_t put_utf8(char *out, unsigned long cp) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the valid UTF-8 sequence starting at s[i] (whose first byte is
 * >= 0x80), 0 if it is invalid, or (size_t)-1 if the input ends inside it.
 * Overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * invalid, as RFC 3629 requires. */
static size_t utf8_sequence(const unsigned char *s, size_t len, size_t i) {
  unsigned char c = s[i];
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  size_t n;
  size_t k;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  for (k = 1; k < n; k++) {
    unsigned char t;
    if (i + k >= len)
      return (size_t)-1;
    t = s[i + k];
    if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF))
      return 0;
  }
  return n;
}

/* Parses a string whose opening quote is at p->pos. Returns its decoded,
 * NUL-terminated bytes in the arena and the length in *out_len. */
static char *parse_string_raw(struct json_parser *p, size_t *out_len) {
  const unsigned char *s = p->s;
  size_t start = p->pos + 1;
  size_t end = start;
  size_t n = 0;
  char *dst;

  /* Find where the string ends, skipping escaped characters, to allocate
   * once. Decoding never produces more bytes than it consumes (an escape of
   * 2, 6 or 12 bytes yields 1, at most 3 or 4 bytes), so the raw length is an
   * upper bound. Validation happens in the decoding loop below. */
  while (end < p->len && s[end] != '"')
    end += s[end] == '\\' ? 2 : 1;
  if (end > p->len)
    end = p->len;
  dst = ps__arena_alloc(p->arena, end - start + 1);
  if (!dst) {
    json_oom(p);
    return NULL;
  }

  p->pos = start;
  for (;;) {
    size_t run = p->pos;
    unsigned char c;
    /* Copy plain ASCII in one go; it is what strings mostly hold. */
    while (run < p->len) {
      c = s[run];
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
        break;
      run++;
    }
    if (run > p->pos) {
      memcpy(dst + n, s + p->pos, run - p->pos);
      n += run - p->pos;
      p->pos = run;
    }
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing a string");
      return NULL;
    }
    c = s[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) {
      json_fail(p, p->pos + 1,
                "control character (\\u0000-\\u001F) found while parsing a "
                "string");
      return NULL;
    }
    if (c >= 0x80) {
      size_t seq = utf8_sequence(s, p->len, p->pos);
      if (seq == (size_t)-1) {
        json_fail(p, p->len, "EOF while parsing a string");
        return NULL;
      }
      if (seq == 0) {
        json_fail(p, p->pos + 1, "invalid unicode code point");
        return NULL;
      }
      memcpy(dst + n, s + p->pos, seq);
      n += seq;
      p->pos += seq;
      continue;
    }
    /* A backslash escape. */
    p->pos++;
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing a string");
      return NULL;
    }
    c = s[p->pos++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
      dst[n++] = (char)c;
      break;
    case 'b':
      dst[n++] = '\b';
      break;
    case 'f':
      dst[n++] = '\f';
      break;
    case 'n':
      dst[n++] = '\n';
      break;
    case 'r':
      dst[n++] = '\r';
      break;
    case 't':
      dst[n++] = '\t';
      break;
    case 'u': {
      long cp = read_hex4(p);
      if (cp < 0)
        return NULL;
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        json_fail(p, p->pos, "lone trailing surrogate in hex escape");
        return NULL;
      }
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo;
        /* A leading surrogate must be followed by an escaped trailing one;
         * UTF-8 cannot encode a lone surrogate. */
        if (p->pos >= p->len) {
          json_fail(p, p->len, "EOF while parsing a string");
          return NULL;
        }
        if (s[p->pos] != '\\' || p->pos + 1 >= p->len || s[p->pos + 1] != 'u') {
          if (s[p->pos] == '\\' && p->pos + 1 >= p->len) {
            json_fail(p, p->len, "EOF while parsing a string");
            return NULL;
          }
          json_fail(p, p->pos + (s[p->pos] == '\\' ? 2 : 1),
                    "unexpected end of hex escape");
          return NULL;
        }
        p->pos += 2;
        lo = read_hex4(p);
        if (lo < 0)
          return NULL;
        if (lo < 0xDC00 || lo > 0xDFFF) {
          json_fail(p, p->pos, "lone leading surrogate in hex escape");
          return NULL;
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      n += put_utf8(dst + n, (unsigned long)cp);
      break;
    }
    default:
      json_fail(p, p->pos, "invalid escape");
      return NULL;
    }
  }
  dst[n] = '\0';
  *out_len = n;
  return dst;
}

static struct ps__json_value *parse_string(struct json_parser *p) {
  size_t len = 0;
  char *str = parse_string_raw(p, &len);
  struct ps__json_value *v;
  if (!str)
    return NULL;
  v = new_value(p, PS_JSON_STRING);
  if (!v)
    return NULL;
  v->as.str.ptr = str;
  v->as.str.len = len;
  return v;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Converts a validated number literal with fraction or exponent, or an
 * integer too big for 64 bits, to the nearest double. */
static int number_to_double(struct json_parser *p, size_t start, size_t end,
                            double *out) {
  const unsigned char *s = p->s;
  size_t i = start;
  int negative = 0;
  size_t first_sig = (size_t)-1; /* Offset of the first non-zero digit. */
  size_t last_sig = 0;           /* Offset of the last non-zero digit. */
  long long sig_count = 0;       /* Digits from first_sig to last_sig. */
  long long zeros_after = 0;     /* Digits after last_sig (all zeros). */
  long long frac_count = 0;      /* Digits after the decimal point. */
  int in_fraction = 0;
  long long exp = 0;
  long long exp10;
  char stackbuf[JSON_NUMBER_STACK];
  char *buf = stackbuf;
  size_t b;

  if (s[i] == '-') {
    negative = 1;
    i++;
  }
  /* Only the significant digits reach strtod(): leading and trailing zeros
   * can be arbitrarily many, and the decimal point is locale-dependent. */
  for (; i < end && s[i] != 'e' && s[i] != 'E'; i++) {
    if (s[i] == '.') {
      in_fraction = 1;
      continue;
    }
    frac_count += in_fraction;
    if (s[i] == '0') {
      zeros_after += first_sig != (size_t)-1;
      continue;
    }
    if (first_sig == (size_t)-1) {
      first_sig = i;
      sig_count = 1;
    } else {
      sig_count += zeros_after + 1;
    }
    zeros_after = 0;
    last_sig = i;
  }
  if (i < end) {
    int exp_negative = 0;
    i++;
    if (s[i] == '+' || s[i] == '-') {
      exp_negative = s[i] == '-';
      i++;
    }
    for (; i < end; i++) {
      if (exp < JSON_EXP_SATURATE)
        exp = exp * 10 + (s[i] - '0');
    }
    if (exp_negative)
      exp = -exp;
  }
  if (first_sig == (size_t)-1) {
    *out = negative ? -0.0 : 0.0;
    return 1;
  }
  /* The value is D * 10^exp10, D being the significant digits as an
   * integer, and lies in [10^(exp10 + sig_count - 1), 10^(exp10 +
   * sig_count)). */
  exp10 = exp - frac_count + zeros_after;
  if (exp10 + sig_count - 1 > JSON_EXP10_LIMIT) {
    json_fail(p, end, "number out of range");
    return 0;
  }
  if (exp10 + sig_count - 1 < -JSON_EXP10_LIMIT) {
    *out = negative ? -0.0 : 0.0;
    return 1;
  }
  /* Sign, digits, then 'e', the exponent's sign and digits and a NUL. */
  if ((size_t)sig_count + 32 > sizeof(stackbuf)) {
    buf = malloc((size_t)sig_count + 32);
    if (!buf) {
      json_oom(p);
      return 0;
    }
  }
  b = 0;
  if (negative)
    buf[b++] = '-';
  for (i = first_sig; i <= last_sig; i++) {
    if (s[i] != '.')
      buf[b++] = (char)s[i];
  }
  snprintf(buf + b, 32, "e%lld", exp10);
  *out = strtod(buf, NULL);
  if (buf != stackbuf)
    free(buf);
  if (isinf(*out)) {
    json_fail(p, end, "number out of range");
    return 0;
  }
  return 1;
}

/* Parses a number at p->pos (a '-' or a digit). */
static struct ps__json_value *parse_number(struct json_parser *p) {
  const unsigned char *s = p->s;
  size_t start = p->pos;
  size_t i = start;
  int negative = 0;
  int is_float = 0;
  int overflow = 0;
  uint64_t mag = 0;
  struct ps__json_value *v;

  if (s[i] == '-') {
    negative = 1;
    i++;
    if (i >= p->len) {
      json_fail(p, p->len, "EOF while parsing a value");
      return NULL;
    }
    if (!is_digit(s[i])) {
      json_fail(p, i + 1, "invalid number");
      return NULL;
    }
  }
  if (s[i] == '0') {
    i++;
    /* RFC 8259 forbids leading zeros. */
    if (i < p->len && is_digit(s[i])) {
      json_fail(p, i + 1, "invalid number");
      return NULL;
    }
  } else {
    for (; i < p->len && is_digit(s[i]); i++) {
      unsigned d = (unsigned)(s[i] - '0');
      if (mag > (UINT64_MAX - d) / 10)
        overflow = 1;
      else
        mag = mag * 10 + d;
    }
  }
  if (i < p->len && s[i] == '.') {
    is_float = 1;
    i++;
    if (i >= p->len) {
      json_fail(p, p->len, "EOF while parsing a value");
      return NULL;
    }
    if (!is_digit(s[i])) {
      json_fail(p, i + 1, "invalid number");
      return NULL;
    }
    while (i < p->len && is_digit(s[i]))
      i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    is_float = 1;
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= p->len) {
      json_fail(p, p->len, "EOF while parsing a value");
      return NULL;
    }
    if (!is_digit(s[i])) {
      json_fail(p, i + 1, "invalid number");
      return NULL;
    }
    while (i < p->len && is_digit(s[i]))
      i++;
  }
  p->pos = i;

  if (!is_float && !overflow) {
    if (!negative) {
      if (mag <= (uint64_t)INT64_MAX) {
        v = new_value(p, PS_JSON_INT);
        if (v)
          v->as.i = (int64_t)mag;
      } else {
        v = new_value(p, PS_JSON_UINT);
        if (v)
          v->as.u = mag;
      }
      return v;
    }
    /* serde_json: "-0" and negative integers below INT64_MIN are floats. */
    if (mag != 0 && mag <= (uint64_t)INT64_MAX + 1) {
      v = new_value(p, PS_JSON_INT);
      if (v)
        v->as.i = (int64_t)(0 - (mag - 1)) - 1;
      return v;
    }
  }
  v = new_value(p, PS_JSON_FLOAT);
  if (v && !number_to_double(p, start, i, &v->as.f))
    return NULL;
  return v;
}

/* Parses the rest of a literal whose first byte at p->pos is known. */
static struct ps__json_value *parse_literal(struct json_parser *p,
                                            const char *word,
                                            enum ps__json_type type) {
  size_t k;
  for (k = 1; word[k]; k++) {
    size_t i = p->pos + k;
    if (i >= p->len) {
      json_fail(p, p->len, "EOF while parsing a value");
      return NULL;
    }
    if (p->s[i] != (unsigned char)word[k]) {
      json_fail(p, i + 1, "expected ident");
      return NULL;
    }
  }
  p->pos += k;
  return new_value(p, type);
}

static struct ps__json_value *parse_value(struct json_parser *p, int depth);

/* Whether a failure inside a container should still return the container
 * (cut short) rather than NULL. */
static int keep_partial(const struct json_parser *p) {
  return (p->flags & PS_JSON_PARTIAL) && !p->oom;
}

/* Moves the items pushed since base into a new array value. */
static struct ps__json_value *close_array(struct json_parser *p, size_t base,
                                          size_t start, size_t end) {
  size_t count = p->items_len - base;
  struct ps__json_value *arr = new_value(p, PS_JSON_ARRAY);
  p->items_len = base;
  if (!arr)
    return NULL;
  arr->start = start;
  arr->end = end;
  arr->as.arr.items = NULL;
  if (count) {
    arr->as.arr.items =
        ps__arena_alloc(p->arena, count * sizeof(*arr->as.arr.items));
    if (!arr->as.arr.items) {
      json_oom(p);
      return NULL;
    }
    memcpy(arr->as.arr.items, p->items + base,
           count * sizeof(*arr->as.arr.items));
  }
  arr->as.arr.count = count;
  return arr;
}

static int push_item(struct json_parser *p, struct ps__json_value *item) {
  if (p->items_len == p->items_cap &&
      !grow((void **)&p->items, &p->items_cap, p->items_len + 1,
            sizeof(*p->items))) {
    json_oom(p);
    return 0;
  }
  p->items[p->items_len++] = item;
  return 1;
}

static struct ps__json_value *parse_array(struct json_parser *p, int depth) {
  size_t base = p->items_len;
  size_t start = p->pos;

  if (depth > PS_JSON_MAX_DEPTH) {
    json_fail(p, p->pos + 1, "recursion limit exceeded");
    return NULL;
  }
  p->pos++;
  skip_ws(p);
  if (p->pos >= p->len) {
    json_fail(p, p->len, "EOF while parsing a list");
    goto cut;
  }
  if (p->s[p->pos] == ']') {
    p->pos++;
    return close_array(p, base, start, p->pos);
  }
  for (;;) {
    struct ps__json_value *item = parse_value(p, depth);
    if (item && !push_item(p, item))
      return NULL;
    if (p->failed)
      goto cut;
    skip_ws(p);
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing a list");
      goto cut;
    }
    if (p->s[p->pos] == ']') {
      p->pos++;
      return close_array(p, base, start, p->pos);
    }
    if (p->s[p->pos] != ',') {
      json_fail(p, p->pos + 1, "expected `,` or `]`");
      goto cut;
    }
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
      json_fail(p, p->pos + 1, "trailing comma");
      goto cut;
    }
  }
cut:
  if (!keep_partial(p))
    return NULL;
  return close_array(p, base, start, PS_JSON_INCOMPLETE);
}

static int key_compare(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c)
    return c;
  return alen < blen ? -1 : alen > blen;
}

static int member_key_equal(const struct ps__json_member *a,
                            const struct ps__json_member *b) {
  return a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len);
}

/* Sorts idx[0..n) by the keys of m[idx[i]]; stable, so equal keys keep
 * document order. Bottom-up merge sort: O(n log n) in every case. */
static void sort_member_indexes(const struct ps__json_member *m, size_t *idx,
                                size_t *tmp, size_t n) {
  size_t width;
  for (width = 1; width < n; width *= 2) {
    size_t lo;
    for (lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t a = lo;
      size_t b = mid;
      size_t o = lo;
      while (a < mid && b < hi) {
        const struct ps__json_member *x = &m[idx[a]];
        const struct ps__json_member *y = &m[idx[b]];
        if (key_compare(y->key, y->key_len, x->key, x->key_len) < 0)
          tmp[o++] = idx[b++];
        else
          tmp[o++] = idx[a++];
      }
      while (a < mid)
        tmp[o++] = idx[a++];
      while (b < hi)
        tmp[o++] = idx[b++];
    }
    memcpy(idx, tmp, n * sizeof(*idx));
  }
}

/* Folds duplicate keys among the n members at m: the last value wins and takes
 * the place of the first occurrence. Returns the new count. */
static size_t dedupe_members(struct json_parser *p, struct ps__json_member *m,
                             size_t n) {
  size_t kept = 0;
  size_t i;
  if (n < JSON_SMALL_OBJECT) {
    for (i = 0; i < n; i++) {
      size_t j;
      for (j = 0; j < kept; j++) {
        if (member_key_equal(&m[j], &m[i])) {
          m[j].value = m[i].value;
          break;
        }
      }
      if (j == kept)
        m[kept++] = m[i];
    }
    return kept;
  }
  if (n > p->sort_cap) {
    size_t *a = realloc(p->sort_idx, n * sizeof(*a));
    size_t *b;
    if (!a) {
      json_oom(p);
      return 0;
    }
    p->sort_idx = a;
    b = realloc(p->sort_tmp, n * sizeof(*b));
    if (!b) {
      json_oom(p);
      return 0;
    }
    p->sort_tmp = b;
    p->sort_cap = n;
  }
  for (i = 0; i < n; i++)
    p->sort_idx[i] = i;
  sort_member_indexes(m, p->sort_idx, p->sort_tmp, n);
  /* In each run of equal keys the first index is the first occurrence and
   * the last index holds the winning value; the others are dropped by
   * clearing their value, which a parsed member never has. */
  for (i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && member_key_equal(&m[p->sort_idx[i]], &m[p->sort_idx[j]]))
      j++;
    if (j - i > 1) {
      size_t k;
      m[p->sort_idx[i]].value = m[p->sort_idx[j - 1]].value;
      for (k = i + 1; k < j; k++)
        m[p->sort_idx[k]].value = NULL;
    }
    i = j;
  }
  for (i = 0; i < n; i++) {
    if (m[i].value)
      m[kept++] = m[i];
  }
  return kept;
}

/* Moves the members pushed since base into a new object value; complete
 * objects are deduplicated unless the caller keeps duplicates. */
static struct ps__json_value *close_object(struct json_parser *p, size_t base,
                                           size_t start, size_t end) {
  size_t count = p->members_len - base;
  struct ps__json_value *obj = new_value(p, PS_JSON_OBJECT);
  if (!obj) {
    p->members_len = base;
    return NULL;
  }
  obj->start = start;
  obj->end = end;
  obj->as.obj.members = NULL;
  if (count > 1 && end != PS_JSON_INCOMPLETE &&
      !(p->flags & PS_JSON_KEEP_DUPLICATES)) {
    count = dedupe_members(p, p->members + base, count);
    if (p->failed) {
      p->members_len = base;
      return NULL;
    }
  }
  if (count) {
    obj->as.obj.members =
        ps__arena_alloc(p->arena, count * sizeof(*obj->as.obj.members));
    if (!obj->as.obj.members) {
      p->members_len = base;
      json_oom(p);
      return NULL;
    }
    memcpy(obj->as.obj.members, p->members + base,
           count * sizeof(*obj->as.obj.members));
  }
  obj->as.obj.count = count;
  p->members_len = base;
  return obj;
}

static int push_member(struct json_parser *p, const struct ps__json_member *m) {
  if (p->members_len == p->members_cap &&
      !grow((void **)&p->members, &p->members_cap, p->members_len + 1,
            sizeof(*p->members))) {
    json_oom(p);
    return 0;
  }
  p->members[p->members_len++] = *m;
  return 1;
}

static struct ps__json_value *parse_object(struct json_parser *p, int depth) {
  size_t base = p->members_len;
  size_t start = p->pos;

  if (depth > PS_JSON_MAX_DEPTH) {
    json_fail(p, p->pos + 1, "recursion limit exceeded");
    return NULL;
  }
  p->pos++;
  skip_ws(p);
  if (p->pos >= p->len) {
    json_fail(p, p->len, "EOF while parsing an object");
    goto cut;
  }
  if (p->s[p->pos] == '}') {
    p->pos++;
    return close_object(p, base, start, p->pos);
  }
  for (;;) {
    struct ps__json_member m;
    /* Here p->pos is at the first non-blank byte of a member. */
    if (p->s[p->pos] != '"') {
      json_fail(p, p->pos + 1, "key must be a string");
      goto cut;
    }
    m.key = parse_string_raw(p, &m.key_len);
    if (!m.key)
      goto cut;
    m.key_end = p->pos;
    m.value = NULL;
    skip_ws(p);
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing an object");
    } else if (p->s[p->pos] != ':') {
      json_fail(p, p->pos + 1, "expected `:`");
    } else {
      p->pos++;
      m.value = parse_value(p, depth);
    }
    /* A member whose value failed is kept (with what was read of the value)
     * in a partial tree: its key still counts as read. */
    if ((m.value || keep_partial(p)) && !push_member(p, &m))
      return NULL;
    if (p->failed)
      goto cut;
    skip_ws(p);
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing an object");
      goto cut;
    }
    if (p->s[p->pos] == '}') {
      p->pos++;
      return close_object(p, base, start, p->pos);
    }
    if (p->s[p->pos] != ',') {
      json_fail(p, p->pos + 1, "expected `,` or `}`");
      goto cut;
    }
    p->pos++;
    skip_ws(p);
    if (p->pos >= p->len) {
      json_fail(p, p->len, "EOF while parsing a value");
      goto cut;
    }
    if (p->s[p->pos] == '}') {
      json_fail(p, p->pos + 1, "trailing comma");
      goto cut;
    }
  }
cut:
  if (!keep_partial(p)) {
    p->members_len = base;
    return NULL;
  }
  return close_object(p, base, start, PS_JSON_INCOMPLETE);
}

static struct ps__json_value *parse_scalar(struct json_parser *p) {
  switch (p->s[p->pos]) {
  case 'n':
    return parse_literal(p, "null", PS_JSON_NULL);
  case 't':
    return parse_literal(p, "true", PS_JSON_TRUE);
  case 'f':
    return parse_literal(p, "false", PS_JSON_FALSE);
  case '"':
    return parse_string(p);
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    return parse_number(p);
  default:
    json_fail(p, p->pos + 1, "expected value");
    return NULL;
  }
}

/* depth is the number of containers enclosing the value. */
static struct ps__json_value *parse_value(struct json_parser *p, int depth) {
  struct ps__json_value *v;
  size_t start;
  skip_ws(p);
  if (p->pos >= p->len) {
    json_fail(p, p->len, "EOF while parsing a value");
    return NULL;
  }
  if (p->s[p->pos] == '[')
    return parse_array(p, depth + 1);
  if (p->s[p->pos] == '{')
    return parse_object(p, depth + 1);
  start = p->pos;
  v = parse_scalar(p);
  if (v) {
    v->start = start;
    v->end = p->pos;
  }
  return v;
}

int ps__json_parse_ex(struct ps__arena *arena, const char *text, size_t len,
                      unsigned flags, struct ps__json_value **root, char *err,
                      size_t errlen) {
  struct json_parser p;
  struct ps__json_value *v;

  memset(&p, 0, sizeof(p));
  p.s = (const unsigned char *)text;
  p.len = text ? len : 0;
  p.arena = arena;
  p.err = err;
  p.errlen = err ? errlen : 0;
  p.flags = flags;
  if (p.errlen)
    p.err[0] = '\0';

  v = parse_value(&p, 0);
  if (v && !p.failed) {
    skip_ws(&p);
    if (p.pos < p.len)
      json_fail(&p, p.pos + 1, "trailing characters");
  }
  free(p.items);
  free(p.members);
  free(p.sort_idx);
  free(p.sort_tmp);
  if (p.oom) {
    if (p.errlen)
      snprintf(p.err, p.errlen, "out of memory");
    *root = NULL;
    return -2;
  }
  if (p.failed) {
    *root = (flags & PS_JSON_PARTIAL) ? v : NULL;
    return -1;
  }
  *root = v;
  return 0;
}

struct ps__json_value *ps__json_parse(struct ps__arena *arena, const char *text,
                                      size_t len, char *err, size_t errlen) {
  struct ps__json_value *root;
  ps__json_parse_ex(arena, text, len, 0, &root, err, errlen);
  return root;
}

const struct ps__json_value *ps__json_get(const struct ps__json_value *obj,
                                          const char *key) {
  size_t len;
  size_t i;
  if (!obj || obj->type != PS_JSON_OBJECT || !key)
    return NULL;
  len = strlen(key);
  for (i = 0; i < obj->as.obj.count; i++) {
    const struct ps__json_member *m = &obj->as.obj.members[i];
    if (m->key_len == len && !memcmp(m->key, key, len))
      return m->value;
  }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Equality                                                                 */
/* ------------------------------------------------------------------------ */

static int compare_member_ptrs(const void *a, const void *b) {
  const struct ps__json_member *x = *(const struct ps__json_member *const *)a;
  const struct ps__json_member *y = *(const struct ps__json_member *const *)b;
  int c = key_compare(x->key, x->key_len, y->key, y->key_len);
  if (c)
    return c;
  /* Only hand-built trees have equal keys; keep their order deterministic. */
  return (x > y) - (x < y);
}

static const struct ps__json_member **
sorted_members(const struct ps__json_value *obj) {
  size_t n = obj->as.obj.count;
  size_t i;
  const struct ps__json_member **v;
  if (n > ((size_t)-1) / sizeof(*v))
    return NULL;
  v = malloc(n * sizeof(*v));
  if (!v)
    return NULL;
  for (i = 0; i < n; i++)
    v[i] = &obj->as.obj.members[i];
  qsort(v, n, sizeof(*v), compare_member_ptrs);
  return v;
}

static int objects_equal(const struct ps__json_value *a,
                         const struct ps__json_value *b) {
  size_t n = a->as.obj.count;
  size_t i;
  if (n != b->as.obj.count)
    return 0;
  if (n >= JSON_SMALL_OBJECT) {
    /* Big objects: compare sorted member lists, O(n log n). */
    const struct ps__json_member **sa = sorted_members(a);
    const struct ps__json_member **sb = sa ? sorted_members(b) : NULL;
    if (sa && sb) {
      int eq = 1;
      for (i = 0; i < n && eq; i++) {
        eq = member_key_equal(sa[i], sb[i]) &&
             ps__json_equal(sa[i]->value, sb[i]->value);
      }
      free(sa);
      free(sb);
      return eq;
    }
    /* Out of memory: fall back to the pairwise comparison below. */
    free(sa);
  }
  for (i = 0; i < n; i++) {
    const struct ps__json_member *ma = &a->as.obj.members[i];
    size_t j;
    for (j = 0; j < n; j++) {
      if (member_key_equal(ma, &b->as.obj.members[j]))
        break;
    }
    if (j == n || !ps__json_equal(ma->value, b->as.obj.members[j].value))
      return 0;
  }
  return 1;
}

int ps__json_equal(const struct ps__json_value *a,
                   const struct ps__json_value *b) {
  size_t i;
  if (a == b)
    return 1;
  if (!a || !b || a->type != b->type)
    return 0;
  switch (a->type) {
  case PS_JSON_NULL:
  case PS_JSON_FALSE:
  case PS_JSON_TRUE:
    return 1;
  case PS_JSON_INT:
    return a->as.i == b->as.i;
  case PS_JSON_UINT:
    return a->as.u == b->as.u;
  case PS_JSON_FLOAT:
    /* By value, so -0.0 equals 0.0 as in serde_json. */
    return a->as.f == b->as.f;
  case PS_JSON_STRING:
    return a->as.str.len == b->as.str.len &&
           !memcmp(a->as.str.ptr, b->as.str.ptr, a->as.str.len);
  case PS_JSON_ARRAY:
    if (a->as.arr.count != b->as.arr.count)
      return 0;
    for (i = 0; i < a->as.arr.count; i++) {
      if (!ps__json_equal(a->as.arr.items[i], b->as.arr.items[i]))
        return 0;
    }
    return 1;
  case PS_JSON_OBJECT:
    return objects_equal(a, b);
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

void ps__json_write_string(struct ps__buf *out, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *u = (const unsigned char *)s;
  size_t run = 0;
  size_t i;
  ps__buf_putc(out, '"');
  for (i = 0; i < len; i++) {
    unsigned char c = u[i];
    char esc[6];
    size_t esc_len = 2;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    if (i > run)
      ps__buf_append(out, s + run, i - run);
    run = i + 1;
    esc[0] = '\\';
    switch (c) {
    case '"':
      esc[1] = '"';
      break;
    case '\\':
      esc[1] = '\\';
      break;
    case '\b':
      esc[1] = 'b';
      break;
    case '\t':
      esc[1] = 't';
      break;
    case '\n':
      esc[1] = 'n';
      break;
    case '\f':
      esc[1] = 'f';
      break;
    case '\r':
      esc[1] = 'r';
      break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 0xF];
      esc_len = 6;
      break;
    }
    ps__buf_append(out, esc, esc_len);
  }
  if (len > run)
    ps__buf_append(out, s + run, len - run);
  ps__buf_putc(out, '"');
}

static void write_u64(struct ps__buf *out, uint64_t v, int negative) {
  char tmp[24];
  size_t i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (negative)
    tmp[--i] = '-';
  ps__buf_append(out, tmp + i, sizeof(tmp) - i);
}

/* Does the decimal digits[0..n) * 10^(exp10 - n + 1) read back as x? The
 * text given to strtod() has no decimal point, so the locale cannot matter. */
static int digits_round_trip(const char *digits, int n, int exp10, double x) {
  char tmp[48];
  int e = exp10 - n + 1;
  int k = n;
  char exp_text[8];
  int m = 0;
  memcpy(tmp, digits, (size_t)n);
  tmp[k++] = 'e';
  if (e < 0) {
    tmp[k++] = '-';
    e = -e;
  }
  do {
    exp_text[m++] = (char)('0' + e % 10);
    e /= 10;
  } while (e);
  while (m)
    tmp[k++] = exp_text[--m];
  tmp[k] = '\0';
  return strtod(tmp, NULL) == x;
}

/* The p significant digits of x correctly rounded (by printf, which is exact
 * in glibc and other modern C libraries), into digits; sets *exp10 so that
 * x ~ d.ddd * 10^exp10. */
static void round_to_digits(double x, int p, char digits[24], int *exp10) {
  char tmp[48];
  const char *c;
  int n = 0;
  int e = 0;
  int e_negative = 0;
  snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x);
  /* Take the digits and the exponent; skip the locale's decimal point. */
  for (c = tmp; *c && *c != 'e'; c++) {
    if (*c >= '0' && *c <= '9' && n < p)
      digits[n++] = *c;
  }
  if (*c == 'e')
    c++;
  if (*c == '-' || *c == '+')
    e_negative = *c++ == '-';
  for (; *c >= '0' && *c <= '9'; c++)
    e = e * 10 + (*c - '0');
  *exp10 = e_negative ? -e : e;
}

/* Shortest decimal digits that read back as x (finite, > 0): fills digits
 * (no trailing zeros, NUL-terminated), returns their count, and sets *exp10
 * so that x = d.ddd * 10^exp10. This is the digit string serde_json writes:
 * the shortest one that round-trips, and the closest to x among those. */
static int shortest_digits(double x, char digits[24], int *exp10) {
  uint64_t bits;
  int n;
  memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0xFFFFFFFFFFFFFull) != 0 || (bits >> 52) == 0) {
    /* x is not a power of two (or is subnormal), so the doubles next to it
     * are equally far away and the values that read back as x form an interval
     * centred on x. If some p-digit decimal lies in it, so does the p-digit
     * decimal closest to x, and so does the closest one with more digits (there
     * is always one at least as close): whether the correctly rounded p-digit
     * value round-trips is monotonic in p, so a binary search finds the
     * smallest p. 17 digits always suffice. */
    int lo = 1;
    int hi = 17;
    int found = 0; /* Digits of hi are in digits[] when found == hi. */
    char probe[24];
    int probe_exp;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      round_to_digits(x, mid, probe, &probe_exp);
      if (digits_round_trip(probe, mid, probe_exp, x)) {
        hi = mid;
        found = mid;
        memcpy(digits, probe, (size_t)mid);
        *exp10 = probe_exp;
      } else {
        lo = mid + 1;
      }
    }
    if (found != hi)
      round_to_digits(x, hi, digits, exp10);
    n = hi;
  } else {
    /* For a power of two the next smaller double is half as far as the next
     * larger one, so the correctly rounded p-digit value may fall outside
     * the narrow lower half of the interval while the p-digit value just
     * above x is still inside; then that one is the answer for p. The
     * monotonicity argument does not hold, so try every p in turn. */
    for (n = 1; n < 17; n++) {
      int k;
      round_to_digits(x, n, digits, exp10);
      if (digits_round_trip(digits, n, *exp10, x))
        break;
      k = n - 1;
      while (k >= 0 && digits[k] == '9')
        digits[k--] = '0';
      if (k >= 0) {
        digits[k]++;
      } else {
        digits[0] = '1';
        ++*exp10;
      }
      if (digits_round_trip(digits, n, *exp10, x))
        break;
    }
    if (n == 17)
      round_to_digits(x, n, digits, exp10);
  }
  while (n > 1 && digits[n - 1] == '0')
    n--;
  digits[n] = '\0';
  return n;
}

void ps__json_write_double(struct ps__buf *out, double d) {
  char digits[24];
  char text[48];
  int n;
  int e;
  size_t t = 0;
  int i;
  if (isnan(d) || isinf(d)) {
    ps__buf_puts(out, "null");
    return;
  }
  if (d == 0) {
    ps__buf_puts(out, signbit(d) ? "-0.0" : "0.0");
    return;
  }
  if (d < 0) {
    text[t++] = '-';
    d = -d;
  }
  n = shortest_digits(d, digits, &e);
  if (e >= -5 && e < 16) {
    /* Plain decimal with at least one fractional digit. */
    if (e >= 0) {
      for (i = 0; i <= e; i++)
        text[t++] = i < n ? digits[i] : '0';
      text[t++] = '.';
      if (n > e + 1) {
        for (i = e + 1; i < n; i++)
          text[t++] = digits[i];
      } else {
        text[t++] = '0';
      }
    } else {
      text[t++] = '0';
      text[t++] = '.';
      for (i = -1; i > e; i--)
        text[t++] = '0';
      for (i = 0; i < n; i++)
        text[t++] = digits[i];
    }
  } else {
    /* Exponent form: "1e+16", "1.5e-7". */
    text[t++] = digits[0];
    if (n > 1) {
      text[t++] = '.';
      for (i = 1; i < n; i++)
        text[t++] = digits[i];
    }
    text[t++] = 'e';
    text[t++] = e < 0 ? '-' : '+';
    t += (size_t)snprintf(text + t, sizeof(text) - t, "%d", e < 0 ? -e : e);
  }
  ps__buf_append(out, text, t);
}

static void write_value(struct ps__buf *out, const struct ps__json_value *v,
                        int sort_keys) {
  size_t i;
  switch (v->type) {
  case PS_JSON_NULL:
    ps__buf_append(out, "null", 4);
    return;
  case PS_JSON_FALSE:
    ps__buf_append(out, "false", 5);
    return;
  case PS_JSON_TRUE:
    ps__buf_append(out, "true", 4);
    return;
  case PS_JSON_INT:
    if (v->as.i < 0)
      write_u64(out, 0 - (uint64_t)v->as.i, 1);
    else
      write_u64(out, (uint64_t)v->as.i, 0);
    return;
  case PS_JSON_UINT:
    write_u64(out, v->as.u, 0);
    return;
  case PS_JSON_FLOAT:
    ps__json_write_double(out, v->as.f);
    return;
  case PS_JSON_STRING:
    ps__json_write_string(out, v->as.str.ptr, v->as.str.len);
    return;
  case PS_JSON_ARRAY:
    ps__buf_putc(out, '[');
    for (i = 0; i < v->as.arr.count; i++) {
      if (i)
        ps__buf_putc(out, ',');
      write_value(out, v->as.arr.items[i], sort_keys);
    }
    ps__buf_putc(out, ']');
    return;
  case PS_JSON_OBJECT: {
    const struct ps__json_member **order = NULL;
    if (sort_keys && v->as.obj.count > 1) {
      order = sorted_members(v);
      if (!order) {
        out->failed = PS_BUF_FAILED_NOMEM;
        return;
      }
    }
    ps__buf_putc(out, '{');
    for (i = 0; i < v->as.obj.count; i++) {
      const struct ps__json_member *m =
          order ? order[i] : &v->as.obj.members[i];
      if (i)
        ps__buf_putc(out, ',');
      ps__json_write_string(out, m->key, m->key_len);
      ps__buf_putc(out, ':');
      write_value(out, m->value, sort_keys);
    }
    ps__buf_putc(out, '}');
    free(order);
    return;
  }
  }
}

void ps__json_write(struct ps__buf *out, const struct ps__json_value *v,
                    int sort_keys) {
  if (!v) {
    ps__buf_append(out, "null", 4);
    return;
  }
  write_value(out, v, sort_keys);
}
