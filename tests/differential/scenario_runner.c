/*
 * scenario_runner.c: runs the differential scenarios (tests/differential/
 * scenarios/<name>.json) with OUR core on the SQLite this program is linked
 * against (Debian's 3.40.1) and compares every step's canonical output line
 * with the golden file recorded from the official core
 * (tests/differential/expected/<name>.jsonl).
 *
 *   scenario_runner [--extension path/to/powersync.so] [--only name]
 *                   [--no-fork] [--verbose] [--print] [--oracle]
 *                   <scenarios dir> <expected dir>
 *
 * Without --extension the statically linked core is registered with
 * powersync_init_static() before any connection is opened. The output lines
 * are byte-identical to those of run.js/lib/scenario.js (see README.md);
 * connections are configured like better-sqlite3's (extended result codes,
 * double-quoted string literals off, foreign keys on). Scenarios with "core"
 * steps need the official core and are skipped. A step's "sqlite340" value
 * replaces the golden line when the linked SQLite is older than 3.44 (the
 * oldest version the official core loads on). Each scenario runs in a forked
 * child so that a crash fails that scenario only.
 *
 * The sync scenarios use the step kinds "control" (powersync_control in a
 * transaction), "second" (a second connection), "advance"/"clock" (the
 * mocked clock behind an overriding unixepoch()) and the arguments
 * {"json": v} / {"bson": v}; see README.md. After every control step the
 * runner fails the scenario if a prepared statement of the connection is
 * still busy (the upstream tests require that). --oracle compares with the
 * goldens as recorded (no deviations, no "sqlite340"): used with the official
 * core and a newer SQLite by check_runner_identity.sh.
 *
 * Prints one result per scenario and finally "N passed, M failed"; exits 1
 * when a scenario failed, 2 on usage errors.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/json.h"
#include "powersync/ext.h"
#include "util/arena.h"
#include "util/buf.h"

/* The official core refuses to load below this version; golden files come
 * from a newer SQLite, so "sqlite340" overrides apply below it. */
#define OLD_SQLITE_BELOW 3044000

#define MAX_DIFFS_SHOWN 8
#define EXCERPT_MAX     240

enum step_kind {
  STEP_SQL,
  STEP_EXEC,
  STEP_TX,
  STEP_CONTROL,
  STEP_CORE,
  STEP_REOPEN,
  STEP_SECOND,
  STEP_ADVANCE,
  STEP_CLOCK
};

struct step {
  enum step_kind kind;
  const char *text; /* SQL for sql/exec/tx/second/control; "" otherwise. */
  const struct ps__json_value *args;
  const struct ps__json_value *control; /* The [op, payload] of control. */
  int64_t clock_ms; /* advance: milliseconds to add; clock: the new time. */
  const char *label;
  int normalize; /* NORM_* flags. */
  const char *deviation;
  char *ours_line; /* Canonical "ours" line (malloc), or NULL. */
  int sqlite340;   /* 0 none, 1 skip, 2 value in sqlite340_line. */
  char *sqlite340_line;
};

struct scenario {
  char name[256];
  int file_db;
  int has_core;
  int has_clock;
  int64_t clock_ms; /* The scenario "clock" (ms since the epoch). */
  size_t n_steps;
  struct step *steps;
  struct ps__arena arena;
};

struct options {
  const char *extension;
  const char *only;
  int fork;
  int verbose;
  int print;  /* Print every step's actual line (to write "sqlite340"). */
  int oracle; /* The extension is the official core: plain goldens. */
};

static struct options opts = {NULL, NULL, 1, 0, 0, 0};

/* ------------------------------------------------------------------------ */
/* Result code names, exactly as better-sqlite3 12 reports them in err.code
 * (src/util/constants.cpp); other codes become UNKNOWN_SQLITE_ERROR_<n>. */

struct code_name {
  int code;
  const char *name;
};

static const struct code_name code_names[] = {
    {0, "SQLITE_OK"},
    {1, "SQLITE_ERROR"},
    {2, "SQLITE_INTERNAL"},
    {3, "SQLITE_PERM"},
    {4, "SQLITE_ABORT"},
    {5, "SQLITE_BUSY"},
    {6, "SQLITE_LOCKED"},
    {7, "SQLITE_NOMEM"},
    {8, "SQLITE_READONLY"},
    {9, "SQLITE_INTERRUPT"},
    {10, "SQLITE_IOERR"},
    {11, "SQLITE_CORRUPT"},
    {12, "SQLITE_NOTFOUND"},
    {13, "SQLITE_FULL"},
    {14, "SQLITE_CANTOPEN"},
    {15, "SQLITE_PROTOCOL"},
    {16, "SQLITE_EMPTY"},
    {17, "SQLITE_SCHEMA"},
    {18, "SQLITE_TOOBIG"},
    {19, "SQLITE_CONSTRAINT"},
    {20, "SQLITE_MISMATCH"},
    {21, "SQLITE_MISUSE"},
    {22, "SQLITE_NOLFS"},
    {23, "SQLITE_AUTH"},
    {24, "SQLITE_FORMAT"},
    {25, "SQLITE_RANGE"},
    {26, "SQLITE_NOTADB"},
    {27, "SQLITE_NOTICE"},
    {28, "SQLITE_WARNING"},
    {100, "SQLITE_ROW"},
    {101, "SQLITE_DONE"},
    {1 | (1 << 8), "SQLITE_ERROR_MISSING_COLLSEQ"},
    {1 | (2 << 8), "SQLITE_ERROR_RETRY"},
    {1 | (3 << 8), "SQLITE_ERROR_SNAPSHOT"},
    {10 | (1 << 8), "SQLITE_IOERR_READ"},
    {10 | (2 << 8), "SQLITE_IOERR_SHORT_READ"},
    {10 | (3 << 8), "SQLITE_IOERR_WRITE"},
    {10 | (4 << 8), "SQLITE_IOERR_FSYNC"},
    {10 | (5 << 8), "SQLITE_IOERR_DIR_FSYNC"},
    {10 | (6 << 8), "SQLITE_IOERR_TRUNCATE"},
    {10 | (7 << 8), "SQLITE_IOERR_FSTAT"},
    {10 | (8 << 8), "SQLITE_IOERR_UNLOCK"},
    {10 | (9 << 8), "SQLITE_IOERR_RDLOCK"},
    {10 | (10 << 8), "SQLITE_IOERR_DELETE"},
    {10 | (11 << 8), "SQLITE_IOERR_BLOCKED"},
    {10 | (12 << 8), "SQLITE_IOERR_NOMEM"},
    {10 | (13 << 8), "SQLITE_IOERR_ACCESS"},
    {10 | (14 << 8), "SQLITE_IOERR_CHECKRESERVEDLOCK"},
    {10 | (15 << 8), "SQLITE_IOERR_LOCK"},
    {10 | (16 << 8), "SQLITE_IOERR_CLOSE"},
    {10 | (17 << 8), "SQLITE_IOERR_DIR_CLOSE"},
    {10 | (18 << 8), "SQLITE_IOERR_SHMOPEN"},
    {10 | (19 << 8), "SQLITE_IOERR_SHMSIZE"},
    {10 | (20 << 8), "SQLITE_IOERR_SHMLOCK"},
    {10 | (21 << 8), "SQLITE_IOERR_SHMMAP"},
    {10 | (22 << 8), "SQLITE_IOERR_SEEK"},
    {10 | (23 << 8), "SQLITE_IOERR_DELETE_NOENT"},
    {10 | (24 << 8), "SQLITE_IOERR_MMAP"},
    {10 | (25 << 8), "SQLITE_IOERR_GETTEMPPATH"},
    {10 | (26 << 8), "SQLITE_IOERR_CONVPATH"},
    {10 | (27 << 8), "SQLITE_IOERR_VNODE"},
    {10 | (28 << 8), "SQLITE_IOERR_AUTH"},
    {10 | (29 << 8), "SQLITE_IOERR_BEGIN_ATOMIC"},
    {10 | (30 << 8), "SQLITE_IOERR_COMMIT_ATOMIC"},
    {10 | (31 << 8), "SQLITE_IOERR_ROLLBACK_ATOMIC"},
    {10 | (32 << 8), "SQLITE_IOERR_DATA"},
    {10 | (33 << 8), "SQLITE_IOERR_CORRUPTFS"},
    {10 | (34 << 8), "SQLITE_IOERR_IN_PAGE"},
    {6 | (1 << 8), "SQLITE_LOCKED_SHAREDCACHE"},
    {6 | (2 << 8), "SQLITE_LOCKED_VTAB"},
    {5 | (1 << 8), "SQLITE_BUSY_RECOVERY"},
    {5 | (2 << 8), "SQLITE_BUSY_SNAPSHOT"},
    {14 | (1 << 8), "SQLITE_CANTOPEN_NOTEMPDIR"},
    {14 | (2 << 8), "SQLITE_CANTOPEN_ISDIR"},
    {14 | (3 << 8), "SQLITE_CANTOPEN_FULLPATH"},
    {14 | (4 << 8), "SQLITE_CANTOPEN_CONVPATH"},
    {14 | (5 << 8), "SQLITE_CANTOPEN_DIRTYWAL"},
    {14 | (6 << 8), "SQLITE_CANTOPEN_SYMLINK"},
    {11 | (1 << 8), "SQLITE_CORRUPT_VTAB"},
    {11 | (2 << 8), "SQLITE_CORRUPT_SEQUENCE"},
    {11 | (3 << 8), "SQLITE_CORRUPT_INDEX"},
    {8 | (1 << 8), "SQLITE_READONLY_RECOVERY"},
    {8 | (2 << 8), "SQLITE_READONLY_CANTLOCK"},
    {8 | (3 << 8), "SQLITE_READONLY_ROLLBACK"},
    {8 | (4 << 8), "SQLITE_READONLY_DBMOVED"},
    {8 | (5 << 8), "SQLITE_READONLY_CANTINIT"},
    {8 | (6 << 8), "SQLITE_READONLY_DIRECTORY"},
    {4 | (2 << 8), "SQLITE_ABORT_ROLLBACK"},
    {19 | (1 << 8), "SQLITE_CONSTRAINT_CHECK"},
    {19 | (2 << 8), "SQLITE_CONSTRAINT_COMMITHOOK"},
    {19 | (3 << 8), "SQLITE_CONSTRAINT_FOREIGNKEY"},
    {19 | (4 << 8), "SQLITE_CONSTRAINT_FUNCTION"},
    {19 | (5 << 8), "SQLITE_CONSTRAINT_NOTNULL"},
    {19 | (6 << 8), "SQLITE_CONSTRAINT_PRIMARYKEY"},
    {19 | (7 << 8), "SQLITE_CONSTRAINT_TRIGGER"},
    {19 | (8 << 8), "SQLITE_CONSTRAINT_UNIQUE"},
    {19 | (9 << 8), "SQLITE_CONSTRAINT_VTAB"},
    {19 | (10 << 8), "SQLITE_CONSTRAINT_ROWID"},
    {19 | (11 << 8), "SQLITE_CONSTRAINT_PINNED"},
    {19 | (12 << 8), "SQLITE_CONSTRAINT_DATATYPE"},
    {27 | (1 << 8), "SQLITE_NOTICE_RECOVER_WAL"},
    {27 | (2 << 8), "SQLITE_NOTICE_RECOVER_ROLLBACK"},
    {27 | (3 << 8), "SQLITE_NOTICE_RBU"},
    {28 | (1 << 8), "SQLITE_WARNING_AUTOINDEX"},
    {23 | (1 << 8), "SQLITE_AUTH_USER"},
    {0 | (1 << 8), "SQLITE_OK_LOAD_PERMANENTLY"},
    {0 | (2 << 8), "SQLITE_OK_SYMLINK"},
};

