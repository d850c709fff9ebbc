/*
 * http.c: see http.h. Accept and Accept-Encoding are parsed by hand (a
 * comma-separated list of values with ;-parameters) because the service
 * only cares about two media types and one coding, and a dependency for
 * that would be larger than this file.
 */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* q values are kept in thousandths, so comparisons need no floating point
 * (and no locale). */
#define Q_ONE 1000

/* One element of a comma-separated header: [start, end) of the value
 * (before any ';') and its q in thousandths. */
struct header_item {
  const char *start;
  size_t len;
  int q;
};

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Parses "0", "0.5", "1.000" (RFC 9110 qvalue) leniently: digits after the
 * point beyond three are ignored, anything unparsable counts as 1. */
static int parse_q(const char *p, const char *end) {
  int whole, frac = 0, scale = 100;
  if (p >= end || !isdigit((unsigned char)*p))
    return Q_ONE;
  whole = *p++ - '0';
  if (p < end && *p == '.') {
    p++;
    while (p < end && isdigit((unsigned char)*p)) {
      frac += (*p - '0') * scale;
      scale /= 10;
      p++;
    }
  }
  if (whole >= 1)
    return Q_ONE;
  return frac;
}

/* Reads the next item of a list at *cursor; returns 0 at the end. */
static int next_item(const char **cursor, struct header_item *item) {
  const char *p = skip_space(*cursor), *end, *value_end, *param;
  while (*p == ',')
    p = skip_space(p + 1);
  if (*p == '\0')
    return 0;
  end = strchr(p, ',');
  if (!end)
    end = p + strlen(p);
  value_end = memchr(p, ';', (size_t)(end - p));
  if (!value_end)
    value_end = end;
  item->start = p;
  item->len = (size_t)(value_end - p);
  while (item->len > 0 && (p[item->len - 1] == ' ' || p[item->len - 1] == '\t'))
    item->len--;
  item->q = Q_ONE;
  for (param = value_end; param < end && *param == ';';) {
    const char *name = skip_space(param + 1);
    const char *next = memchr(name, ';', (size_t)(end - name));
    if (!next)
      next = end;
    if ((name[0] == 'q' || name[0] == 'Q') && name + 1 < next) {
      const char *eq = skip_space(name + 1);
      if (*eq == '=')
        item->q = parse_q(skip_space(eq + 1), next);
    }
    param = next;
  }
  *cursor = end;
  return 1;
}

static int item_is(const struct header_item *item, const char *value) {
  size_t n = strlen(value);
  return item->len == n && strncasecmp(item->start, value, n) == 0;
}

/* The q the Accept header gives media type "type/subtype": that of the most
 * specific matching range (the exact type, then the type with any subtype,
 * then any type), 0 when none matches. */
static int media_q(const char *accept, const char *media) {
  const char *cursor = accept, *slash = strchr(media, '/');
  size_t type_len = (size_t)(slash - media);
  struct header_item item;
  int best_rank = 0, best_q = 0;
  while (next_item(&cursor, &item)) {
    int rank = 0;
    if (item_is(&item, media))
      rank = 3;
    else if (item.len == type_len + 2 &&
             strncasecmp(item.start, media, type_len + 1) == 0 &&
             item.start[type_len + 1] == '*')
      rank = 2;
    else if (item_is(&item, "*/*"))
      rank = 1;
    if (rank > best_rank) {
      best_rank = rank;
      best_q = item.q;
    }
  }
  return best_q;
}

int psd_http_prefers_bson(const char *accept) {
  if (!accept || !*skip_space(accept))
    return 0;
  return media_q(accept, PSD_MEDIA_BSON) > media_q(accept, PSD_MEDIA_NDJSON);
}

int psd_http_accepts_gzip(const char *accept_encoding) {
  const char *cursor = accept_encoding;
  struct header_item item;
  int gzip_q = -1, any_q = -1;
  if (!accept_encoding)
    return 0;
  while (next_item(&cursor, &item)) {
    if (item_is(&item, "gzip") || item_is(&item, "x-gzip"))
      gzip_q = item.q;
    else if (item_is(&item, "*"))
      any_q = item.q;
  }
  if (gzip_q >= 0)
    return gzip_q > 0;
  return any_q > 0;
}

int psd_parse_int(const char *s, long long min, long long max, long long *out) {
  char *end = NULL;
  long long v;
  if (!s || !*s || isspace((unsigned char)*s))
    return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}
