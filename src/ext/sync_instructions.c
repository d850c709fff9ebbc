/*
 * sync_instructions.c: the instruction array returned by powersync_control
 * (core-sync.md 7).
 *
 * Usage (inside the engine):
 *
 *   struct ps__sync_out o;
 *   ps__sync_out_init(&o);
 *   ps__sync_out_log(&o, "DEBUG", "Validated and applied checkpoint", 32);
 *   ps__sync_out_close(&o, 0);
 *   ps__sync_out_result(&o, ctx);  -- [{"LogLine":...},{"CloseSyncStream":...}]
 *
 * HOW IT WORKS
 *
 * The array is written straight into one growing buffer, compact and with
 * keys in the official order; each instruction is an object with a single
 * key. Callers that must drop what a failed step appended remember
 * (buf.len, count) and rewind to it. The finished text carries the subtype
 * 'J' (74), as the official result does.
 */
#include <string.h>

#include "../core/json.h"
#include "sync_engine.h"

/* Subtype of the official instruction array result: 'J'. */
#define PS_SYNC_RESULT_SUBTYPE 74

void ps__sync_out_init(struct ps__sync_out *o) {
  ps__buf_init(&o->buf, 0);
  ps__buf_putc(&o->buf, '[');
  o->count = 0;
}

void ps__sync_out_free(struct ps__sync_out *o) { ps__buf_free(&o->buf); }

void ps__sync_out_rewind(struct ps__sync_out *o, size_t len, size_t count) {
  ps__buf_truncate(&o->buf, len);
  o->count = count;
}

void ps__sync_out_begin(struct ps__sync_out *o, const char *name) {
  if (o->count++ > 0)
    ps__buf_putc(&o->buf, ',');
  ps__buf_puts(&o->buf, "{\"");
  ps__buf_puts(&o->buf, name);
  ps__buf_puts(&o->buf, "\":");
}

void ps__sync_out_end(struct ps__sync_out *o) { ps__buf_putc(&o->buf, '}'); }

void ps__sync_out_log(struct ps__sync_out *o, const char *severity,
                      const char *line, size_t len) {
  ps__sync_out_begin(o, "LogLine");
  ps__buf_puts(&o->buf, "{\"severity\":\"");
  ps__buf_puts(&o->buf, severity);
  ps__buf_puts(&o->buf, "\",\"line\":");
  ps__json_write_string(&o->buf, line, len);
  ps__buf_putc(&o->buf, '}');
  ps__sync_out_end(o);
}

void ps__sync_out_status(struct ps__sync_out *o,
                         const struct ps__sync_status *s) {
  ps__sync_out_begin(o, "UpdateSyncStatus");
  ps__buf_puts(&o->buf, "{\"status\":");
  ps__sync_status_write(&o->buf, s);
  ps__buf_putc(&o->buf, '}');
  ps__sync_out_end(o);
}

void ps__sync_out_close(struct ps__sync_out *o, int hide_disconnect) {
  ps__sync_out_begin(o, "CloseSyncStream");
  ps__buf_puts(&o->buf, hide_disconnect ? "{\"hide_disconnect\":true}"
                                        : "{\"hide_disconnect\":false}");
  ps__sync_out_end(o);
}

void ps__sync_out_fetch_credentials(struct ps__sync_out *o, int did_expire) {
  ps__sync_out_begin(o, "FetchCredentials");
  ps__buf_puts(&o->buf,
               did_expire ? "{\"did_expire\":true}" : "{\"did_expire\":false}");
  ps__sync_out_end(o);
}

void ps__sync_out_did_complete(struct ps__sync_out *o, int has_id, int64_t id) {
  ps__sync_out_begin(o, "DidCompleteSync");
  if (has_id)
    ps__buf_printf(&o->buf, "{\"applied_checkpoint_request_id\":\"%lld\"}",
                   (long long)id);
  else
    ps__buf_puts(&o->buf, "{}");
  ps__sync_out_end(o);
}

void ps__sync_out_result(struct ps__sync_out *o, sqlite3_context *ctx) {
  ps__buf_putc(&o->buf, ']');
  if (ps__buf_failed(&o->buf)) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, o->buf.data, (int)o->buf.len, SQLITE_TRANSIENT);
  sqlite3_result_subtype(ctx, PS_SYNC_RESULT_SUBTYPE);
}
