/*
 * progress.h: how `powersync sync` reports what happens (progress.c).
 *
 * Fed with every sync status snapshot, it reports changes on stderr: on a
 * terminal a one-line progress bar redrawn with \r (downloaded/total ops
 * and percent) with events printed above it; otherwise plain lines that a
 * log file can keep ("connected", "downloading 1200/5000 (24%)" only when
 * the integer percent changes, "synced at <ISO time>", "download error:
 * ..."). Not thread-safe: the caller serialises calls (cmd_sync.c holds its
 * mutex).
 */
#ifndef PS_CLI_PROGRESS_H
#define PS_CLI_PROGRESS_H

#include "cli.h"

typedef enum progress_mode {
  PROGRESS_AUTO,  /* BAR when stderr is a terminal, else LINES. */
  PROGRESS_BAR,   /* Redrawn bar plus event lines. */
  PROGRESS_LINES, /* Plain lines only. */
  PROGRESS_NONE   /* Nothing (errors that end the command still print). */
} progress_mode;

struct progress {
  progress_mode mode; /* Never AUTO after progress_init. */
  int bar_shown;      /* A bar is drawn on the current line. */
  int last_percent;   /* Of the download in progress; -1 when none. */
  int connected;
  int64_t last_synced_us;
  char *download_error; /* Last reported, to report each change once. */
  char *upload_error;
};

/* Starts from the status before connecting (so an old sync or error is
 * not reported as new). */
void progress_init(struct progress *p, progress_mode mode,
                   const powersync_sync_status *initial);
/* Reports what changed since the previous status. */
void progress_update(struct progress *p, const powersync_sync_status *s);
/* Reports one event line (clearing and redrawing the bar around it). */
void progress_say(struct progress *p, const char *fmt, ...) CLI_PRINTF(2, 3);
/* Removes a bar from the terminal line. */
void progress_end(struct progress *p);
void progress_free(struct progress *p);

#endif
