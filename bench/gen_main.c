/*
 * gen_main.c: psbench-gen, writes a synthetic sync stream to a file.
 *
 * Usage:
 *
 *   psbench-gen --format ndjson|bson --out FILE [--rows N] [--buckets B]
 *               [--batch OPS_PER_LINE] [--row-size BYTES] [--rounds K]
 *               [--seed S]
 *
 * The same options given to psbench-driver let it rebuild and check the rows
 * (gen.h describes the stream).
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

static void usage(void) {
  fprintf(stderr,
          "usage: psbench-gen --format ndjson|bson --out FILE [--rows N]\n"
          "         [--buckets B] [--batch OPS] [--row-size BYTES]\n"
          "         [--rounds K] [--seed S]\n");
}

int main(int argc, char **argv) {
  struct bench_config cfg;
  const char *format = NULL, *out = NULL;
  bench_config_defaults(&cfg);

  for (int i = 1; i < argc; i += 2) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    if (strncmp(arg, "--", 2) != 0) {
      usage();
      return 2;
    }
    if (strcmp(arg, "--format") == 0 && value) {
      format = value;
    } else if (strcmp(arg, "--out") == 0 && value) {
      out = value;
    } else {
      int r = bench_config_option(&cfg, arg + 2, value);
      if (r < 0)
        return 2;
      if (r == 0) {
        usage();
        return 2;
      }
    }
  }
  if (!format || !out ||
      (strcmp(format, "ndjson") != 0 && strcmp(format, "bson") != 0)) {
    usage();
    return 2;
  }
  if (bench_config_check(&cfg) != 0)
    return 2;

  FILE *f = fopen(out, "wb");
  if (!f) {
    perror(out);
    return 1;
  }
  static char iobuf[1 << 20];
  setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
  int rc = bench_write_stream(&cfg, strcmp(format, "bson") == 0, f);
  if (fclose(f) != 0)
    rc = -1;
  if (rc != 0) {
    fprintf(stderr, "%s: write failed\n", out);
    remove(out);
    return 1;
  }
  return 0;
}
