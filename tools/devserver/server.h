/*
 * server.h: powersync-devserver as a library (the executable, the CLI's
 * `powersync demo` and the end-to-end tests all start it this way).
 *
 * A development service, not a production one: HTTP on a loopback address
 * (libmicrohttpd, a thread per connection), speaking the PowerSync protocol
 * (protocol.md 3-9) over a source SQLite database and a sync config:
 *
 *   POST /sync/stream   NDJSON, or BSON when Accept prefers it; gzip when
 *                       Accept-Encoding allows it; checkpoint, then data
 *                       (paged, has_more) per priority with
 *                       partial_checkpoint_complete, checkpoint_complete,
 *                       then checkpoint_diff on every change; keepalive
 *                       token_expires_in every keepalive_s and 20 s before
 *                       exp, 0 then the end at expiry.
 *   GET  /write-checkpoint2.json?client_id=..
 *                       {"data":{"write_checkpoint":"N"}}
 *   GET  /api/auth/token?user_id=..[&expires_in=S]
 *                       a development token: {"token":..,"powersync_url":..}
 *   POST /api/data      the upload endpoint (storage.h batch format),
 *                       authenticated like the others; {"ok":true}
 *   anything else       404 with the service's error JSON.
 *
 * Every authenticated route checks the JWT (jwt.h); failures answer 401
 * with the service's body. One log line per request goes to the log
 * callback (method, path, status, user, duration; never tokens).
 * A replication thread picks up changes to the source (storage.h) every
 * poll_ms and wakes the open streams.
 */
#ifndef PSD_SERVER_H
#define PSD_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct psd_server;

typedef void (*psd_log_fn)(void *user_data, const char *line);

struct psd_server_options {
  const char *source_path;  /* The source SQLite database (created if
                               missing). */
  const char *config_yaml;  /* The sync config text. */
  const char *bind_address; /* NULL: "127.0.0.1". */
  int port;                 /* 0: a free port. */
  const char *jwt_secret;   /* NULL: "powersync-dev-secret". */
  const char *jwt_kid;      /* NULL: "powersync-dev". */
  const char *jwt_audience; /* NULL: "powersync-dev". */
  int token_lifetime_s;     /* Development tokens; 0: 3600. */
  int keepalive_s;          /* 0: 20. */
  int poll_ms;              /* Replication poll; 0: 20. */
  int ops_per_line;         /* Data line size; 0: 1000. */
  psd_log_fn log;           /* NULL: no request log. */
  void *log_user_data;
};

/* Starts the server (loads the config, opens the storage, listens).
 * Returns 0, or -1 with a message in err (bad config naming the line,
 * port in use, ...). */
int psd_server_start(const struct psd_server_options *opts,
                     struct psd_server **out, char *err, size_t errlen);
/* The port actually bound. */
int psd_server_port(const struct psd_server *s);
/* "http://127.0.0.1:<port>" (borrowed). */
const char *psd_server_url(const struct psd_server *s);
/* A development token for user_id valid for lifetime_s (0: the default),
 * signed like /api/auth/token's. Caller frees. */
char *psd_server_token(struct psd_server *s, const char *user_id,
                       int lifetime_s);
/* A development token signed as psd_server_token's would be with opts
 * (only the jwt_* and token_lifetime_s members are read; NULL: defaults),
 * without starting a server: `powersync-devserver token`. Caller frees. */
char *psd_dev_token(const struct psd_server_options *opts, const char *user_id,
                    int lifetime_s);
/* Ends open streams, stops the threads, closes the storage, frees.
 * Accepts NULL. */
void psd_server_stop(struct psd_server *s);

#endif
