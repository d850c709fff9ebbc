/*
 * main.c: the `powersync` command-line tool: routes `powersync <command>`
 * to the command's function and answers --help and --version itself.
 *
 * Global set-up that must happen before any thread exists lives here:
 * libcurl's global initialisation (the upload client in upload.c uses the
 * easy API; curl_global_init is not thread-safe) and ignoring SIGPIPE, so
 * that `powersync query ... | head` ends quietly and a peer closing a
 * socket cannot kill the process.
 */
#include <curl/curl.h>
#include <signal.h>
#include <string.h>

#include "cli.h"

typedef int (*cli_command_fn)(int argc, char **argv);

struct cli_command {
  const char *name;
  cli_command_fn run;
  const char *summary;
};

static const struct cli_command COMMANDS[] = {
    {"sync", cli_sync, "connect to a PowerSync service and sync the database"},
    {"status", cli_status, "show sync state, buckets and pending uploads"},
    {"query", cli_query, "run a read-only SQL query (table or JSON output)"},
    {"pending", cli_pending, "list local writes waiting for upload"},
    {"exec", cli_exec, "run a local write (queued for upload)"},
    {"demo", cli_demo, "run a local dev server and two synced clients"},
};

#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static void print_usage(FILE *out) {
  size_t i;
  fputs("Usage: powersync <command> [options]\n"
        "       powersync <command> --help\n"
        "       powersync --version\n"
        "\n"
        "A command-line client for PowerSync: syncs a local SQLite database\n"
        "with a PowerSync service and inspects it.\n"
        "\n"
        "Commands:\n",
        out);
  for (i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fputs("\n"
        "Exit status: 0 success, 1 failure, 2 usage error.\n",
        out);
}

static const struct cli_command *find_command(const char *name) {
  size_t i;
  for (i = 0; i < N_COMMANDS; i++)
    if (strcmp(COMMANDS[i].name, name) == 0)
      return &COMMANDS[i];
  return NULL;
}

static void print_version(void) {
  printf("powersync %s (SQLite %s, %s)\n", POWERSYNC_VERSION_STRING,
         sqlite3_libversion(), curl_version());
}

int main(int argc, char **argv) {
  const struct cli_command *cmd;
  int rc;

  if (argc < 2) {
    print_usage(stderr);
    return CLI_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    print_usage(stdout);
    return CLI_OK;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    print_version();
    return CLI_OK;
  }
  cmd = find_command(argv[1]);
  if (!cmd) {
    if (argv[1][0] == '-')
      return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
    return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
  }

  signal(SIGPIPE, SIG_IGN);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return cli_error("libcurl initialisation failed");
  rc = cmd->run(argc - 1, argv + 1);
  curl_global_cleanup();
  return rc;
}
