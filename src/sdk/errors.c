/*
 * errors.c: result code names and the thread-local last error.
 *
 * Every public call that can fail stores a one-line message for the calling
 * thread (powersync_error_last). The message lives in a fixed thread-local
 * buffer rather than on the heap: a thread that exits never has to free it,
 * so short-lived application threads cannot leak.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"

/* Longer messages are truncated: they are diagnostics for humans, and one
 * line of SQLite's error text plus our context fits easily. */
#define PS_ERROR_MESSAGE_MAX 512

static _Thread_local char error_message[PS_ERROR_MESSAGE_MAX];
static _Thread_local powersync_error error_last = {POWERSYNC_OK, NULL};

const char *powersync_errstr(int rc) {
  if (rc > 0)
    return sqlite3_errstr(rc);
  /* A switch without default: -Wswitch-enum names a missing code. */
  switch ((powersync_status)rc) {
  case POWERSYNC_OK:
    return "no error";
  case POWERSYNC_ERROR:
    return "error";
  case POWERSYNC_ENOMEM:
    return "out of memory";
  case POWERSYNC_EINVAL:
    return "invalid argument";
  case POWERSYNC_ETIMEOUT:
    return "timed out";
  case POWERSYNC_ECLOSED:
    return "database closed";
  case POWERSYNC_EUSER:
    return "callback returned an error";
  case POWERSYNC_ESCHEMA:
    return "invalid schema";
  case POWERSYNC_EVERSION:
    return "incompatible version";
  case POWERSYNC_ECONFLICT:
    return "conflicting completion";
  case POWERSYNC_EBUSY:
    return "busy";
  case POWERSYNC_EINTR:
    return "interrupted";
  case POWERSYNC_ENETWORK:
    return "network error";
  case POWERSYNC_EHTTP:
    return "HTTP error";
  case POWERSYNC_EPROTOCOL:
    return "protocol error";
  case POWERSYNC_EAUTH:
    return "not authenticated";
  }
  return "unknown error";
}

const powersync_error *powersync_error_last(void) {
  error_last.message = error_message;
  return &error_last;
}

void powersync_error_clear(void) { ps__error_reset(); }

void powersync_free(void *p) { free(p); }

void ps__error_reset(void) {
  error_last.code = POWERSYNC_OK;
  error_message[0] = '\0';
}

int ps__error_set(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_message, sizeof(error_message), fmt, ap);
  va_end(ap);
  error_last.code = code;
  return code;
}

int ps__error_sqlite(sqlite3 *conn, int rc) {
  int code = rc;
  if (conn && sqlite3_extended_errcode(conn) != SQLITE_OK &&
      (sqlite3_extended_errcode(conn) & 0xff) == (rc & 0xff))
    code = sqlite3_extended_errcode(conn);
  if (code == SQLITE_NOMEM)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  return ps__error_set(code, "%s",
                       conn ? sqlite3_errmsg(conn) : sqlite3_errstr(code));
}

/* Messages that callbacks attach to their failures, kept apart from the
 * last error so that SDK calls made inside the callback cannot erase them. */
static _Thread_local char callback_message[PS_ERROR_MESSAGE_MAX];

void powersync_callback_error(const char *message) {
  snprintf(callback_message, sizeof(callback_message), "%s",
           message ? message : "");
}

void ps__callback_error_reset(void) { callback_message[0] = '\0'; }

int ps__callback_error_take(char *buf, size_t size) {
  int had = callback_message[0] != '\0';
  if (size > 0)
    snprintf(buf, size, "%s", callback_message);
  callback_message[0] = '\0';
  return had;
}
