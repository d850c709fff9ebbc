/*
 * sync_request.c: raw JSON spans and the body of the streaming sync request
 * (core-sync.md 9), sent with EstablishSyncStream.
 *
 * HOW IT WORKS
 *
 * Some values pass through the official core verbatim (app_metadata,
 * stream parameters: serde's RawValue keeps the exact text of a value,
 * inner whitespace included). The tree parser of json.h does not keep
 * source positions, so after a document has been validated with it, the
 * helpers here walk the text once more to find the byte span of a member
 * or of each array element. Because the text is known to be valid, the walk
 * only needs to track strings and bracket depth.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/json.h"
#include "sync_engine.h"

static size_t skip_ws(const char *t, size_t len, size_t i) {
  while (i < len &&
         (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
    i++;
  return i;
}

/* i is at the opening quote; returns the index after the closing one. */
static size_t skip_string(const char *t, size_t len, size_t i) {
  for (i++; i < len; i++) {
    if (t[i] == '\\')
      i++;
    else if (t[i] == '"')
      return i + 1;
  }
  return len;
}

/* i is at the first byte of a value; returns the index after it. */
static size_t skip_value(const char *t, size_t len, size_t i) {
  size_t depth = 0;
  if (i >= len)
    return len;
  if (t[i] == '"')
    return skip_string(t, len, i);
  if (t[i] != '{' && t[i] != '[') {
    while (i < len && t[i] != ',' && t[i] != '}' && t[i] != ']' &&
           t[i] != ' ' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r')
      i++;
    return i;
  }
  while (i < len) {
    char c = t[i];
    if (c == '"') {
      i = skip_string(t, len, i);
      continue;
    }
    if (c == '{' || c == '[')
      depth++;
    else if ((c == '}' || c == ']') && --depth == 0)
      return i + 1;
    i++;
  }
  return len;
}

/* Whether the JSON string token t[start..end) (quotes included) decodes to
 * key. */
static int key_equals(const char *t, size_t start, size_t end,
                      const char *key) {
  size_t klen = strlen(key);
  struct ps__arena arena;
  const struct ps__json_value *v;
  int eq;
  if (!memchr(t + start, '\\', end - start))
    return end - start == klen + 2 && memcmp(t + start + 1, key, klen) == 0;
  ps__arena_init(&arena, 0);
  v = ps__json_parse(&arena, t + start, end - start, NULL, 0);
  eq = v && v->type == PS_JSON_STRING && v->as.str.len == klen &&
       memcmp(v->as.str.ptr, key, klen) == 0;
  ps__arena_free(&arena);
  return eq;
}

int ps__sync_json_raw_member(const char *text, size_t len, const char *key,
                             const char **start, size_t *out_len) {
  size_t i = skip_ws(text, len, 0);
  int found = 0;
  if (i >= len || text[i] != '{')
    return 0;
  i++;
  for (;;) {
    size_t ks, ke, vs, ve;
    i = skip_ws(text, len, i);
    if (i >= len || text[i] != '"')
      return found;
    ks = i;
    ke = skip_string(text, len, i);
    i = skip_ws(text, len, ke);
    if (i >= len || text[i] != ':')
      return found;
    vs = skip_ws(text, len, i + 1);
    ve = skip_value(text, len, vs);
    if (key_equals(text, ks, ke, key)) {
      /* serde rejects duplicates of the fields it knows; the last wins for
       * anything we accept. */
      *start = text + vs;
      *out_len = ve - vs;
      found = 1;
    }
    i = skip_ws(text, len, ve);
    if (i >= len || text[i] != ',')
      return found;
    i++;
  }
}

int ps__sync_json_raw_elements(const char *text, size_t len,
                               const char ***starts, size_t **lens,
                               size_t *count) {
  size_t i = skip_ws(text, len, 0), n = 0, cap = 0;
  const char **s = NULL;
  size_t *l = NULL;
  *starts = NULL;
  *lens = NULL;
  *count = 0;
  if (i >= len || text[i] != '[')
    return 0;
  i = skip_ws(text, len, i + 1);
  while (i < len && text[i] != ']') {
    size_t end = skip_value(text, len, i);
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      const char **ns = realloc(s, ncap * sizeof(*ns));
      size_t *nl = ns ? realloc(l, ncap * sizeof(*nl)) : NULL;
      if (ns)
        s = ns;
      if (!nl) {
        free(s);
        free(l);
        return -1;
      }
      l = nl;
      cap = ncap;
    }
    s[n] = text + i;
    l[n] = end - i;
    n++;
    i = skip_ws(text, len, end);
    if (i < len && text[i] == ',')
      i = skip_ws(text, len, i + 1);
  }
  *starts = s;
  *lens = l;
  *count = n;
  return 0;
}
