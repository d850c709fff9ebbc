/*
 * test_example_sync.c: runs examples/sync_todos.c as a separate process
 * against the mock service: the example must sync the served rows, upload
 * its own write, print its status changes and exit 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include "db_test_helpers.h"
#include "sync_test_helpers.h"

extern char **environ;

#define WAIT_MS 20000

/* Reads the child's output until EOF (bounded). */
static void read_all(int fd, char *buf, size_t size) {
  size_t len = 0;
  struct pollfd p = {fd, POLLIN, 0};
  while (len + 1 < size && poll(&p, 1, WAIT_MS) > 0) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  buf[len] = '\0';
}

static void example_syncs_and_uploads(void **state) {
  const char *exe = getenv("PS_EXAMPLE_SYNC");
  mock_service *ms;
  mock_stream *s;
  posix_spawn_file_actions_t fa;
  char *argv[5];
  char db[1024], output[16384];
  int out[2], status = 0;
  pid_t pid;
  (void)state;
  if (!exe) {
    fprintf(stderr, "PS_EXAMPLE_SYNC is not set (examples not built)\n");
    skip();
  }
  ms = mock_service_start();
  assert_non_null(ms);
  snprintf(db, sizeof(db), "%s", th_db_path("example_sync"));
  argv[0] = (char *)exe;
  argv[1] = db;
  argv[2] = (char *)mock_service_url(ms);
  argv[3] = "example-token";
  argv[4] = NULL;
  assert_int_equal(pipe(out), 0);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);

  s = mock_service_next_stream(ms, WAIT_MS);
  assert_non_null(s);
  assert_non_null(
      strstr(mock_stream_header(s, "Authorization"), "example-token"));
  assert_int_equal(mock_stream_begin(s, "application/x-ndjson", 0), 0);
  st_send(s, st_checkpoint("2", "b", 2, 2, 3));
  st_send(s, st_data_puts("b", 1, 2, 1, "served"));
  st_send(s, st_checkpoint_complete("2"));

  read_all(out[0], output, sizeof(output));
  close(out[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  fprintf(stderr, "%s", output);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_non_null(strstr(output, "2 todo(s)"));
  assert_non_null(strstr(output, "id1: served"));
  assert_non_null(strstr(output, "upload: {"));
  assert_non_null(strstr(output, "Written by sync_todos"));
  assert_non_null(strstr(output, "has_synced=1"));
  assert_non_null(strstr(output, "done"));
  assert_true(mock_service_write_checkpoint_count(ms) >= 1);
  mock_stream_free(s);
  mock_service_stop(ms);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(example_syncs_and_uploads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
