/**
 * @file crud.h
 * @brief The upload queue: local writes waiting to be sent to the backend.
 *
 * Every INSERT, UPDATE and DELETE on a synced table's view is recorded in the
 * queue (ps_crud) with the id of its local transaction. The application's
 * upload code reads entries in order, sends them to its backend and then
 * completes them. Completion is exactly-once and in order: a completed entry
 * never reappears, an uncompleted one is never lost, and completing a batch
 * whose entries are not at the head of the queue (or were already completed)
 * fails with POWERSYNC_ECONFLICT and changes nothing.
 */
#ifndef POWERSYNC_CRUD_H
#define POWERSYNC_CRUD_H

#include "common.h"
#include "db.h"

POWERSYNC_BEGIN_DECL

typedef enum powersync_crud_op {
  POWERSYNC_CRUD_PUT = 1,   /**< Insert or replace with all non-null columns. */
  POWERSYNC_CRUD_PATCH = 2, /**< Update of the changed columns. */
  POWERSYNC_CRUD_DELETE = 3
} powersync_crud_op;

/** One queued write. Strings are borrowed from the batch that holds it. */
typedef struct powersync_crud_entry {
  int64_t client_id;      /**< Position in the queue (ps_crud.id). */
  int64_t transaction_id; /**< Local transaction id; 0 for legacy rows. */
  powersync_crud_op op;
  const char *table;           /**< Table name (not the view name). */
  const char *id;              /**< Row id. */
  const char *data;            /**< JSON object of values, NULL for DELETE. */
  const char *previous_values; /**< JSON object, NULL unless include_old. */
  const char *metadata;        /**< NULL unless set through _metadata. */
  const char *json;            /**< The entry as {"op_id":..,"op":..,"type":..,
                                  "id":..,"tx_id":..,"data":..,"old":..,
                                  "metadata":..} for sending to a backend;
                                  data, old and metadata are left out when
                                  absent, tx_id is null for legacy rows. */
} powersync_crud_entry;

typedef struct powersync_crud_batch powersync_crud_batch;

/**
 * The protocol's name of op: "PUT", "PATCH" or "DELETE" ("" for a value
 * that is not a powersync_crud_op), as in an entry's json.
 * Ownership: a static string; do not free.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API const char *powersync_crud_op_name(powersync_crud_op op);

/**
 * Up to limit entries from the head of the queue (may split transactions).
 * @param[in] limit at least 1.
 * @param[out] out the batch, or NULL when the queue is empty.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL, POWERSYNC_ERROR (a malformed
 *   ps_crud row), or an error of powersync_db_read_transaction.
 * Ownership: free with powersync_crud_batch_free (after completing or not),
 * before closing db.
 * Thread-safety: safe from any thread; a batch is used by one thread at a
 * time.
 */
POWERSYNC_API int powersync_db_crud_batch(powersync_db *db, size_t limit,
                                          powersync_crud_batch **out);

/** The next whole transaction at the head of the queue, or NULL. */
POWERSYNC_API int
powersync_db_crud_next_transaction(powersync_db *db,
                                   powersync_crud_batch **out);

/**
 * Several whole transactions from the head of the queue, as many as fit in
 * max_entries (at least one transaction, even a larger one), or NULL.
 * has_more tells whether entries follow. max_entries must be at least 1.
 */
POWERSYNC_API int powersync_db_crud_transactions(powersync_db *db,
                                                 size_t max_entries,
                                                 powersync_crud_batch **out);

/** Entries of the batch. */
POWERSYNC_API size_t powersync_crud_batch_count(const powersync_crud_batch *b);
POWERSYNC_API const powersync_crud_entry *
powersync_crud_batch_entry(const powersync_crud_batch *b, size_t i);
/** 1 when more entries follow the batch in the queue. */
POWERSYNC_API int powersync_crud_batch_has_more(const powersync_crud_batch *b);

/**
 * Removes the batch's entries from the queue, in one write transaction. With
 * write_checkpoint (decimal op id, or NULL) and an empty queue afterwards,
 * that custom write checkpoint becomes the target that downloads wait for;
 * otherwise the target is MAX_OP_ID ("ask for a write checkpoint"). The
 * batch must still be the whole head of the queue: completing it twice,
 * completing a copy already completed through another batch, or completing
 * a later batch (e.g. from the iterator) before an earlier one fails.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL (NULL batch, write_checkpoint not
 *   1 to 19 decimal digits), POWERSYNC_ECONFLICT (already completed, or not
 *   at the head of the queue; nothing changed), or an SQLite code.
 * Thread-safety: safe from any thread; completions are serialised on the
 *   writer, so batches read concurrently cannot complete each other's
 *   entries.
 */
POWERSYNC_API int powersync_crud_batch_complete(powersync_crud_batch *b,
                                                const char *write_checkpoint);

/** Accepts NULL. */
POWERSYNC_API void powersync_crud_batch_free(powersync_crud_batch *b);

/**
 * Iterates over whole transactions from the head of the queue without
 * completing them: each call returns the next transaction after the previous
 * one, or NULL at the end. Batches returned can be completed in order.
 * Ownership: free the iterator with powersync_crud_iter_free (accepts NULL),
 * before closing db. Thread-safety: one thread at a time per iterator.
 */
typedef struct powersync_crud_iter powersync_crud_iter;
POWERSYNC_API int powersync_db_crud_iter(powersync_db *db,
                                         powersync_crud_iter **out);
POWERSYNC_API int powersync_crud_iter_next(powersync_crud_iter *it,
                                           powersync_crud_batch **out);
POWERSYNC_API void powersync_crud_iter_free(powersync_crud_iter *it);

/** Size of the queue: entries, and bytes estimated as other SDKs do (the
 * byte length of each entry's JSON plus 20). */
typedef struct powersync_upload_queue_stats {
  int64_t count;
  int64_t size_bytes;
} powersync_upload_queue_stats;

/**
 * Fills *out with the queue's size, read in one read transaction.
 * @return POWERSYNC_OK, POWERSYNC_EINVAL (db or out NULL), or an error of
 *   powersync_db_read_transaction.
 * Ownership: out is the caller's; nothing to free.
 * Thread-safety: safe from any thread.
 */
POWERSYNC_API int
powersync_db_upload_queue_stats(powersync_db *db,
                                powersync_upload_queue_stats *out);

POWERSYNC_END_DECL

#endif