static void put_code_name(struct ps__buf *out, int code) {
  size_t i;
  for (i = 0; i < sizeof(code_names) / sizeof(code_names[0]); i++) {
    if (code_names[i].code == code) {
      ps__buf_puts(out, code_names[i].name);
      return;
    }
  }
  ps__buf_printf(out, "UNKNOWN_SQLITE_ERROR_%d", code);
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding (must match lib/scenario.js byte for byte). */

/* Appends code point cp as an escaped JSON string character, the way
 * JSON.stringify writes it. */
static void put_code_point(struct ps__buf *out, uint32_t cp) {
  switch (cp) {
  case '"':
    ps__buf_puts(out, "\\\"");
    return;
  case '\\':
    ps__buf_puts(out, "\\\\");
    return;
  case '\b':
    ps__buf_puts(out, "\\b");
    return;
  case '\f':
    ps__buf_puts(out, "\\f");
    return;
  case '\n':
    ps__buf_puts(out, "\\n");
    return;
  case '\r':
    ps__buf_puts(out, "\\r");
    return;
  case '\t':
    ps__buf_puts(out, "\\t");
    return;
  default:
    break;
  }
  if (cp < 0x20) {
    ps__buf_printf(out, "\\u%04x", (unsigned)cp);
  } else if (cp < 0x80) {
    ps__buf_putc(out, (char)cp);
  } else if (cp < 0x800) {
    ps__buf_putc(out, (char)(0xC0 | (cp >> 6)));
    ps__buf_putc(out, (char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    ps__buf_putc(out, (char)(0xE0 | (cp >> 12)));
    ps__buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
    ps__buf_putc(out, (char)(0x80 | (cp & 0x3F)));
  } else {
    ps__buf_putc(out, (char)(0xF0 | (cp >> 18)));
    ps__buf_putc(out, (char)(0x80 | ((cp >> 12) & 0x3F)));
    ps__buf_putc(out, (char)(0x80 | ((cp >> 6) & 0x3F)));
    ps__buf_putc(out, (char)(0x80 | (cp & 0x3F)));
  }
}

/*
 * Appends s[0..len) as a JSON string. The bytes are decoded as UTF-8 the way
 * V8 does when better-sqlite3 hands SQLite text to JavaScript (the WHATWG
 * decoder: each maximal invalid subsequence becomes one U+FFFD).
 */
static void put_json_string(struct ps__buf *out, const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  uint32_t cp = 0;
  int needed = 0, seen = 0;
  unsigned lower = 0x80, upper = 0xBF;
  ps__buf_putc(out, '"');
  while (i < len) {
    unsigned b = p[i];
    if (needed == 0) {
      i++;
      if (b <= 0x7F) {
        put_code_point(out, b);
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
        cp = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0)
          lower = 0xA0;
        if (b == 0xED)
          upper = 0x9F;
        needed = 2;
        cp = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0)
          lower = 0x90;
        if (b == 0xF4)
          upper = 0x8F;
        needed = 3;
        cp = b & 0x07;
      } else {
        put_code_point(out, 0xFFFD);
      }
      continue;
    }
    if (b < lower || b > upper) {
      /* Invalid continuation: replace what we have, then reprocess b. */
      needed = seen = 0;
      cp = 0;
      lower = 0x80;
      upper = 0xBF;
      put_code_point(out, 0xFFFD);
      continue;
    }
    i++;
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    if (++seen == needed) {
      put_code_point(out, cp);
      needed = seen = 0;
      cp = 0;
    }
  }
  if (needed != 0)
    put_code_point(out, 0xFFFD);
  ps__buf_putc(out, '"');
}

static void put_cstring(struct ps__buf *out, const char *s) {
  put_json_string(out, s, strlen(s));
}

static void put_value(struct ps__buf *out, sqlite3_stmt *stmt, int col) {
  switch (sqlite3_column_type(stmt, col)) {
  case SQLITE_INTEGER:
    ps__buf_printf(out, "%lld", (long long)sqlite3_column_int64(stmt, col));
    break;
  case SQLITE_FLOAT: {
    double d = sqlite3_column_double(stmt, col);
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    ps__buf_printf(out, "{\"real\":\"%016" PRIx64 "\"}", bits);
    break;
  }
  case SQLITE_TEXT: {
    const char *t = (const char *)sqlite3_column_text(stmt, col);
    put_json_string(out, t ? t : "", (size_t)sqlite3_column_bytes(stmt, col));
    break;
  }
  case SQLITE_BLOB: {
    const unsigned char *b = sqlite3_column_blob(stmt, col);
    int n = sqlite3_column_bytes(stmt, col), k;
    ps__buf_puts(out, "{\"blob\":\"");
    for (k = 0; k < n; k++)
      ps__buf_printf(out, "%02x", b[k]);
    ps__buf_puts(out, "\"}");
    break;
  }
  default:
    ps__buf_puts(out, "null");
    break;
  }
}

/* Normalizers of error messages (the step's "normalize" list): NORM_CAUSE
 * replaces everything after "cause: " with <parser message>; NORM_STATEMENT
 * drops "statement <sql>: " before "internal SQLite call returned". */
#define NORM_CAUSE     1
#define NORM_STATEMENT 2

static void put_error(struct ps__buf *out, const char *code_name, int code,
                      const char *message, int normalize) {
  struct ps__buf stripped;
  const char *cause;
  ps__buf_init(&stripped, 0);
  if (normalize & NORM_STATEMENT) {
    const char *stmt = strstr(message, "statement ");
    const char *internal =
        stmt ? strstr(stmt, ": internal SQLite call returned") : NULL;
    if (internal) {
      ps__buf_append(&stripped, message, (size_t)(stmt - message));
      ps__buf_puts(&stripped, internal + 2);
      message = ps__buf_cstr(&stripped);
    }
  }
  cause = (normalize & NORM_CAUSE) ? strstr(message, "cause: ") : NULL;
  ps__buf_puts(out, "{\"error\":{\"code\":");
  if (code_name) {
    put_cstring(out, code_name);
  } else {
    ps__buf_putc(out, '"');
    put_code_name(out, code);
    ps__buf_putc(out, '"');
  }
  ps__buf_puts(out, ",\"message\":");
  if (cause) {
    struct ps__buf m;
    ps__buf_init(&m, 0);
    ps__buf_append(&m, message, (size_t)(cause - message) + 7);
    ps__buf_puts(&m, "<parser message>");
    put_json_string(out, ps__buf_cstr(&m), m.len);
    ps__buf_free(&m);
  } else {
    put_cstring(out, message);
  }
  ps__buf_puts(out, "}}");
  ps__buf_free(&stripped);
}

static int is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

/* Does a UUID v4 (8-4-4-4-12 hex, version 4, variant 8-b) start at s? */
static int uuid_at(const char *s, size_t left) {
  static const char shape[] = "xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx";
  size_t k;
  if (left < 36)
    return 0;
  for (k = 0; k < 36; k++) {
    char c = s[k];
    switch (shape[k]) {
    case 'x':
      if (!is_hex(c))
        return 0;
      break;
    case 'v':
      if (!strchr("89abAB", c) || c == 0)
        return 0;
      break;
    default:
      if (c != shape[k])
        return 0;
      break;
    }
  }
  return 1;
}

/* Replaces every UUID v4 in line with "<uuid>" (leftmost, no overlaps). */
static char *normalize_line(const char *line) {
  struct ps__buf out;
  size_t len = strlen(line), i = 0;
  ps__buf_init(&out, 0);
  while (i < len) {
    if (uuid_at(line + i, len - i)) {
      ps__buf_puts(&out, "<uuid>");
      i += 36;
    } else {
      ps__buf_putc(&out, line[i++]);
    }
  }
  ps__buf_putc(&out, 0);
  ps__buf_truncate(&out, out.len - 1);
  return ps__buf_take(&out);
}

/* Canonical text of an expected value from a scenario file. Returns 0 on
 * success; floats are refused (REAL is written {"real":"<hex>"}). */
static int put_canonical(struct ps__buf *out, const struct ps__json_value *v) {
  size_t k;
  switch (v->type) {
  case PS_JSON_NULL:
    ps__buf_puts(out, "null");
    return 0;
  case PS_JSON_TRUE:
    ps__buf_puts(out, "true");
    return 0;
  case PS_JSON_FALSE:
    ps__buf_puts(out, "false");
    return 0;
  case PS_JSON_INT:
    ps__buf_printf(out, "%" PRId64, v->as.i);
    return 0;
  case PS_JSON_UINT:
    ps__buf_printf(out, "%" PRIu64, v->as.u);
    return 0;
  case PS_JSON_FLOAT:
    return -1;
  case PS_JSON_STRING:
    put_json_string(out, v->as.str.ptr, v->as.str.len);
    return 0;
  case PS_JSON_ARRAY:
    ps__buf_putc(out, '[');
    for (k = 0; k < v->as.arr.count; k++) {
      if (k)
        ps__buf_putc(out, ',');
      if (put_canonical(out, v->as.arr.items[k]))
        return -1;
    }
    ps__buf_putc(out, ']');
    return 0;
  case PS_JSON_OBJECT:
    ps__buf_putc(out, '{');
    for (k = 0; k < v->as.obj.count; k++) {
      if (k)
        ps__buf_putc(out, ',');
      put_json_string(out, v->as.obj.members[k].key,
                      v->as.obj.members[k].key_len);
      ps__buf_putc(out, ':');
      if (put_canonical(out, v->as.obj.members[k].value))
        return -1;
    }
    ps__buf_putc(out, '}');
    return 0;
  }
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Argument encodings {"json": v} and {"bson": v} (lib/scenario.js jsonText()
 * and bsonBytes(); both must produce the same bytes). */

/* A float the way JavaScript's Math.abs(x).toExponential() writes it, with a
 * leading '-' for negative numbers and -0: the shortest digits that read
 * back as x, e.g. 3.573495687e+9, 1e+0, 1.5e-7. */
static void put_float_text(struct ps__buf *out, double x) {
  char tmp[64], *e;
  int p, exp;
  if (x < 0 || (x == 0 && 1 / x < 0)) {
    ps__buf_putc(out, '-');
    x = -x;
  }
  if (x == 0) {
    ps__buf_puts(out, "0e+0");
    return;
  }
  for (p = 0; p < 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*e", p, x);
    if (strtod(tmp, NULL) == x)
      break;
  }
  e = strchr(tmp, 'e');
  if (!e)
    return;
  exp = atoi(e + 1);
  ps__buf_append(out, tmp, (size_t)(e - tmp));
  ps__buf_printf(out, "e%c%d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

/* Compact JSON text: keys in document order, strings like JSON.stringify. */
static void put_json_text(struct ps__buf *out, const struct ps__json_value *v) {
  size_t k;
  switch (v->type) {
  case PS_JSON_NULL:
    ps__buf_puts(out, "null");
    break;
  case PS_JSON_TRUE:
    ps__buf_puts(out, "true");
    break;
  case PS_JSON_FALSE:
    ps__buf_puts(out, "false");
    break;
  case PS_JSON_INT:
    ps__buf_printf(out, "%" PRId64, v->as.i);
    break;
  case PS_JSON_UINT:
    ps__buf_printf(out, "%" PRIu64, v->as.u);
    break;
  case PS_JSON_FLOAT:
    put_float_text(out, v->as.f);
    break;
  case PS_JSON_STRING:
    put_json_string(out, v->as.str.ptr, v->as.str.len);
    break;
  case PS_JSON_ARRAY:
    ps__buf_putc(out, '[');
    for (k = 0; k < v->as.arr.count; k++) {
      if (k)
        ps__buf_putc(out, ',');
      put_json_text(out, v->as.arr.items[k]);
    }
    ps__buf_putc(out, ']');
    break;
  case PS_JSON_OBJECT:
    ps__buf_putc(out, '{');
    for (k = 0; k < v->as.obj.count; k++) {
      if (k)
        ps__buf_putc(out, ',');
      put_json_string(out, v->as.obj.members[k].key,
                      v->as.obj.members[k].key_len);
      ps__buf_putc(out, ':');
      put_json_text(out, v->as.obj.members[k].value);
    }
    ps__buf_putc(out, '}');
    break;
  }
}

static void set_byte(struct ps__buf *out, size_t at, int value) {
  if (!ps__buf_failed(out) && at < out->len)
    out->data[at] = (char)value;
}

static void put_le(struct ps__buf *out, uint64_t v, int bytes) {
  int k;
  for (k = 0; k < bytes; k++)
    ps__buf_putc(out, (char)((v >> (8 * k)) & 0xFF));
}

static int put_bson_document(struct ps__buf *out,
                             const struct ps__json_value *v);

/* One element: type byte, key, value. Returns -1 for values BSON (as the
 * Dart bson package writes JSON values) cannot hold. */
static int put_bson_element(struct ps__buf *out, const char *key,
                            size_t key_len, const struct ps__json_value *v) {
  size_t type_at = out->len;
  if (memchr(key, 0, key_len))
    return -1;
  ps__buf_putc(out, 0);
  ps__buf_append(out, key, key_len);
  ps__buf_putc(out, 0);
  switch (v->type) {
  case PS_JSON_NULL:
    set_byte(out, type_at, 0x0A);
    return 0;
  case PS_JSON_TRUE:
  case PS_JSON_FALSE:
    set_byte(out, type_at, 0x08);
    ps__buf_putc(out, v->type == PS_JSON_TRUE ? 1 : 0);
    return 0;
  case PS_JSON_INT:
    if (v->as.i >= INT32_MIN && v->as.i <= INT32_MAX) {
      set_byte(out, type_at, 0x10);
      put_le(out, (uint64_t)(uint32_t)(int32_t)v->as.i, 4);
    } else {
      set_byte(out, type_at, 0x12);
      put_le(out, (uint64_t)v->as.i, 8);
    }
    return 0;
  case PS_JSON_UINT:
    return -1;
  case PS_JSON_FLOAT: {
    uint64_t bits;
    memcpy(&bits, &v->as.f, sizeof bits);
    set_byte(out, type_at, 0x01);
    put_le(out, bits, 8);
    return 0;
  }
  case PS_JSON_STRING:
    set_byte(out, type_at, 0x02);
    put_le(out, (uint64_t)(v->as.str.len + 1), 4);
    ps__buf_append(out, v->as.str.ptr, v->as.str.len);
    ps__buf_putc(out, 0);
    return 0;
  case PS_JSON_ARRAY:
    set_byte(out, type_at, 0x04);
    return put_bson_document(out, v);
  case PS_JSON_OBJECT:
    set_byte(out, type_at, 0x03);
    return put_bson_document(out, v);
  }
  return -1;
}

/* A document (int32 length, elements, 0x00); arrays get keys "0", "1"... */
static int put_bson_document(struct ps__buf *out,
                             const struct ps__json_value *v) {
  size_t start = out->len, k, len;
  put_le(out, 0, 4);
  if (v->type == PS_JSON_ARRAY) {
    for (k = 0; k < v->as.arr.count; k++) {
      char key[32];
      snprintf(key, sizeof key, "%zu", k);
      if (put_bson_element(out, key, strlen(key), v->as.arr.items[k]) != 0)
        return -1;
    }
  } else {
    for (k = 0; k < v->as.obj.count; k++) {
      const struct ps__json_member *m = &v->as.obj.members[k];
      if (put_bson_element(out, m->key, m->key_len, m->value) != 0)
        return -1;
    }
  }
  ps__buf_putc(out, 0);
  if (ps__buf_failed(out))
    return -1;
  len = out->len - start;
  for (k = 0; k < 4; k++)
    set_byte(out, start + k, (int)((len >> (8 * k)) & 0xFF));
  return 0;
}

/* The BSON bytes of a {"bson": object} argument; 0 or -1. */
static int bson_bytes(struct ps__buf *out, const struct ps__json_value *v) {
  if (v->type != PS_JSON_OBJECT)
    return -1;
  return put_bson_document(out, v);
}

/* ------------------------------------------------------------------------ */
/* Files. */

static char *read_file(const char *path, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  struct ps__buf b;
  char chunk[8192];
  size_t n;
  if (!f)
    return NULL;
  ps__buf_init(&b, 0);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    ps__buf_append(&b, chunk, n);
  fclose(f);
  if (len_out)
    *len_out = b.len;
  if (b.len == 0) {
    ps__buf_free(&b);
    return calloc(1, 1);
  }
  return ps__buf_take(&b);
}

/* Splits text into lines (a final newline does not start a new line). The
 * lines point into text, which is modified. */
static char **split_lines(char *text, size_t *count) {
  size_t n = 0, cap = 16;
  char **lines = malloc(cap * sizeof *lines);
  char *p = text;
  while (lines && *p) {
    char *nl = strchr(p, '\n');
    if (n == cap) {
      char **grown = realloc(lines, 2 * cap * sizeof *lines);
      if (!grown) {
        free(lines);
        return NULL;
      }
      lines = grown;
      cap *= 2;
    }
    lines[n++] = p;
    if (!nl)
      break;
    *nl = 0;
    p = nl + 1;
  }
  *count = n;
  return lines;
}

/* ------------------------------------------------------------------------ */
/* Loading a scenario. */

static int fail_load(char *err, size_t errlen, const char *fmt, size_t idx,
                     const char *what) {
  snprintf(err, errlen, fmt, idx, what);
  return -1;
}

/* Canonical line of an expected value: a JSON string holding the line, or
 * the value itself. */
static char *expected_line(struct ps__arena *arena,
                           const struct ps__json_value *v) {
  struct ps__buf out;
  const struct ps__json_value *val = v;
  if (v->type == PS_JSON_STRING) {
    char err[160];
    val = ps__json_parse(arena, v->as.str.ptr, v->as.str.len, err, sizeof err);
    if (!val)
      return NULL;
  }
  ps__buf_init(&out, 0);
  if (put_canonical(&out, val) != 0 || ps__buf_failed(&out)) {
    ps__buf_free(&out);
    return NULL;
  }
  return ps__buf_take(&out);
}

static int all_hex(const char *s, size_t len) {
  size_t k;
  for (k = 0; k < len; k++)
    if (!is_hex(s[k]))
      return 0;
  return 1;
}

/* Single-key objects {"blob"|"int"|"real"|"json"|"bson": ...}. */
static int is_wrapper(const struct ps__json_value *a) {
  static const char *const keys[] = {"blob", "int", "real", "json", "bson"};
  size_t k;
  if (a->type != PS_JSON_OBJECT || a->as.obj.count != 1)
    return 0;
  for (k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (strcmp(a->as.obj.members[0].key, keys[k]) == 0)
      return 1;
  return 0;
}

/* The argument forms lib/scenario.js accepts (checkArg). */
static int arg_is_valid(const struct ps__json_value *a) {
  const struct ps__json_value *x;
  const char *key, *p;
  if (a->type == PS_JSON_OBJECT && a->as.obj.count == 1) {
    key = a->as.obj.members[0].key;
    x = a->as.obj.members[0].value;
    if (strcmp(key, "json") == 0)
      return 1;
    if (strcmp(key, "bson") == 0) {
      struct ps__buf b;
      int ok;
      ps__buf_init(&b, 0);
      ok = bson_bytes(&b, x) == 0;
      ps__buf_free(&b);
      return ok;
    }
  }
  switch (a->type) {
  case PS_JSON_NULL:
  case PS_JSON_TRUE:
  case PS_JSON_FALSE:
  case PS_JSON_INT:
  case PS_JSON_FLOAT:
  case PS_JSON_STRING:
    return 1;
  case PS_JSON_OBJECT:
    if (a->as.obj.count != 1)
      return 0;
    key = a->as.obj.members[0].key;
    x = a->as.obj.members[0].value;
    if (x->type != PS_JSON_STRING)
      return 0;
    if (strcmp(key, "blob") == 0)
      return x->as.str.len % 2 == 0 && all_hex(x->as.str.ptr, x->as.str.len);
    if (strcmp(key, "real") == 0)
      return x->as.str.len == 16 && all_hex(x->as.str.ptr, 16);
    if (strcmp(key, "int") == 0) {
      char *end;
      p = x->as.str.ptr;
      errno = 0;
      (void)strtoll(p, &end, 10);
      return *p && (*p == '-' || (*p >= '0' && *p <= '9')) && *end == 0 &&
             errno == 0 && x->as.str.len == strlen(p);
    }
    return 0;
  default:
    return 0;
  }
}

/* The two arguments of a control step (lib/scenario.js controlArgs()): an
 * object or array payload that is not an argument wrapper becomes
 * {"bson": payload} for line_binary and {"json": payload} otherwise. */
static const struct ps__json_value *
control_args(struct ps__arena *arena, const struct ps__json_value *control) {
  const struct ps__json_value *op = control->as.arr.items[0];
  struct ps__json_value *payload = control->as.arr.items[1];
  struct ps__json_value *args = ps__arena_alloc(arena, sizeof *args);
  struct ps__json_value **items =
      ps__arena_alloc(arena, 2 * sizeof(struct ps__json_value *));
  if (!args || !items)
    return NULL;
  if ((payload->type == PS_JSON_OBJECT && !is_wrapper(payload)) ||
      payload->type == PS_JSON_ARRAY) {
    struct ps__json_value *w = ps__arena_alloc(arena, sizeof *w);
    struct ps__json_member *m = ps__arena_alloc(arena, sizeof *m);
    int binary = op->type == PS_JSON_STRING &&
                 strcmp(op->as.str.ptr, "line_binary") == 0;
    if (!w || !m)
      return NULL;
    m->key = binary ? "bson" : "json";
    m->key_len = 4;
    m->value = payload;
    w->type = PS_JSON_OBJECT;
    w->as.obj.members = m;
    w->as.obj.count = 1;
    payload = w;
  }
  items[0] = (struct ps__json_value *)op;
  items[1] = payload;
  args->type = PS_JSON_ARRAY;
  args->as.arr.items = items;
  args->as.arr.count = 2;
  return args;
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> ms since the epoch (lib/scenario.js
 * parseClock()); returns -1 if malformed. */
static int parse_clock(const char *t, int64_t *ms_out) {
  int y, mo, d, h, mi, sec, ms = 0, n = 0, k;
  int64_t days, yy, era, yoe, doy, doe;
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  for (k = 0; shape[k]; k++) {
    if (shape[k] == 'd' ? !(t[k] >= '0' && t[k] <= '9') : t[k] != shape[k])
      return -1;
  }
  y = atoi(t);
  mo = atoi(t + 5);
  d = atoi(t + 8);
  h = atoi(t + 11);
  mi = atoi(t + 14);
  sec = atoi(t + 17);
  t += 19;
  if (*t == '.') {
    for (t++; n < 3 && *t >= '0' && *t <= '9'; t++, n++)
      ms = ms * 10 + (*t - '0');
    if (n == 0)
      return -1;
    for (; n < 3; n++)
      ms *= 10;
  }
  if (strcmp(t, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
      mi > 59 || sec > 59)
    return -1;
  /* Days since 1970-01-01 of the proleptic Gregorian date (March-based
   * years, 400-year eras). */
  yy = mo <= 2 ? y - 1 : y;
  era = (yy >= 0 ? yy : yy - 399) / 400;
  yoe = yy - era * 400;
  doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  days = era * 146097 + doe - 719468;
  *ms_out = ((days * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + ms;
  return 0;
}

static int load_step(struct scenario *sc, size_t idx,
                     const struct ps__json_value *v, char *err, size_t errlen) {
  static const char *const known[] = {
      "sql",    "exec",      "tx",      "control",   "core",
      "reopen", "second",    "advance", "clock",     "args",
      "label",  "normalize", "ours",    "deviation", "sqlite340"};
  struct step *st = &sc->steps[idx];
  const struct ps__json_value *x;
  size_t k, j;
  int actions = 0;
  if (v->type != PS_JSON_OBJECT)
    return fail_load(err, errlen, "step %zu: %s", idx, "not an object");
  for (k = 0; k < v->as.obj.count; k++) {
    int ok = 0;
    for (j = 0; j < sizeof known / sizeof known[0]; j++)
      ok |= strcmp(v->as.obj.members[k].key, known[j]) == 0;
    if (!ok)
      return fail_load(err, errlen, "step %zu: unknown key \"%s\"", idx,
                       v->as.obj.members[k].key);
  }
  if ((x = ps__json_get(v, "sql")) != NULL) {
    st->kind = STEP_SQL;
    st->text = x->type == PS_JSON_STRING ? x->as.str.ptr : NULL;
    actions++;
  }
  if ((x = ps__json_get(v, "exec")) != NULL) {
    st->kind = STEP_EXEC;
    st->text = x->type == PS_JSON_STRING ? x->as.str.ptr : NULL;
    actions++;
  }
  if ((x = ps__json_get(v, "tx")) != NULL) {
    st->kind = STEP_TX;
    st->text = x->type == PS_JSON_STRING ? x->as.str.ptr : NULL;
    actions++;
  }
  if ((x = ps__json_get(v, "core")) != NULL) {
    st->kind = STEP_CORE;
    st->text = "";
    sc->has_core = 1;
    actions++;
  }
  if ((x = ps__json_get(v, "reopen")) != NULL) {
    st->kind = STEP_REOPEN;
    st->text = "";
    if (!sc->file_db)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"reopen\" needs \"database\": \"file\"");
    actions++;
  }
  if ((x = ps__json_get(v, "second")) != NULL) {
    st->kind = STEP_SECOND;
    st->text = x->type == PS_JSON_STRING ? x->as.str.ptr : NULL;
    if (!sc->file_db)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"second\" needs \"database\": \"file\"");
    actions++;
  }
  if ((x = ps__json_get(v, "control")) != NULL) {
    st->kind = STEP_CONTROL;
    st->text = "SELECT powersync_control(?, ?)";
    if (x->type != PS_JSON_ARRAY || x->as.arr.count != 2)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"control\" must be [op, payload]");
    if (ps__json_get(v, "args"))
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"args\" only for sql and tx");
    st->control = x;
    st->args = control_args(&sc->arena, x);
    if (!st->args)
      return fail_load(err, errlen, "step %zu: %s", idx, "out of memory");
    actions++;
  }
  if ((x = ps__json_get(v, "advance")) != NULL) {
    st->kind = STEP_ADVANCE;
    st->text = "";
    if (x->type == PS_JSON_INT) {
      st->clock_ms = x->as.i * 1000;
    } else if (x->type == PS_JSON_FLOAT) {
      double ms = x->as.f * 1000.0;
      st->clock_ms = (int64_t)(ms >= 0 ? ms + 0.5 : ms - 0.5);
    } else {
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"advance\" must be a number of seconds");
    }
    actions++;
  }
  if ((x = ps__json_get(v, "clock")) != NULL) {
    st->kind = STEP_CLOCK;
    st->text = "";
    if (x->type != PS_JSON_STRING || parse_clock(x->as.str.ptr, &st->clock_ms))
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"clock\" must be an ISO time");
    actions++;
  }
  if (actions != 1)
    return fail_load(err, errlen, "step %zu: %s", idx,
                     "needs exactly one of sql, exec, tx, control, core, "
                     "reopen, second, advance, clock");
  if ((st->kind == STEP_ADVANCE || st->kind == STEP_CLOCK) && !sc->has_clock)
    return fail_load(err, errlen, "step %zu: %s", idx,
                     "\"advance\"/\"clock\" steps need a scenario \"clock\"");
  if (!st->text)
    return fail_load(err, errlen, "step %zu: %s", idx,
                     "the SQL must be a string");
  if ((x = ps__json_get(v, "args")) != NULL) {
    if (x->type != PS_JSON_ARRAY ||
        (st->kind != STEP_SQL && st->kind != STEP_TX))
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"args\" must be an array (sql and tx only)");
    st->args = x;
  }
  for (k = 0; st->args && k < st->args->as.arr.count; k++) {
    if (!arg_is_valid(st->args->as.arr.items[k]))
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "unsupported argument");
  }
  if ((x = ps__json_get(v, "label")) != NULL && x->type == PS_JSON_STRING)
    st->label = x->as.str.ptr;
  if ((x = ps__json_get(v, "normalize")) != NULL) {
    if (x->type != PS_JSON_ARRAY)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"normalize\" must be an array");
    for (k = 0; k < x->as.arr.count; k++) {
      const struct ps__json_value *n = x->as.arr.items[k];
      if (n->type == PS_JSON_STRING && strcmp(n->as.str.ptr, "cause") == 0)
        st->normalize |= NORM_CAUSE;
      else if (n->type == PS_JSON_STRING &&
               strcmp(n->as.str.ptr, "statement") == 0)
        st->normalize |= NORM_STATEMENT;
      else
        return fail_load(err, errlen, "step %zu: %s", idx,
                         "unknown normalizer");
    }
  }
  if ((x = ps__json_get(v, "deviation")) != NULL) {
    const struct ps__json_value *o = ps__json_get(v, "ours");
    if (x->type != PS_JSON_STRING || !o)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"deviation\" needs a name and \"ours\"");
    st->deviation = x->as.str.ptr;
    st->ours_line = expected_line(&sc->arena, o);
    if (!st->ours_line)
      return fail_load(err, errlen, "step %zu: %s", idx,
                       "\"ours\" is not a valid output line");
  } else if (ps__json_get(v, "ours")) {
    return fail_load(err, errlen, "step %zu: %s", idx,
                     "\"ours\" needs \"deviation\"");
  }
  if ((x = ps__json_get(v, "sqlite340")) != NULL) {
    if (x->type == PS_JSON_STRING && strcmp(x->as.str.ptr, "skip") == 0) {
      st->sqlite340 = 1;
    } else {
      st->sqlite340 = 2;
      st->sqlite340_line = expected_line(&sc->arena, x);
      if (!st->sqlite340_line)
        return fail_load(err, errlen, "step %zu: %s", idx,
                         "\"sqlite340\" is not a valid output line");
    }
  }
  return 0;
}

