/*
 * sync_json.c: JSON rendering of SQLite values with JavaScript's rules (see
 * sync_json.h for why SQLite's json_object() is not used).
 */
#include "sync_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void psd_json_append_string(struct ps__buf *out, const char *s, size_t len) {
  size_t i;
  ps__buf_putc(out, '"');
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"':
      ps__buf_puts(out, "\\\"");
      break;
    case '\\':
      ps__buf_puts(out, "\\\\");
      break;
    case '\b':
      ps__buf_puts(out, "\\b");
      break;
    case '\f':
      ps__buf_puts(out, "\\f");
      break;
    case '\n':
      ps__buf_puts(out, "\\n");
      break;
    case '\r':
      ps__buf_puts(out, "\\r");
      break;
    case '\t':
      ps__buf_puts(out, "\\t");
      break;
    default:
      if (c < 0x20)
        ps__buf_printf(out, "\\u%04x", c);
      else
        ps__buf_putc(out, (char)c);
      break;
    }
  }
  ps__buf_putc(out, '"');
}

/* The shortest decimal digits that read back as d (d > 0, finite), and the
 * decimal exponent n such that d = 0.DIGITS * 10^n (ECMAScript's k and n). */
static void shortest_digits(double d, char digits[24], int *n) {
  char tmp[40];
  int prec;
  char *e, *p, *w = digits;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  /* tmp is "D.DDDDe+XX" or "De+XX". */
  e = strchr(tmp, 'e');
  for (p = tmp; p < e; p++) {
    if (*p != '.')
      *w++ = *p;
  }
  while (w > digits + 1 && w[-1] == '0')
    w--;
  *w = '\0';
  *n = atoi(e + 1) + 1;
}

void psd_json_append_double(struct ps__buf *out, double d) {
  char digits[24];
  int n, k, i;
  if (!isfinite(d)) {
    ps__buf_puts(out, "null");
    return;
  }
  if (d == 0) {
    ps__buf_putc(out, '0'); /* Also -0, as JavaScript prints it. */
    return;
  }
  if (d < 0) {
    ps__buf_putc(out, '-');
    d = -d;
  }
  shortest_digits(d, digits, &n);
  k = (int)strlen(digits);
  if (k <= n && n <= 21) {
    ps__buf_puts(out, digits);
    for (i = k; i < n; i++)
      ps__buf_putc(out, '0');
  } else if (0 < n && n <= 21) {
    ps__buf_append(out, digits, (size_t)n);
    ps__buf_putc(out, '.');
    ps__buf_puts(out, digits + n);
  } else if (-6 < n && n <= 0) {
    ps__buf_puts(out, "0.");
    for (i = 0; i < -n; i++)
      ps__buf_putc(out, '0');
    ps__buf_puts(out, digits);
  } else {
    ps__buf_putc(out, digits[0]);
    if (k > 1) {
      ps__buf_putc(out, '.');
      ps__buf_puts(out, digits + 1);
    }
    ps__buf_printf(out, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
  }
}

int psd_json_append_value(struct ps__buf *out, sqlite3_value *v) {
  switch (sqlite3_value_type(v)) {
  case SQLITE_INTEGER:
    ps__buf_printf(out, "%lld", (long long)sqlite3_value_int64(v));
    return 0;
  case SQLITE_FLOAT:
    psd_json_append_double(out, sqlite3_value_double(v));
    return 0;
  case SQLITE_TEXT: {
    const char *s = (const char *)sqlite3_value_text(v);
    psd_json_append_string(out, s ? s : "", (size_t)sqlite3_value_bytes(v));
    return 0;
  }
  case SQLITE_NULL:
    ps__buf_puts(out, "null");
    return 0;
  default:
    return 1;
  }
}
