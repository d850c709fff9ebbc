/*
 * sync_lock.c: one sync client per database file, across processes.
 *
 * Two clients syncing the same file (an app and `powersync sync` on its
 * database, two instances of an app) interleave their data lines in one
 * oplog: every checkpoint then fails its checksums, the core deletes the
 * buckets, and both download everything again, forever. A connected client
 * therefore holds an exclusive flock() on "<database file>-sync-lock", and
 * a second connect fails at once with POWERSYNC_EBUSY naming the file.
 *
 * flock, not fcntl: SQLite holds fcntl locks on the database file, and
 * fcntl locks belong to the process, so closing any descriptor of a locked
 * file drops them all. A flock belongs to the open file description, so it
 * also separates two powersync_db handles of one process, and the kernel
 * releases it when a process dies, so a killed client never leaves a stale
 * lock. The lock file is left in place: removing it would race with a
 * client that has just opened it.
 *
 * In-memory and temporary databases (no file name) need no lock; neither
 * does a directory where the lock file cannot be created (read-only media:
 * no sync can write there anyway, and the open would fail clearly).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sdk_internal.h"
#include "sync_internal.h"

#define LOCK_SUFFIX "-sync-lock"

int ps__sync_file_lock(const char *db_file, int *fd_out) {
  size_t n;
  char *path;
  int fd;
  *fd_out = -1;
  if (!db_file || !*db_file)
    return POWERSYNC_OK;
  n = strlen(db_file) + sizeof(LOCK_SUFFIX);
  path = malloc(n);
  if (!path)
    return ps__error_set(POWERSYNC_ENOMEM, "out of memory");
  snprintf(path, n, "%s%s", db_file, LOCK_SUFFIX);
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    ps__log(POWERSYNC_LOG_DEBUG, "sync", "no sync lock (%s: %s)", path,
            strerror(errno));
    free(path);
    return POWERSYNC_OK;
  }
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err == EINTR)
      continue;
    close(fd);
    if (err == EWOULDBLOCK) {
      int rc = ps__error_set(POWERSYNC_EBUSY,
                             "another client is already syncing '%s' (it "
                             "holds %s); disconnect it first",
                             db_file, path);
      free(path);
      return rc;
    }
    ps__log(POWERSYNC_LOG_DEBUG, "sync", "no sync lock (%s: %s)", path,
            strerror(err));
    free(path);
    return POWERSYNC_OK;
  }
  free(path);
  *fd_out = fd;
  return POWERSYNC_OK;
}

void ps__sync_file_unlock(int fd) {
  if (fd >= 0)
    close(fd);
}