static void free_scenario(struct scenario *sc) {
  size_t i;
  for (i = 0; sc->steps && i < sc->n_steps; i++) {
    free(sc->steps[i].ours_line);
    free(sc->steps[i].sqlite340_line);
  }
  free(sc->steps);
  ps__arena_free(&sc->arena);
}

static int load_scenario(struct scenario *sc, const char *path, char *err,
                         size_t errlen) {
  size_t len, i;
  char *text = read_file(path, &len);
  const struct ps__json_value *root, *steps, *db;
  char perr[200];
  if (!text) {
    snprintf(err, errlen, "cannot read: %s", strerror(errno));
    return -1;
  }
  root = ps__json_parse(&sc->arena, text, len, perr, sizeof perr);
  free(text);
  if (!root) {
    snprintf(err, errlen, "invalid JSON: %s", perr);
    return -1;
  }
  if (root->type != PS_JSON_OBJECT) {
    snprintf(err, errlen, "not an object");
    return -1;
  }
  db = ps__json_get(root, "database");
  if (db &&
      (db->type != PS_JSON_STRING || (strcmp(db->as.str.ptr, "memory") != 0 &&
                                      strcmp(db->as.str.ptr, "file") != 0))) {
    snprintf(err, errlen, "\"database\" must be \"memory\" or \"file\"");
    return -1;
  }
  sc->file_db = db && strcmp(db->as.str.ptr, "file") == 0;
  db = ps__json_get(root, "clock");
  if (db) {
    if (db->type != PS_JSON_STRING ||
        parse_clock(db->as.str.ptr, &sc->clock_ms) != 0) {
      snprintf(err, errlen, "\"clock\" must be an ISO time");
      return -1;
    }
    sc->has_clock = 1;
  }
  steps = ps__json_get(root, "steps");
  if (!steps || steps->type != PS_JSON_ARRAY || steps->as.arr.count == 0) {
    snprintf(err, errlen, "missing \"steps\"");
    return -1;
  }
  sc->n_steps = steps->as.arr.count;
  sc->steps = calloc(sc->n_steps, sizeof *sc->steps);
  if (!sc->steps) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (i = 0; i < sc->n_steps; i++) {
    if (load_step(sc, i, steps->as.arr.items[i], err, errlen) != 0)
      return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Running a scenario. */

struct session {
  sqlite3 *db;
  sqlite3 *second; /* "second" steps: opened on first use, no core. */
  int has_clock;
  int64_t clock_ms; /* The mocked clock (ms since the epoch). */
  char dir[512];
  char file[600];
};

/* A connection without overrides, for the unixepoch() forms that do not
 * read the clock (e.g. unixepoch('2025-03-01 10:00:00') in migration 13). */
static sqlite3 *plain_db;

static void builtin_unixepoch(sqlite3_context *ctx, int argc,
                              sqlite3_value **argv) {
  struct ps__buf sql;
  sqlite3_stmt *stmt = NULL;
  int k;
  if (!plain_db && sqlite3_open(":memory:", &plain_db) != SQLITE_OK) {
    sqlite3_result_error(ctx, "cannot open a connection", -1);
    return;
  }
  ps__buf_init(&sql, 0);
  ps__buf_puts(&sql, "SELECT unixepoch(");
  for (k = 0; k < argc; k++)
    ps__buf_puts(&sql, k ? ", ?" : "?");
  ps__buf_putc(&sql, ')');
  if (ps__buf_failed(&sql) ||
      sqlite3_prepare_v2(plain_db, ps__buf_cstr(&sql), -1, &stmt, NULL) !=
          SQLITE_OK) {
    sqlite3_result_error(ctx, sqlite3_errmsg(plain_db), -1);
    ps__buf_free(&sql);
    return;
  }
  ps__buf_free(&sql);
  for (k = 0; k < argc; k++)
    sqlite3_bind_value(stmt, k + 1, argv[k]);
  if (sqlite3_step(stmt) == SQLITE_ROW)
    sqlite3_result_value(ctx, sqlite3_column_value(stmt, 0));
  else
    sqlite3_result_error(ctx, sqlite3_errmsg(plain_db), -1);
  sqlite3_finalize(stmt);
}

static int is_subsec(sqlite3_value *v) {
  const char *t = (const char *)sqlite3_value_text(v);
  return sqlite3_value_type(v) == SQLITE_TEXT && t &&
         (sqlite3_stricmp(t, "subsec") == 0 ||
          sqlite3_stricmp(t, "subsecond") == 0);
}

/* The mocked unixepoch() (lib/worker.js mockUnixepoch()): unixepoch() and
 * unixepoch('now') give the clock in INTEGER seconds (truncated),
 * unixepoch('subsec') and unixepoch('now', 'subsec') in REAL seconds; other
 * modifiers after 'now' are errors; any other first argument goes to the
 * built-in unixepoch(). */
static void mock_unixepoch(sqlite3_context *ctx, int argc,
                           sqlite3_value **argv) {
  const struct session *s = sqlite3_user_data(ctx);
  int i = 0, subsec = 0;
  if (argc > 0) {
    const char *t = (const char *)sqlite3_value_text(argv[0]);
    if (sqlite3_value_type(argv[0]) == SQLITE_TEXT && t &&
        sqlite3_stricmp(t, "now") == 0) {
      i = 1;
    } else if (is_subsec(argv[0])) {
      subsec = 1;
      i = 1;
    } else {
      builtin_unixepoch(ctx, argc, argv);
      return;
    }
  }
  for (; i < argc; i++) {
    if (!is_subsec(argv[i])) {
      sqlite3_result_error(ctx, "mocked unixepoch(): unsupported modifier", -1);
      return;
    }
    subsec = 1;
  }
  if (subsec)
    sqlite3_result_double(ctx, (double)s->clock_ms / 1000.0);
  else
    sqlite3_result_int64(ctx, s->clock_ms / 1000);
}

/* Opens (or reopens) the database; returns NULL or an error line. */
static char *session_open(struct session *s) {
  struct ps__buf out;
  char *zerr = NULL;
  int rc;
  if (s->db) {
    sqlite3_close(s->db);
    s->db = NULL;
  }
  rc = sqlite3_open_v2(s->file, &s->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  ps__buf_init(&out, 0);
  if (rc != SQLITE_OK) {
    put_error(&out, NULL, rc, s->db ? sqlite3_errmsg(s->db) : "cannot open", 0);
    return ps__buf_take(&out);
  }
  /* Configure the connection like better-sqlite3 does (its SQLite is built
   * with SQLITE_DQS=0 and SQLITE_DEFAULT_FOREIGN_KEYS=1). */
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, 5000);
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, (int *)NULL);
  if (opts.extension) {
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1,
                      (int *)NULL);
    rc = sqlite3_load_extension(s->db, opts.extension, "sqlite3_powersync_init",
                                &zerr);
    if (rc != SQLITE_OK) {
      put_error(&out, NULL, rc, zerr ? zerr : "cannot load the extension", 0);
      sqlite3_free(zerr);
      return ps__buf_take(&out);
    }
  }
  if (s->has_clock) {
    rc = sqlite3_create_function_v2(s->db, "unixepoch", -1, SQLITE_UTF8, s,
                                    mock_unixepoch, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      put_error(&out, NULL, rc, sqlite3_errmsg(s->db), 0);
      return ps__buf_take(&out);
    }
  }
  ps__buf_free(&out);
  return NULL;
}

