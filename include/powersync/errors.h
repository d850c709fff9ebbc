/**
 * @file errors.h
 * @brief Result codes and error messages.
 */
#ifndef POWERSYNC_ERRORS_H
#define POWERSYNC_ERRORS_H

#include "common.h"

POWERSYNC_BEGIN_DECL

/**
 * PowerSync's own result codes. They are negative so that positive values
 * can carry SQLite result codes unchanged. Values are never renumbered.
 */
typedef enum powersync_status {
  POWERSYNC_OK = 0,
  POWERSYNC_ERROR = -1,      /**< Generic failure; see the message. */
  POWERSYNC_ENOMEM = -2,     /**< Out of memory. */
  POWERSYNC_EINVAL = -3,     /**< Invalid argument or API misuse. */
  POWERSYNC_ETIMEOUT = -4,   /**< A timed wait (lease, wait helper) expired. */
  POWERSYNC_ECLOSED = -5,    /**< The database is closing or closed. */
  POWERSYNC_EUSER = -6,      /**< An application callback returned non-zero. */
  POWERSYNC_ESCHEMA = -7,    /**< The schema is invalid. */
  POWERSYNC_EVERSION = -8,   /**< Incompatible SQLite or core version. */
  POWERSYNC_ECONFLICT = -9,  /**< Out-of-order or repeated CRUD completion. */
  POWERSYNC_EBUSY = -10,     /**< Refused while another operation runs. */
  POWERSYNC_EINTR = -11,     /**< A blocking transport call was woken. */
  POWERSYNC_ENETWORK = -12,  /**< Connection or transfer failed. */
  POWERSYNC_EHTTP = -13,     /**< The service answered with an HTTP error. */
  POWERSYNC_EPROTOCOL = -14, /**< The service sent something unusable. */
  POWERSYNC_EAUTH = -15      /**< Not signed in, or credentials rejected. */
} powersync_status;

/**
 * Static text naming rc: a powersync_status, or for rc > 0 the SQLite text.
 * Thread-safety: safe from any thread. Ownership: static storage.
 */
POWERSYNC_API const char *powersync_errstr(int rc);

/** Details of the last failure on the calling thread. */
typedef struct powersync_error {
  int code;            /**< The code the failing call returned. */
  const char *message; /**< One line, never NULL ("" when none). */
} powersync_error;

/**
 * The last error of a PowerSync call on this thread.
 * Thread-safety: thread-local; never NULL. Ownership: valid until the next
 * PowerSync call on this thread.
 */
POWERSYNC_API const powersync_error *powersync_error_last(void);

/** Resets powersync_error_last() to POWERSYNC_OK and "". */
POWERSYNC_API void powersync_error_clear(void);

/**
 * Frees memory that the library allocated for the caller (strings returned
 * by powersync_schema_to_json and similar). Accepts NULL.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API void powersync_free(void *p);

POWERSYNC_END_DECL

#endif
