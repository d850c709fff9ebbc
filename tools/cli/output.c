/*
 * output.c: table and JSON printing of result sets (see output.h).
 *
 * Cells are copied into the table first, because the widths of a table
 * depend on every row and because `pending` builds its rows from the
 * upload queue rather than from a query.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* ---- Building ------------------------------------------------------------ */

int cli_table_init(cli_table *t, size_t ncols, const char *const *names) {
  size_t i;
  memset(t, 0, sizeof(*t));
  t->names = calloc(ncols ? ncols : 1, sizeof(char *));
  if (!t->names)
    return -1;
  t->ncols = ncols;
  for (i = 0; i < ncols; i++) {
    t->names[i] = strdup(names[i] ? names[i] : "");
    if (!t->names[i])
      return -1; /* cli_table_free releases what was copied. */
  }
  return 0;
}

/* A copy of v whose TEXT/BLOB bytes are owned (NUL-terminated). */
static int copy_value(powersync_value *dst, const powersync_value *v) {
  *dst = *v;
  if (v->type == POWERSYNC_VALUE_TEXT || v->type == POWERSYNC_VALUE_BLOB) {
    char *bytes = malloc(v->as.bytes.size + 1);
    if (!bytes) {
      dst->type = POWERSYNC_VALUE_NULL;
      return -1;
    }
    if (v->as.bytes.size)
      memcpy(bytes, v->as.bytes.data, v->as.bytes.size);
    bytes[v->as.bytes.size] = '\0';
    dst->as.bytes.data = bytes;
  }
  return 0;
}

static int grow_rows(cli_table *t) {
  size_t cap = t->row_cap ? t->row_cap * 2 : 16;
  powersync_value *cells;
  if (t->ncols && cap > SIZE_MAX / sizeof(*cells) / t->ncols)
    return -1;
  cells = realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof(*cells));
  if (!cells)
    return -1;
  t->cells = cells;
  t->row_cap = cap;
  return 0;
}

int cli_table_add_row(cli_table *t, const powersync_value *values) {
  powersync_value *row;
  size_t c;
  int rc = 0;
  if (t->nrows == t->row_cap && grow_rows(t) != 0)
    return -1;
  row = t->cells + t->nrows * t->ncols;
  for (c = 0; c < t->ncols; c++)
    if (copy_value(&row[c], &values[c]) != 0)
      rc = -1;
  t->nrows++; /* Even on failure, so that free releases the copies. */
  return rc;
}

int cli_table_from_rows(cli_table *t, const powersync_rows *rows) {
  size_t ncols = powersync_rows_columns(rows), r, c;
  const char **names = calloc(ncols ? ncols : 1, sizeof(char *));
  powersync_value *row = calloc(ncols ? ncols : 1, sizeof(*row));
  int rc = names && row ? 0 : -1;
  memset(t, 0, sizeof(*t));
  for (c = 0; rc == 0 && c < ncols; c++)
    names[c] = powersync_rows_column_name(rows, c);
  if (rc == 0)
    rc = cli_table_init(t, ncols, names);
  for (r = 0; rc == 0 && r < powersync_rows_count(rows); r++) {
    for (c = 0; c < ncols; c++) {
      const powersync_value *v = powersync_rows_value(rows, r, c);
      row[c] = v ? *v : powersync_null();
    }
    rc = cli_table_add_row(t, row);
  }
  free(names);
  free(row);
  return rc;
}

void cli_table_free(cli_table *t) {
  size_t i;
  for (i = 0; t->names && i < t->ncols; i++)
    free(t->names[i]);
  free(t->names);
  for (i = 0; t->cells && i < t->nrows * t->ncols; i++)
    if (t->cells[i].type == POWERSYNC_VALUE_TEXT ||
        t->cells[i].type == POWERSYNC_VALUE_BLOB)
      free((void *)t->cells[i].as.bytes.data);
  free(t->cells);
  memset(t, 0, sizeof(*t));
}

/* ---- Formatting one value ------------------------------------------------ */