/* Opens the second connection like better-sqlite3 does in lib/worker.js
 * (its SQLite is configured as in session_open; no PowerSync core is loaded
 * there, but the static build registers ours on every connection). */
static sqlite3 *session_second(struct session *s) {
  if (!s->second) {
    if (sqlite3_open_v2(s->file, &s->second,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK)
      return s->second;
    sqlite3_extended_result_codes(s->second, 1);
    sqlite3_busy_timeout(s->second, 5000);
    sqlite3_db_config(s->second, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    sqlite3_db_config(s->second, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    sqlite3_db_config(s->second, SQLITE_DBCONFIG_ENABLE_FKEY, 1, (int *)NULL);
  }
  return s->second;
}

static int session_init(struct session *s, const struct scenario *sc) {
  memset(s, 0, sizeof *s);
  s->has_clock = sc->has_clock;
  s->clock_ms = sc->clock_ms;
  if (sc->file_db) {
    /* Same choice as lib/worker.js: $PS_DIFF_TMPDIR, /dev/shm, $TMPDIR. */
    const char *tmp = getenv("PS_DIFF_TMPDIR");
    if (!tmp || !*tmp)
      tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/ps-runner-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir))
      return -1;
    snprintf(s->file, sizeof s->file, "%s/test.db", s->dir);
  } else {
    snprintf(s->file, sizeof s->file, ":memory:");
  }
  return 0;
}

static void session_dispose(struct session *s) {
  static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
  size_t k;
  if (s->db)
    sqlite3_close(s->db);
  s->db = NULL;
  if (s->second)
    sqlite3_close(s->second);
  s->second = NULL;
  if (!s->dir[0])
    return;
  for (k = 0; k < sizeof suffixes / sizeof suffixes[0]; k++) {
    char p[700];
    snprintf(p, sizeof p, "%s%s", s->file, suffixes[k]);
    unlink(p);
  }
  rmdir(s->dir);
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return c - 'A' + 10;
}

/* Binds one scenario argument the way lib/scenario.js bindValue() does. */
static int bind_arg(sqlite3_stmt *stmt, int i, const struct ps__json_value *a,
                    const char **harness_err) {
  const struct ps__json_value *x;
  switch (a->type) {
  case PS_JSON_NULL:
    return sqlite3_bind_null(stmt, i);
  case PS_JSON_TRUE:
    return sqlite3_bind_int64(stmt, i, 1);
  case PS_JSON_FALSE:
    return sqlite3_bind_int64(stmt, i, 0);
  case PS_JSON_INT:
    return sqlite3_bind_int64(stmt, i, a->as.i);
  case PS_JSON_FLOAT:
    return sqlite3_bind_double(stmt, i, a->as.f);
  case PS_JSON_STRING:
    return sqlite3_bind_text(stmt, i, a->as.str.ptr, (int)a->as.str.len,
                             SQLITE_TRANSIENT);
  case PS_JSON_OBJECT:
    if (a->as.obj.count != 1)
      break;
    x = a->as.obj.members[0].value;
    if (strcmp(a->as.obj.members[0].key, "json") == 0 ||
        strcmp(a->as.obj.members[0].key, "bson") == 0) {
      struct ps__buf b;
      int rc, binary = a->as.obj.members[0].key[0] == 'b';
      ps__buf_init(&b, 0);
      if (binary) {
        if (bson_bytes(&b, x) != 0) {
          ps__buf_free(&b);
          break;
        }
      } else {
        put_json_text(&b, x);
      }
      if (ps__buf_failed(&b)) {
        ps__buf_free(&b);
        return SQLITE_NOMEM;
      }
      rc = binary ? sqlite3_bind_blob(stmt, i, b.data ? b.data : "", (int)b.len,
                                      SQLITE_TRANSIENT)
                  : sqlite3_bind_text(stmt, i, b.data ? b.data : "", (int)b.len,
                                      SQLITE_TRANSIENT);
      ps__buf_free(&b);
      return rc;
    }
    if (x->type != PS_JSON_STRING)
      break;
    if (strcmp(a->as.obj.members[0].key, "int") == 0) {
      return sqlite3_bind_int64(stmt, i, strtoll(x->as.str.ptr, NULL, 10));
    }
    if (strcmp(a->as.obj.members[0].key, "blob") == 0 ||
        strcmp(a->as.obj.members[0].key, "real") == 0) {
      size_t n = x->as.str.len / 2, k;
      unsigned char *bytes = malloc(n ? n : 1);
      int rc;
      if (!bytes)
        return SQLITE_NOMEM;
      for (k = 0; k < n; k++)
        bytes[k] = (unsigned char)(hex_digit(x->as.str.ptr[2 * k]) * 16 +
                                   hex_digit(x->as.str.ptr[2 * k + 1]));
      if (a->as.obj.members[0].key[0] == 'b') {
        rc = sqlite3_bind_blob(stmt, i, bytes, (int)n, SQLITE_TRANSIENT);
      } else {
        uint64_t bits = 0;
        double d;
        for (k = 0; k < 8 && k < n; k++)
          bits = (bits << 8) | bytes[k];
        memcpy(&d, &bits, sizeof d);
        rc = sqlite3_bind_double(stmt, i, d);
      }
      free(bytes);
      return rc;
    }
    break;
  default:
    break;
  }
  *harness_err = "unsupported argument";
  return SQLITE_MISUSE;
}

/* Characters better-sqlite3 skips after a statement (IS_SKIPPED). */
static int is_skipped(char c) {
  return c == ' ' || c == ';' || (c >= '\t' && c <= '\r');
}

/* Whether the tail after a prepared statement holds only what better-sqlite3
 * accepts (whitespace, ';' and comments). */
static int tail_is_empty(const char *t) {
  while (*t) {
    if (is_skipped(*t)) {
      t++;
    } else if (t[0] == '/' && t[1] == '*') {
      t += 2;
      while (*t && !(t[0] == '*' && t[1] == '/'))
        t++;
      if (*t)
        t += 2;
    } else if (t[0] == '-' && t[1] == '-') {
      t += 2;
      while (*t && *t != '\n')
        t++;
      if (*t)
        t++;
    } else {
      return 0;
    }
  }
  return 1;
}

/* Runs one statement like better-sqlite3's prepare + all()/run(); writes its
 * line to out. Returns 0 on success, -1 when out holds an error line. */
static int run_statement(sqlite3 *db, const struct step *st,
                         struct ps__buf *out) {
  sqlite3_stmt *stmt = NULL;
  const char *tail = NULL;
  const char *harness_err = NULL;
  const char *harness_type = "HARNESS_RangeError";
  size_t nargs = st->args ? st->args->as.arr.count : 0, k;
  int rc, ncol, i, nparams, anon = 0, named = 0;
  rc = sqlite3_prepare_v2(db, st->text, -1, &stmt, &tail);
  if (rc != SQLITE_OK) {
    put_error(out, NULL, sqlite3_extended_errcode(db), sqlite3_errmsg(db),
              st->normalize);
    return -1;
  }
  if (!stmt) {
    put_error(out, "HARNESS_RangeError", 0,
              "The supplied SQL string contains no statements", st->normalize);
    return -1;
  }
  if (!tail_is_empty(tail)) {
    sqlite3_finalize(stmt);
    put_error(out, "HARNESS_RangeError", 0,
              "The supplied SQL string contains more than one statement",
              st->normalize);
    return -1;
  }
  /* Positional arguments go to the anonymous parameters in order, the way
   * better-sqlite3's Binder does; "?NNN", ":name" etc. are named ones. */
  nparams = sqlite3_bind_parameter_count(stmt);
  for (k = 0; k < nargs; k++) {
    do
      anon++;
    while (anon <= nparams && sqlite3_bind_parameter_name(stmt, anon));
    if (anon > nparams) {
      harness_err = "Too many parameter values were provided";
      break;
    }
    rc = bind_arg(stmt, anon, st->args->as.arr.items[k], &harness_err);
    if (rc != SQLITE_OK) {
      if (!harness_err) {
        put_error(out, NULL, sqlite3_extended_errcode(db), sqlite3_errmsg(db),
                  st->normalize);
        sqlite3_finalize(stmt);
        return -1;
      }
      break;
    }
  }
  if (!harness_err && (int)nargs < nparams) {
    for (i = 1; i <= nparams; i++)
      named |= sqlite3_bind_parameter_name(stmt, i) != NULL;
    harness_type = named ? "HARNESS_TypeError" : "HARNESS_RangeError";
    harness_err = named ? "Missing named parameters"
                        : "Too few parameter values were provided";
  }
  if (harness_err) {
    sqlite3_finalize(stmt);
    put_error(out, harness_type, 0, harness_err, st->normalize);
    return -1;
  }
  ncol = sqlite3_column_count(stmt);
  if (st->kind == STEP_CONTROL) {
    /* Like better-sqlite3's get(): the first row's value. */
    struct ps__buf val;
    ps__buf_init(&val, 0);
    if (sqlite3_step(stmt) == SQLITE_ROW)
      put_value(&val, stmt, 0);
    else
      ps__buf_puts(&val, "null");
    if (sqlite3_reset(stmt) != SQLITE_OK) {
      put_error(out, NULL, sqlite3_extended_errcode(db), sqlite3_errmsg(db),
                st->normalize);
      ps__buf_free(&val);
      sqlite3_finalize(stmt);
      return -1;
    }
    ps__buf_puts(out, "{\"result\":");
    ps__buf_append(out, ps__buf_cstr(&val), val.len);
    ps__buf_putc(out, '}');
    ps__buf_free(&val);
  } else if (ncol > 0) {
    struct ps__buf rows;
    int nrows = 0;
    ps__buf_init(&rows, 0);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      ps__buf_puts(&rows, nrows++ ? ",[" : "[");
      for (i = 0; i < ncol; i++) {
        if (i)
          ps__buf_putc(&rows, ',');
        put_value(&rows, stmt, i);
      }
      ps__buf_putc(&rows, ']');
    }
    if (sqlite3_reset(stmt) != SQLITE_OK) {
      put_error(out, NULL, sqlite3_extended_errcode(db), sqlite3_errmsg(db),
                st->normalize);
      ps__buf_free(&rows);
      sqlite3_finalize(stmt);
      return -1;
    }
    ps__buf_puts(out, "{\"columns\":[");
    for (i = 0; i < ncol; i++) {
      const char *name = sqlite3_column_name(stmt, i);
      if (i)
        ps__buf_putc(out, ',');
      put_cstring(out, name ? name : "");
    }
    ps__buf_puts(out, "],\"rows\":[");
    ps__buf_append(out, ps__buf_cstr(&rows), rows.len);
    ps__buf_puts(out, "]}");
    ps__buf_free(&rows);
  } else {
    int before = sqlite3_total_changes(db), changes;
    sqlite3_step(stmt);
    if (sqlite3_reset(stmt) != SQLITE_OK) {
      put_error(out, NULL, sqlite3_extended_errcode(db), sqlite3_errmsg(db),
                st->normalize);
      sqlite3_finalize(stmt);
      return -1;
    }
    changes = sqlite3_total_changes(db) == before ? 0 : sqlite3_changes(db);
    ps__buf_printf(out, "{\"changes\":%d}", changes);
  }
  sqlite3_finalize(stmt);
  return 0;
}

