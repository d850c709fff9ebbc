/**
 * @file log.h
 * @brief Logging: one process-wide callback with levels.
 */
#ifndef POWERSYNC_LOG_H
#define POWERSYNC_LOG_H

#include "common.h"

POWERSYNC_BEGIN_DECL

typedef enum powersync_log_level {
  POWERSYNC_LOG_TRACE = 0,
  POWERSYNC_LOG_DEBUG = 1,
  POWERSYNC_LOG_INFO = 2,
  POWERSYNC_LOG_WARN = 3,
  POWERSYNC_LOG_ERROR = 4,
  POWERSYNC_LOG_OFF = 5
} powersync_log_level;

/**
 * Receives log messages at or above the configured level.
 * @param level the message's level.
 * @param tag the component ("db", "pool", "watch", "crud", "sync", "core").
 * @param message one line; valid only during the call.
 * Callback thread: whichever thread logs (application or SDK threads); it
 * may run concurrently on several threads and must not call back into the
 * database that logged.
 */
typedef void (*powersync_log_cb)(powersync_log_level level, const char *tag,
                                 const char *message, void *user_data);

/**
 * Installs cb (NULL to disable logging) for messages at min_level or above.
 * Default: no logging. Credentials are never logged.
 * Thread-safety: safe from any thread; messages being logged concurrently
 * may still reach the previous callback.
 */
POWERSYNC_API void powersync_set_log_callback(powersync_log_cb cb,
                                              void *user_data,
                                              powersync_log_level min_level);

POWERSYNC_END_DECL

#endif
