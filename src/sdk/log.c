/*
 * log.c: the process-wide log callback.
 *
 * The minimum level is an atomic read on every ps__log call, so disabled
 * logging (the default) costs one load and no lock. The callback and its
 * user data are read together under a mutex so a concurrent
 * powersync_set_log_callback never pairs one callback with another's data.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "sdk_internal.h"

/* Longer messages are cut: log lines are for humans. */
#define PS_LOG_LINE_MAX 1024

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static powersync_log_cb log_cb;
static void *log_user_data;
static atomic_int log_min_level = POWERSYNC_LOG_OFF;

void powersync_set_log_callback(powersync_log_cb cb, void *user_data,
                                powersync_log_level min_level) {
  pthread_mutex_lock(&log_mu);
  log_cb = cb;
  log_user_data = user_data;
  atomic_store(&log_min_level, cb ? (int)min_level : POWERSYNC_LOG_OFF);
  pthread_mutex_unlock(&log_mu);
}

void ps__log(powersync_log_level level, const char *tag, const char *fmt, ...) {
  char line[PS_LOG_LINE_MAX];
  powersync_log_cb cb;
  void *user_data;
  va_list ap;

  if ((int)level < atomic_load(&log_min_level) || level >= POWERSYNC_LOG_OFF)
    return;
  pthread_mutex_lock(&log_mu);
  cb = log_cb;
  user_data = log_user_data;
  pthread_mutex_unlock(&log_mu);
  if (!cb)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  cb(level, tag, line, user_data);
}