/* sqlite3_exec with the error written like better-sqlite3's db.exec(). */
static int run_exec(sqlite3 *db, const char *sql, int normalize,
                    struct ps__buf *out) {
  char *zerr = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &zerr);
  if (rc != SQLITE_OK) {
    put_error(out, NULL, sqlite3_extended_errcode(db),
              zerr ? zerr : sqlite3_errmsg(db), normalize);
    sqlite3_free(zerr);
    return -1;
  }
  return 0;
}

static void rollback_if_open(sqlite3 *db) {
  if (!sqlite3_get_autocommit(db))
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs one step; returns its (unnormalised) line, malloc'ed. */
static char *run_step(struct session *s, const struct step *st) {
  struct ps__buf out;
  ps__buf_init(&out, 0);
  switch (st->kind) {
  case STEP_CORE:
  case STEP_REOPEN: {
    char *err = session_open(s);
    if (err) {
      ps__buf_free(&out);
      return err;
    }
    ps__buf_puts(&out, "{\"ok\":true}");
    break;
  }
  case STEP_EXEC:
    if (run_exec(s->db, st->text, st->normalize, &out) == 0)
      ps__buf_puts(&out, "{\"ok\":true}");
    break;
  case STEP_SQL:
    run_statement(s->db, st, &out);
    break;
  case STEP_SECOND: {
    sqlite3 *second = session_second(s);
    if (!second || sqlite3_errcode(second) == SQLITE_CANTOPEN) {
      put_error(&out, NULL, SQLITE_CANTOPEN,
                second ? sqlite3_errmsg(second) : "cannot open", 0);
      break;
    }
    if (run_exec(second, st->text, st->normalize, &out) == 0)
      ps__buf_puts(&out, "{\"ok\":true}");
    break;
  }
  case STEP_ADVANCE:
    s->clock_ms += st->clock_ms;
    ps__buf_puts(&out, "{\"ok\":true}");
    break;
  case STEP_CLOCK:
    s->clock_ms = st->clock_ms;
    ps__buf_puts(&out, "{\"ok\":true}");
    break;
  case STEP_TX:
  case STEP_CONTROL:
    if (run_exec(s->db, "BEGIN", st->normalize, &out) != 0)
      break;
    if (run_statement(s->db, st, &out) != 0) {
      rollback_if_open(s->db);
      break;
    }
    {
      struct ps__buf commit;
      ps__buf_init(&commit, 0);
      if (run_exec(s->db, "COMMIT", st->normalize, &commit) != 0) {
        rollback_if_open(s->db);
        ps__buf_reset(&out);
        ps__buf_append(&out, ps__buf_cstr(&commit), commit.len);
      }
      ps__buf_free(&commit);
    }
    break;
  }
  ps__buf_putc(&out, 0);
  ps__buf_truncate(&out, out.len - 1);
  return ps__buf_take(&out);
}

/* Appends prefix + line (shortened around its first difference with other)
 * + newline. */
static void put_excerpt(struct ps__buf *out, const char *prefix,
                        const char *line, const char *other) {
  size_t len = strlen(line), d = 0, start, end;
  ps__buf_puts(out, prefix);
  if (opts.verbose || len <= EXCERPT_MAX) {
    ps__buf_puts(out, line);
    ps__buf_putc(out, '\n');
    return;
  }
  while (line[d] && other[d] && line[d] == other[d])
    d++;
  start = d > 80 ? d - 80 : 0;
  if (start > len - EXCERPT_MAX)
    start = len - EXCERPT_MAX;
  end = start + EXCERPT_MAX;
  if (start > 0)
    ps__buf_printf(out, "...[%zu]", start);
  ps__buf_append(out, line + start, end - start);
  ps__buf_puts(out, end < len ? "...\n" : "\n");
}

static const char *kind_name(enum step_kind k) {
  switch (k) {
  case STEP_SQL:
    return "sql";
  case STEP_EXEC:
    return "exec";
  case STEP_TX:
    return "tx";
  case STEP_CONTROL:
    return "control";
  case STEP_CORE:
    return "core";
  case STEP_REOPEN:
    return "reopen";
  case STEP_SECOND:
    return "second";
  case STEP_ADVANCE:
    return "advance";
  case STEP_CLOCK:
    return "clock";
  }
  return "?";
}

/* The SQL of the prepared statements of db that are still busy (stepped
 * but not reset), or NULL. The upstream tests require none after each
 * powersync_control call (core-sync.md 22, common setup). */
static char *busy_statements(sqlite3 *db) {
  sqlite3_stmt *p = NULL;
  struct ps__buf b;
  ps__buf_init(&b, 0);
  while ((p = sqlite3_next_stmt(db, p)) != NULL) {
    if (sqlite3_stmt_busy(p)) {
      const char *sql = sqlite3_sql(p);
      ps__buf_puts(&b, b.len ? "; " : "");
      ps__buf_puts(&b, sql ? sql : "?");
    }
  }
  if (b.len == 0) {
    ps__buf_free(&b);
    return NULL;
  }
  return ps__buf_take(&b);
}

/* Runs a loaded scenario and prints its result; returns 0 if it passed. */
static int run_scenario(struct scenario *sc, const char *expected_dir) {
  char path[1024], *golden_text;
  char **golden = NULL;
  size_t n_golden = 0, i, n_diffs = 0;
  struct session s;
  char *err;
  int old_sqlite = sqlite3_libversion_number() < OLD_SQLITE_BELOW;
  struct ps__buf report;

  snprintf(path, sizeof path, "%s/%s.jsonl", expected_dir, sc->name);
  golden_text = read_file(path, NULL);
  if (!golden_text) {
    printf("FAIL %s\n  no golden file %s (record it with run.js --update)\n",
           sc->name, path);
    return 1;
  }
  golden = split_lines(golden_text, &n_golden);
  if (!golden || n_golden != sc->n_steps) {
    printf("FAIL %s\n  golden file has %zu lines for %zu steps\n", sc->name,
           n_golden, sc->n_steps);
    free(golden);
    free(golden_text);
    return 1;
  }
  if (session_init(&s, sc) != 0) {
    printf("FAIL %s\n  cannot create a temporary directory: %s\n", sc->name,
           strerror(errno));
    free(golden);
    free(golden_text);
    return 1;
  }
  ps__buf_init(&report, 0);
  err = session_open(&s);
  if (err) {
    printf("FAIL %s\n  cannot open the database with our core: %s\n", sc->name,
           err);
    free(err);
    session_dispose(&s);
    free(golden);
    free(golden_text);
    return 1;
  }
  for (i = 0; i < sc->n_steps; i++) {
    const struct step *st = &sc->steps[i];
    char *raw = run_step(&s, st);
    char *actual = raw ? normalize_line(raw) : NULL;
    const char *expected = golden[i];
    const char *note = NULL;
    char *busy = st->kind == STEP_CONTROL ? busy_statements(s.db) : NULL;
    free(raw);
    if (busy) {
      ps__buf_printf(&report,
                     "    step %zu%s%s%s: busy statement left after "
                     "powersync_control: %s\n",
                     i, st->label ? " [" : "", st->label ? st->label : "",
                     st->label ? "]" : "", busy);
      free(busy);
      n_diffs++;
    }
    if (actual && opts.print)
      ps__buf_printf(&report, "  step %zu: %s\n", i, actual);
    if (!actual) {
      printf("FAIL %s\n  out of memory\n", sc->name);
      session_dispose(&s);
      free(golden);
      free(golden_text);
      ps__buf_free(&report);
      return 1;
    }
    if (opts.oracle) {
      /* Compare with the golden as recorded. */
    } else if (old_sqlite && st->sqlite340 == 1) {
      free(actual);
      continue;
    } else if (old_sqlite && st->sqlite340 == 2) {
      expected = st->sqlite340_line;
    } else if (st->deviation) {
      if (strcmp(actual, st->ours_line) == 0)
        ps__buf_printf(&report, "  deviation observed: %s (step %zu)\n",
                       st->deviation, i);
      else if (strcmp(actual, expected) == 0)
        note = "our core now matches the official output: remove the "
               "deviation";
      expected = st->ours_line;
    }
    if (strcmp(actual, expected) != 0) {
      if (n_diffs < MAX_DIFFS_SHOWN || opts.verbose) {
        ps__buf_printf(&report, "    step %zu%s%s%s %s: ", i,
                       st->label ? " [" : "", st->label ? st->label : "",
                       st->label ? "]" : "", kind_name(st->kind));
        {
          /* The SQL on one line, shortened. */
          struct ps__buf ctl;
          const char *t = st->text;
          size_t n = 0;
          ps__buf_init(&ctl, 0);
          if (st->kind == STEP_CONTROL) {
            put_json_text(&ctl, st->control);
            t = ps__buf_cstr(&ctl);
          }
          for (; *t && (opts.verbose || n < 150); t++, n++)
            ps__buf_putc(&report, (*t == '\n' || *t == '\t') ? ' ' : *t);
          if (*t)
            ps__buf_puts(&report, "...");
          ps__buf_free(&ctl);
        }
        ps__buf_putc(&report, '\n');
        if (note)
          ps__buf_printf(&report, "      note:     %s\n", note);
        put_excerpt(&report, "      expected: ", expected, actual);
        put_excerpt(&report, "      actual:   ", actual, expected);
      }
      n_diffs++;
    }
    free(actual);
  }
  session_dispose(&s);
  printf("%s %s\n", n_diffs ? "FAIL" : "PASS", sc->name);
  if (n_diffs)
    printf("  ours (SQLite %s): %zu differing step%s\n", sqlite3_libversion(),
           n_diffs, n_diffs == 1 ? "" : "s");
  printf("%s", ps__buf_cstr(&report));
  if (n_diffs > MAX_DIFFS_SHOWN && !opts.verbose)
    printf("    ... and %zu more (use --verbose)\n", n_diffs - MAX_DIFFS_SHOWN);
  ps__buf_free(&report);
  free(golden);
  free(golden_text);
  return n_diffs ? 1 : 0;
}

/* ------------------------------------------------------------------------ */

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void usage(void) {
  fprintf(stderr, "usage: scenario_runner [--extension path/to/powersync.so] "
                  "[--only name] [--no-fork] [--verbose] [--print] "
                  "[--oracle] <scenarios dir> <expected dir>\n");
  exit(2);
}

/* 0 passed, 1 failed, 2 skipped. */
static int one_scenario(const char *dir, const char *file,
                        const char *expected_dir) {
  struct scenario sc;
  char path[1024], err[300];
  int result;
  memset(&sc, 0, sizeof sc);
  ps__arena_init(&sc.arena, 0);
  snprintf(sc.name, sizeof sc.name, "%.*s", (int)(strlen(file) - 5), file);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  if (load_scenario(&sc, path, err, sizeof err) != 0) {
    printf("FAIL %s\n  invalid scenario: %s\n", sc.name, err);
    free_scenario(&sc);
    return 1;
  }
  if (sc.has_core) {
    printf("SKIP %s (has \"core\" steps: needs the official core)\n", sc.name);
    free_scenario(&sc);
    return 2;
  }
  result = run_scenario(&sc, expected_dir);
  free_scenario(&sc);
  return result;
}

int main(int argc, char **argv) {
  const char *dirs[2];
  int ndirs = 0, i;
  DIR *d;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0, k;
  int passed = 0, failed = 0, skipped = 0;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--extension") == 0 && i + 1 < argc)
      opts.extension = argv[++i];
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
      opts.only = argv[++i];
    else if (strcmp(argv[i], "--no-fork") == 0)
      opts.fork = 0;
    else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
      opts.verbose = 1;
    else if (strcmp(argv[i], "--print") == 0)
      opts.print = 1;
    else if (strcmp(argv[i], "--oracle") == 0)
      opts.oracle = 1;
    else if (argv[i][0] == '-' || ndirs == 2)
      usage();
    else
      dirs[ndirs++] = argv[i];
  }
  if (ndirs != 2)
    usage();
  if (!opts.extension && powersync_init_static() != SQLITE_OK) {
    fprintf(stderr, "scenario_runner: powersync_init_static failed\n");
    return 2;
  }
  d = opendir(dirs[0]);
  if (!d) {
    fprintf(stderr, "scenario_runner: %s: %s\n", dirs[0], strerror(errno));
    return 2;
  }
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
      continue;
    if (opts.only && (strncmp(e->d_name, opts.only, len - 5) != 0 ||
                      strlen(opts.only) != len - 5))
      continue;
    if (n == cap) {
      char **grown = realloc(names, (cap ? 2 * cap : 64) * sizeof *names);
      if (!grown)
        return 2;
      names = grown;
      cap = cap ? 2 * cap : 64;
    }
    names[n] = strdup(e->d_name);
    if (!names[n])
      return 2;
    n++;
  }
  closedir(d);
  if (n == 0) {
    fprintf(stderr, "scenario_runner: no scenarios%s%s in %s\n",
            opts.only ? " named " : "", opts.only ? opts.only : "", dirs[0]);
    return 2;
  }
  qsort(names, n, sizeof *names, compare_names);
  printf("scenario_runner: SQLite %s, %s core%s%s\n", sqlite3_libversion(),
         opts.extension ? "loadable" : "static", opts.extension ? " " : "",
         opts.extension ? opts.extension : "");
  for (k = 0; k < n; k++) {
    int r;
    if (opts.fork) {
      pid_t pid;
      int status;
      fflush(stdout);
      fflush(stderr);
      pid = fork();
      if (pid < 0) {
        fprintf(stderr, "scenario_runner: fork: %s\n", strerror(errno));
        return 2;
      }
      if (pid == 0) {
        r = one_scenario(dirs[0], names[k], dirs[1]);
        fflush(stdout);
        exit(r);
      }
      if (waitpid(pid, &status, 0) < 0) {
        fprintf(stderr, "scenario_runner: waitpid: %s\n", strerror(errno));
        return 2;
      }
      if (WIFEXITED(status) && WEXITSTATUS(status) <= 2) {
        r = WEXITSTATUS(status);
      } else {
        printf("FAIL %.*s\n  crashed (%s %d)\n", (int)(strlen(names[k]) - 5),
               names[k], WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        r = 1;
      }
    } else {
      r = one_scenario(dirs[0], names[k], dirs[1]);
    }
    if (r == 0)
      passed++;
    else if (r == 2)
      skipped++;
    else
      failed++;
    free(names[k]);
  }
  free(names);
  if (plain_db)
    sqlite3_close(plain_db);
  if (skipped)
    printf("%d skipped (need the official core)\n", skipped);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
