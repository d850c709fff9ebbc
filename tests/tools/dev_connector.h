/*
 * dev_connector.h: a powersync connector backed by powersync-devserver,
 * shared by the tools tests: tokens signed with psd_server_token, uploads
 * POSTed to the server's /api/data as {"batch":[...]}.
 *
 * The callbacks run on SDK threads; every field after mu is guarded by it
 * (tests read fetches/uploads and set server/upload_held through the
 * functions below). The callbacks never use cmocka.
 */
#ifndef PS_TEST_DEV_CONNECTOR_H
#define PS_TEST_DEV_CONNECTOR_H

#include <pthread.h>

#include "powersync.h"
#include "server.h"

struct dev_connector {
  pthread_mutex_t mu;
  struct psd_server *server; /* NULL: no server (tokens fail). */
  char url[128];
  char user[64];
  int lifetime_s;  /* Of the tokens; 0: the server's default. */
  int upload_held; /* Fail uploads, so writes stay pending. */
  int fetches;     /* fetch_credentials calls that got a token. */
  int uploads;     /* Batches the server accepted. */
};

/* Sets c up for user on server and fills *out with its callbacks. */
void dev_connector_init(struct dev_connector *c, struct psd_server *server,
                        const char *user, int lifetime_s,
                        powersync_connector *out);
void dev_connector_destroy(struct dev_connector *c);

/* Points the connector at a (restarted) server, or at none. */
void dev_connector_set_server(struct dev_connector *c,
                              struct psd_server *server);
void dev_connector_hold_uploads(struct dev_connector *c, int held);
int dev_connector_fetches(struct dev_connector *c);
int dev_connector_uploads(struct dev_connector *c);

/* POSTs body as JSON with token (any thread; no cmocka): returns the HTTP
 * status (0: no response) and the body in *resp (caller frees; NULL when
 * there was none). */
long dev_http_post(const char *url, const char *token, const char *body,
                   char **resp);

#endif
