/*
 * standalone_driver.c: a main() for fuzz targets built without libFuzzer, so
 * that any compiler (gcc included) can replay a corpus as a regression test.
 *
 * Usage: <target>_fuzzer_standalone PATH...
 * Each PATH is a file, or a directory whose regular files are all run (not
 * recursively). Every input is copied into an allocation of exactly its size,
 * as libFuzzer does, so that sanitizers catch reads past the end. A target
 * reports a bug by crashing; the driver fails on its own only when a path
 * cannot be read or when no input was found at all, so that a mistyped
 * corpus path does not pass silently.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzzer.h"

/* Reads a whole file into a malloc'd buffer of exactly its size (at least one
 * byte is allocated so that empty inputs still get a valid pointer). */
static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0;
  size_t cap = 0;
  if (!f)
    return -1;
  for (;;) {
    size_t n;
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 4096;
      uint8_t *grown = realloc(buf, ncap);
      if (!grown) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = grown;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    return -1;
  }
  fclose(f);
  /* Shrink to the exact size so that an over-read hits the redzone. */
  *data = malloc(len ? len : 1);
  if (!*data) {
    free(buf);
    return -1;
  }
  if (len)
    memcpy(*data, buf, len);
  free(buf);
  *size = len;
  return 0;
}

static int run_file(const char *path, size_t *count) {
  uint8_t *data;
  size_t size;
  if (read_file(path, &data, &size)) {
    fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  LLVMFuzzerTestOneInput(data, size);
  free(data);
  (*count)++;
  return 0;
}

static int run_directory(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int rc = 0;
  if (!d) {
    fprintf(stderr, "cannot open %s: %s\n", dir, strerror(errno));
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    char *path = malloc(len);
    if (!path) {
      rc = -1;
      break;
    }
    snprintf(path, len, "%s/%s", dir, e->d_name);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path, count))
      rc = -1;
    free(path);
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  size_t count = 0;
  int rc = 0;
  int i;
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "cannot stat %s: %s\n", argv[i], strerror(errno));
      rc = 1;
    } else if (S_ISDIR(st.st_mode)) {
      if (run_directory(argv[i], &count))
        rc = 1;
    } else if (run_file(argv[i], &count)) {
      rc = 1;
    }
  }
  printf("%s: ran %zu inputs\n", argv[0], count);
  if (count == 0) {
    fprintf(stderr, "no inputs found\n");
    rc = 1;
  }
  return rc;
}
