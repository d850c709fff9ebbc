/*
 * storage.h: the dev server's replication and bucket storage
 * (protocol.md 11.3-11.5), kept in the source database file itself.
 *
 * Replication: opening installs AFTER INSERT/UPDATE/DELETE triggers on
 * every table the sync config reads; they append (table, rowid, id) to
 * _powersync_changes, so writes by anything (the upload endpoint, the
 * sqlite3 shell, another program) are picked up. psd_storage_replicate()
 * turns pending changes into operations: for each changed row it evaluates
 * the data queries (sync_config.h) and appends a PUT per (bucket, object)
 * the row is in now, and a REMOVE per (bucket, object) it was in before but
 * is not any more (a deleted row: REMOVEs everywhere), each with the
 * service's checksum; op ids come from one global sequence. A PUT whose
 * data equals the object's current data in that bucket is skipped.
 * The first open replicates every existing row (a snapshot).
 *
 * State tables (prefixed _powersync_, never replicated): ops, per-bucket
 * checksum/count/last op, current object membership, write checkpoints,
 * changes, and meta (head op id).
 *
 * Checkpoints: the head (largest op id) after a replication is a
 * consistent checkpoint; bucket checksums and counts are read at head.
 * Write checkpoints (managed mode): a per "<user>/<client>" counter with
 * the head at creation; the value reported at a checkpoint is the largest
 * counter whose head is <= the checkpoint's.
 *
 * Compaction rewrites superseded PUT/REMOVE ops of an object as MOVE (same
 * checksum, no data) and collapses the oldest run of MOVE/REMOVE ops of a
 * bucket into one CLEAR with their summed checksum, as the service does.
 *
 * Thread-safety: one mutex serialises every call on a storage (it owns one
 * connection); psd_storage_wait may be called from many threads at once.
 */
#ifndef PSD_STORAGE_H
#define PSD_STORAGE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "sync_config.h"

struct psd_storage;

/* Opens (creating state tables and triggers as needed) the source database
 * at path, with cfg (borrowed; must outlive the storage), and replicates
 * what is pending. Returns 0 or -1 with err. */
int psd_storage_open(const char *path, const struct psd_sync_config *cfg,
                     struct psd_storage **out, char *err, size_t errlen);
/* Wakes waiters (they return) and closes. */
void psd_storage_close(struct psd_storage *s);

/* The connection the storage owns, for evaluations made while holding the
 * storage's lock (psd_storage_lock). */
sqlite3 *psd_storage_db(struct psd_storage *s);
void psd_storage_lock(struct psd_storage *s);
void psd_storage_unlock(struct psd_storage *s);

/* Turns pending changes into ops in one transaction; *head_out (may be
 * NULL) receives the head afterwards. Wakes waiters when ops or write
 * checkpoints were added. Returns 0 or -1 with err. */
int psd_storage_replicate(struct psd_storage *s, int64_t *head_out, char *err,
                          size_t errlen);

/* The head op id (0 before any op). */
int64_t psd_storage_head(struct psd_storage *s);

/* Checksum (mod 2^32) and op count of bucket at the current head; 0/0 for a
 * bucket without ops. Caller holds the lock (so a checkpoint's buckets are
 * read at one head). */
int psd_storage_bucket_state_locked(struct psd_storage *s, const char *bucket,
                                    uint32_t *checksum, int64_t *count);

/* One operation, borrowed for the callback. op: "PUT", "REMOVE", "MOVE" or
 * "CLEAR"; object_type, object_id, subkey and data are NULL where the op
 * has none. */
struct psd_op {
  int64_t op_id;
  const char *op;
  const char *object_type;
  const char *object_id;
  const char *subkey;
  const char *data;
  uint32_t checksum;
};
typedef int (*psd_op_cb)(void *user_data, const struct psd_op *op);

/* Ops of bucket with after < op_id <= upto in op id order, at most limit;
 * *has_more tells whether more follow up to upto. Caller holds the lock. */
int psd_storage_ops_locked(struct psd_storage *s, const char *bucket,
                           int64_t after, int64_t upto, size_t limit,
                           psd_op_cb cb, void *user_data, int *has_more);

/* GET /write-checkpoint2.json: increments the counter of user/client and
 * records the current head (after replicating what is pending, so a write
 * checkpoint requested after an upload covers it). */
int psd_storage_create_write_checkpoint(struct psd_storage *s,
                                        const char *user_id,
                                        const char *client_id,
                                        int64_t *value_out, char *err,
                                        size_t errlen);
/* The write checkpoint of user/client visible at head (0: none). Caller
 * holds the lock. */
int64_t psd_storage_write_checkpoint_locked(struct psd_storage *s,
                                            const char *user_id,
                                            const char *client_id,
                                            int64_t head);

/* The upload endpoint: applies {"batch":[{"op":"PUT"|"PATCH"|"DELETE",
 * "type":<table>,"id":<id>,"data":{...}}, ...]} to the source tables in one
 * transaction (PUT: insert or replace the row with id and data; PATCH:
 * update the given columns; DELETE: delete by id), then replicates.
 * Unknown tables or columns fail the whole batch. Returns 0 or -1 with
 * err. */
int psd_storage_apply_batch(struct psd_storage *s, const char *json, size_t len,
                            char *err, size_t errlen);

/* Compacts every bucket (see above). Returns 0 or -1 with err. */
int psd_storage_compact(struct psd_storage *s, char *err, size_t errlen);

/* Blocks until the head or the write checkpoints change after the caller
 * saw generation *gen, timeout_ms passes, or the storage closes; updates
 * *gen. Returns 1 when something changed, 0 on timeout, -1 when closed. */
int psd_storage_wait(struct psd_storage *s, uint64_t *gen, int timeout_ms);

/* The current generation (never 0), for a *gen taken before reading the
 * state a wait should compare against. A negative timeout_ms of
 * psd_storage_wait waits without a limit; 0 only checks. */
uint64_t psd_storage_generation(struct psd_storage *s);
/* How many threads are inside psd_storage_wait (diagnostics, tests). */
unsigned psd_storage_waiter_count(struct psd_storage *s);

#endif
