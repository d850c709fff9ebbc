/*
 * progress.c: turns sync status snapshots into the lines and the bar that
 * `powersync sync` shows on stderr (see progress.h). Each kind of change
 * is reported once: the status carries the whole state, so this file
 * remembers what it last reported and compares.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

#define BAR_WIDTH 30

void progress_init(struct progress *p, progress_mode mode,
                   const powersync_sync_status *initial) {
  memset(p, 0, sizeof(*p));
  if (mode == PROGRESS_AUTO)
    mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
  p->mode = mode;
  p->last_percent = -1;
  p->last_synced_us = powersync_sync_status_last_synced_at_us(initial);
}

static void clear_bar(struct progress *p) {
  if (p->bar_shown) {
    fputs("\r\033[K", stderr);
    p->bar_shown = 0;
  }
}

static void draw_bar(struct progress *p, const powersync_sync_progress *d,
                     int percent) {
  char bar[BAR_WIDTH + 1];
  int filled = percent * BAR_WIDTH / 100;
  memset(bar, '#', (size_t)filled);
  memset(bar + filled, '-', (size_t)(BAR_WIDTH - filled));
  bar[BAR_WIDTH] = '\0';
  fprintf(stderr, "\r\033[K[%s] %3d%%  %lld/%lld ops", bar, percent,
          (long long)d->downloaded, (long long)d->total);
  fflush(stderr);
  p->bar_shown = 1;
}

void progress_say(struct progress *p, const char *fmt, ...) {
  va_list ap;
  if (p->mode == PROGRESS_NONE)
    return;
  clear_bar(p);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  /* The bar comes back with the next status. */
}

/* Reports text in *slot's place when it differs from what was reported;
 * NULL (the error cleared) is remembered silently. */
static void report_error(struct progress *p, char **slot, const char *label,
                         const char *text) {
  if ((!text && !*slot) || (text && *slot && strcmp(text, *slot) == 0))
    return;
  free(*slot);
  *slot = text ? strdup(text) : NULL;
  if (text)
    progress_say(p, "%s: %s", label, text);
}

static void report_connection(struct progress *p,
                              const powersync_sync_status *s) {
  int connected = powersync_sync_status_connected(s);
  if (connected == p->connected)
    return;
  p->connected = connected;
  progress_say(p, "%s", connected ? "connected" : "disconnected");
}

static void report_download(struct progress *p,
                            const powersync_sync_status *s) {
  powersync_sync_progress d;
  int percent;
  if (!powersync_sync_status_progress(s, -1, &d) || d.total <= 0) {
    p->last_percent = -1;
    clear_bar(p);
    return;
  }
  percent = (int)(d.downloaded >= d.total ? 100 : d.downloaded * 100 / d.total);
  if (p->mode == PROGRESS_BAR) {
    draw_bar(p, &d, percent);
  } else if (percent != p->last_percent) {
    progress_say(p, "downloading %lld/%lld (%d%%)", (long long)d.downloaded,
                 (long long)d.total, percent);
  }
  p->last_percent = percent;
}

static void report_synced(struct progress *p, const powersync_sync_status *s) {
  int64_t at = powersync_sync_status_last_synced_at_us(s);
  char when[64];
  if (!powersync_sync_status_has_synced(s) || at == p->last_synced_us)
    return;
  p->last_synced_us = at;
  cli_format_time_us(at, when, sizeof(when));
  progress_say(p, "synced at %s", when);
}

void progress_update(struct progress *p, const powersync_sync_status *s) {
  if (p->mode == PROGRESS_NONE)
    return;
  report_connection(p, s);
  report_error(p, &p->download_error, "download error",
               powersync_sync_status_download_error(s));
  report_error(p, &p->upload_error, "upload error",
               powersync_sync_status_upload_error(s));
  report_synced(p, s);
  report_download(p, s);
}

void progress_end(struct progress *p) {
  clear_bar(p);
  fflush(stderr);
}

void progress_free(struct progress *p) {
  free(p->download_error);
  free(p->upload_error);
  p->download_error = p->upload_error = NULL;
}