void cli_format_real(double d, char *out, size_t size) {
  int precision;
  if (!isfinite(d)) {
    snprintf(out, size, "%s", isnan(d) ? "NaN" : d > 0 ? "Inf" : "-Inf");
    return;
  }
  for (precision = 15; precision <= 17; precision++) {
    snprintf(out, size, "%.*g", precision, d);
    if (strtod(out, NULL) == d)
      break;
  }
  /* "1" would read back as an integer: keep reals recognisable. */
  if (strspn(out, "-0123456789") == strlen(out) && strlen(out) + 3 < size)
    strcat(out, ".0");
}

/* Text for a table cell: control characters escaped so that every row
 * stays on one line. */
static void table_text(cli_buf *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\n')
      cli_buf_puts(b, "\\n");
    else if (ch == '\t')
      cli_buf_puts(b, "\\t");
    else if (ch == '\r')
      cli_buf_puts(b, "\\r");
    else if (ch < 0x20 || ch == 0x7f)
      cli_buf_printf(b, "\\x%02x", ch);
    else
      cli_buf_append(b, &s[i], 1);
  }
}

static void format_cell(cli_buf *b, const powersync_value *v) {
  char num[64];
  size_t i;
  switch (v->type) {
  case POWERSYNC_VALUE_NULL:
    cli_buf_puts(b, "NULL");
    break;
  case POWERSYNC_VALUE_INTEGER:
    cli_buf_printf(b, "%lld", (long long)v->as.integer);
    break;
  case POWERSYNC_VALUE_REAL:
    cli_format_real(v->as.real, num, sizeof(num));
    cli_buf_puts(b, num);
    break;
  case POWERSYNC_VALUE_TEXT:
    table_text(b, v->as.bytes.data, v->as.bytes.size);
    break;
  case POWERSYNC_VALUE_BLOB:
    cli_buf_puts(b, "x'");
    for (i = 0; i < v->as.bytes.size; i++)
      cli_buf_printf(b, "%02x", ((const unsigned char *)v->as.bytes.data)[i]);
    cli_buf_puts(b, "'");
    break;
  }
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t display_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80)
      w++;
  return w;
}

/* ---- Table form ---------------------------------------------------------- */

static int column_is_numeric(const cli_table *t, size_t c) {
  size_t r;
  int any = 0;
  for (r = 0; r < t->nrows; r++) {
    powersync_value_type type = t->cells[r * t->ncols + c].type;
    if (type == POWERSYNC_VALUE_INTEGER || type == POWERSYNC_VALUE_REAL)
      any = 1;
    else if (type != POWERSYNC_VALUE_NULL)
      return 0;
  }
  return any;
}

static void print_padded(FILE *out, const char *s, size_t width, int right,
                         int last) {
  size_t pad = width - display_width(s);
  if (right)
    fprintf(out, "%*s", (int)pad, "");
  fputs(s, out);
  if (!right && !last)
    fprintf(out, "%*s", (int)pad, "");
}

static void print_line(FILE *out, const char *indent, char **cells,
                       const size_t *widths, const int *right, size_t ncols) {
  size_t c;
  fputs(indent, out);
  for (c = 0; c < ncols; c++) {
    if (c)
      fputs("  ", out);
    print_padded(out, cells[c], widths[c], right[c], c + 1 == ncols);
  }
  fputc('\n', out);
}

/* Formats every cell once: cells[r * ncols + c]. NULL when out of memory. */
static char **format_all(const cli_table *t) {
  size_t n = t->nrows * t->ncols, i;
  char **cells = calloc(n ? n : 1, sizeof(char *));
  for (i = 0; cells && i < n; i++) {
    cli_buf b = {0};
    format_cell(&b, &t->cells[i]);
    cells[i] = b.failed ? NULL : strdup(cli_buf_str(&b));
    cli_buf_free(&b);
    if (!cells[i]) {
      while (i-- > 0)
        free(cells[i]);
      free(cells);
      return NULL;
    }
  }
  return cells;
}

