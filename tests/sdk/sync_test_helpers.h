/*
 * sync_test_helpers.h: what the sync client tests share: a scripted
 * connector (credentials from the mock service, uploads recorded), a
 * database connected to the mock service, sync line builders and status
 * waits.
 *
 * Include after <cmocka.h> and db_test_helpers.h.
 */
#ifndef PS_TEST_SYNC_TEST_HELPERS_H
#define PS_TEST_SYNC_TEST_HELPERS_H

#include <pthread.h>
#include <stdint.h>

#include "mock_service.h"
#include "powersync.h"

/* The connector's behaviour and what it saw; guarded by mu. */
struct st_connector {
  pthread_mutex_t mu;
  const char *endpoint;      /* The mock service. */
  int fetch_count;           /* fetch_credentials calls. */
  int signed_out;            /* Answer "not signed in". */
  int fetch_fail;            /* Fail fetches. */
  int upload_fail_remaining; /* Fail this many upload calls first. */
  int upload_calls;
  int upload_complete; /* Complete what was read (default 1). */
  char uploaded[4096]; /* "op:table:id;" of every completed entry. */
  int invalidations;
  int touch_streams;        /* upload_data subscribes and unsubscribes a
                               stream (after a pause) before uploading. */
  const char *bad_endpoint; /* Hand out this endpoint instead. */
};

struct st_env {
  mock_service *ms;
  powersync_db *db;
  struct st_connector conn;
  powersync_connector connector;
};

/* Starts a mock service and opens a fresh database named name with the
 * todos schema (db_test_helpers.h). */
void st_setup(struct st_env *env, const char *name);
/* Disconnects, closes, stops the service. */
void st_teardown(struct st_env *env);

/* Connect options for tests: NDJSON, retry delay 100 ms, no throttle,
 * read timeout 10 s. */
powersync_connect_options st_options(void);
/* powersync_db_connect with env's connector and opts (NULL: st_options). */
void st_connect(struct st_env *env, const powersync_connect_options *opts);

/* The token of the n-th fetch: "token-<n>". */
void st_token_for(int n, char *buf, size_t size);

/* Waits up to timeout_ms for a status property; fails the test on
 * timeout. */
void st_wait_connected(struct st_env *env, int timeout_ms);
void st_wait_downloading(struct st_env *env, int timeout_ms);
void st_wait_first_sync(struct st_env *env, int priority, int timeout_ms);
void st_wait_upload_queue_empty(struct st_env *env, int timeout_ms);
/* Polls until cond(env) is non-zero; fails the test on timeout. */
void st_wait_until(struct st_env *env, int (*cond)(struct st_env *env),
                   int timeout_ms, const char *what);

/* Sync lines (caller frees). One bucket named bucket with the given count
 * and checksum, priority 3. */
char *st_checkpoint(const char *last_op_id, const char *bucket,
                    uint32_t checksum, int count, int priority);
/* A data line with PUTs of todos rows id<first>..id<first+n-1> (op ids
 * from first_op), each with checksum op_checksum. */
char *st_data_puts(const char *bucket, int first_op, int n,
                   uint32_t op_checksum, const char *description);
char *st_checkpoint_complete(const char *last_op_id);
char *st_partial_complete(const char *last_op_id, int priority);
/* Sends and frees line. */
void st_send(mock_stream *s, char *line);

/* Count of rows in todos. */
int64_t st_todo_count(struct st_env *env);

/* Reads a whole file (fixtures); *len gets its size. Caller frees. */
char *st_read_file(const char *path, size_t *len);
/* Path of a real-service fixture (static buffer). */
const char *st_fixture(const char *name);

#endif
