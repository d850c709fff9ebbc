/*
 * sync_json.h: SQLite values rendered as JSON exactly the way the PowerSync
 * service (JavaScript, JSON.stringify) renders them in row data and bucket
 * ids, so a row synced by the dev server has the bytes the real service
 * would send for the same values: TEXT as a string (JSON.stringify
 * escaping, non-ASCII kept), INTEGER as its digits, REAL as JavaScript's
 * shortest round-trip form (2.0 -> 2, 1e21 -> 1e+21, 1e-7 -> 1e-7), NULL
 * as null. BLOBs have no JSON form (the service drops them from rows).
 * SQLite's own json_object() differs for REAL (2.0, 1.0e+21), hence this.
 */
#ifndef PSD_SYNC_JSON_H
#define PSD_SYNC_JSON_H

#include <sqlite3.h>
#include <stddef.h>

#include "util/buf.h"

/* Appends s[0..len) as a JSON string literal. */
void psd_json_append_string(struct ps__buf *out, const char *s, size_t len);

/* Appends d as JavaScript's Number#toString would (non-finite: null). */
void psd_json_append_double(struct ps__buf *out, double d);

/* Appends v as JSON. Returns 0, or 1 (nothing appended) for a BLOB. */
int psd_json_append_value(struct ps__buf *out, sqlite3_value *v);

#endif