void cli_table_print(const cli_table *t, FILE *out, const char *indent) {
  size_t *widths = calloc(t->ncols ? t->ncols : 1, sizeof(size_t));
  int *right = calloc(t->ncols ? t->ncols : 1, sizeof(int));
  char **dashes = calloc(t->ncols ? t->ncols : 1, sizeof(char *));
  char **cells = format_all(t);
  size_t r, c;
  if (!widths || !right || !dashes || !cells) {
    cli_error("out of memory");
    goto done;
  }
  for (c = 0; c < t->ncols; c++) {
    widths[c] = display_width(t->names[c]);
    right[c] = column_is_numeric(t, c);
    for (r = 0; r < t->nrows; r++) {
      size_t w = display_width(cells[r * t->ncols + c]);
      if (w > widths[c])
        widths[c] = w;
    }
    dashes[c] = malloc(widths[c] + 1);
    if (!dashes[c]) {
      cli_error("out of memory");
      goto done;
    }
    memset(dashes[c], '-', widths[c]);
    dashes[c][widths[c]] = '\0';
  }
  print_line(out, indent, t->names, widths, right, t->ncols);
  print_line(out, indent, dashes, widths, right, t->ncols);
  for (r = 0; r < t->nrows; r++)
    print_line(out, indent, cells + r * t->ncols, widths, right, t->ncols);
done:
  for (c = 0; dashes && c < t->ncols; c++)
    free(dashes[c]);
  for (r = 0; cells && r < t->nrows * t->ncols; r++)
    free(cells[r]);
  free(cells);
  free(dashes);
  free(right);
  free(widths);
}

/* ---- JSON form ----------------------------------------------------------- */

void cli_json_string(cli_buf *b, const char *s, size_t n) {
  size_t i;
  cli_buf_puts(b, "\"");
  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    switch (ch) {
    case '"':
      cli_buf_puts(b, "\\\"");
      break;
    case '\\':
      cli_buf_puts(b, "\\\\");
      break;
    case '\n':
      cli_buf_puts(b, "\\n");
      break;
    case '\r':
      cli_buf_puts(b, "\\r");
      break;
    case '\t':
      cli_buf_puts(b, "\\t");
      break;
    default:
      if (ch < 0x20)
        cli_buf_printf(b, "\\u%04x", ch);
      else
        cli_buf_append(b, &s[i], 1);
    }
  }
  cli_buf_puts(b, "\"");
}

static void json_base64(cli_buf *b, const unsigned char *p, size_t n) {
  static const char ALPHABET[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  cli_buf_puts(b, "\"");
  for (i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    char quad[4];
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    quad[0] = ALPHABET[(v >> 18) & 63];
    quad[1] = ALPHABET[(v >> 12) & 63];
    quad[2] = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
    quad[3] = i + 2 < n ? ALPHABET[v & 63] : '=';
    cli_buf_append(b, quad, 4);
  }
  cli_buf_puts(b, "\"");
}

static void json_value(cli_buf *b, const powersync_value *v) {
  char num[64];
  switch (v->type) {
  case POWERSYNC_VALUE_NULL:
    cli_buf_puts(b, "null");
    break;
  case POWERSYNC_VALUE_INTEGER:
    cli_buf_printf(b, "%lld", (long long)v->as.integer);
    break;
  case POWERSYNC_VALUE_REAL:
    if (!isfinite(v->as.real)) {
      cli_buf_puts(b, "null"); /* JSON has no NaN or infinity. */
      break;
    }
    cli_format_real(v->as.real, num, sizeof(num));
    cli_buf_puts(b, num);
    break;
  case POWERSYNC_VALUE_TEXT:
    cli_json_string(b, v->as.bytes.data, v->as.bytes.size);
    break;
  case POWERSYNC_VALUE_BLOB:
    json_base64(b, v->as.bytes.data, v->as.bytes.size);
    break;
  }
}

void cli_table_print_json(const cli_table *t, FILE *out) {
  size_t r, c;
  if (t->nrows == 0) {
    fputs("[]\n", out);
    return;
  }
  fputs("[\n", out);
  for (r = 0; r < t->nrows; r++) {
    cli_buf b = {0};
    cli_buf_puts(&b, "  {");
    for (c = 0; c < t->ncols; c++) {
      if (c)
        cli_buf_puts(&b, ",");
      cli_json_string(&b, t->names[c], strlen(t->names[c]));
      cli_buf_puts(&b, ":");
      json_value(&b, &t->cells[r * t->ncols + c]);
    }
    cli_buf_puts(&b, r + 1 < t->nrows ? "},\n" : "}\n");
    if (b.failed)
      cli_error("out of memory");
    else
      fputs(cli_buf_str(&b), out);
    cli_buf_free(&b);
  }
  fputs("]\n", out);
}
