/**
 * @file common.h
 * @brief Macros and types shared by every libpowersync header.
 *
 * Conventions of the whole API (docs/conventions.md restates them):
 * - Functions that can fail return an int: POWERSYNC_OK (0), a negative
 *   powersync_status code, or a positive SQLite (extended) result code passed
 *   through unchanged. powersync_errstr() names any of them; the thread-local
 *   powersync_error_last() holds the detailed message of the last failure.
 * - Out-parameters come first and are named out; *out is NULL after a failure.
 * - Objects are opaque. Whoever receives an object from a _new/_open function
 *   owns it and releases it with the matching _free/_close, which accept NULL.
 * - Strings passed in are copied before the call returns.
 * - Every function documents its thread-safety; every callback the thread it
 *   runs on.
 */
#ifndef POWERSYNC_COMMON_H
#define POWERSYNC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(POWERSYNC_BUILDING) && !defined(POWERSYNC_STATICLIB)
#define POWERSYNC_API __declspec(dllexport)
#elif !defined(POWERSYNC_STATICLIB)
#define POWERSYNC_API __declspec(dllimport)
#else
#define POWERSYNC_API
#endif
#else
#define POWERSYNC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define POWERSYNC_BEGIN_DECL extern "C" {
#define POWERSYNC_END_DECL   }
#else
#define POWERSYNC_BEGIN_DECL
#define POWERSYNC_END_DECL
#endif

#endif
