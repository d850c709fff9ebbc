/*
 * dev_connector.c: see dev_connector.h.
 */
#include "dev_connector.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct membuf {
  char *p;
  size_t n;
};

static size_t mem_write(char *p, size_t size, size_t n, void *user_data) {
  struct membuf *m = user_data;
  size_t bytes = size * n;
  char *grown = realloc(m->p, m->n + bytes + 1);
  if (!grown)
    return 0;
  m->p = grown;
  memcpy(m->p + m->n, p, bytes);
  m->n += bytes;
  m->p[m->n] = '\0';
  return bytes;
}

long dev_http_post(const char *url, const char *token, const char *body,
                   char **resp) {
  CURL *h = curl_easy_init();
  struct curl_slist *headers = NULL;
  struct membuf m = {NULL, 0};
  char auth[4096];
  long status = 0;
  *resp = NULL;
  if (!h)
    return 0;
  snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
  headers = curl_slist_append(headers, auth);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mem_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
  if (curl_easy_perform(h) == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  *resp = m.p;
  return status;
}

static char *connector_token(struct dev_connector *c) {
  char *token = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->server)
    token = psd_server_token(c->server, c->user, c->lifetime_s);
  pthread_mutex_unlock(&c->mu);
  return token;
}

static int dev_fetch_credentials(void *user_data, powersync_credentials *out) {
  struct dev_connector *c = user_data;
  char *token = connector_token(c);
  int rc;
  if (!token) {
    powersync_callback_error("the dev server is down");
    return -1;
  }
  pthread_mutex_lock(&c->mu);
  c->fetches++;
  pthread_mutex_unlock(&c->mu);
  rc = powersync_credentials_set(out, c->url, token);
  free(token);
  return rc;
}

/* {"batch":[<entry json>, ...]} of a crud batch, or NULL. */
static char *batch_body(const powersync_crud_batch *b) {
  size_t i, size = 32, used;
  char *body;
  for (i = 0; i < powersync_crud_batch_count(b); i++)
    size += strlen(powersync_crud_batch_entry(b, i)->json) + 1;
  body = malloc(size);
  if (!body)
    return NULL;
  used = (size_t)snprintf(body, size, "{\"batch\":[");
  for (i = 0; i < powersync_crud_batch_count(b); i++)
    used += (size_t)snprintf(body + used, size - used, "%s%s", i ? "," : "",
                             powersync_crud_batch_entry(b, i)->json);
  snprintf(body + used, size - used, "]}");
  return body;
}

static int dev_upload(void *user_data, powersync_db *db) {
  struct dev_connector *c = user_data;
  powersync_crud_batch *b = NULL;
  char url[256], *body, *response = NULL, *token;
  long status;
  int held, rc;
  pthread_mutex_lock(&c->mu);
  held = c->upload_held;
  pthread_mutex_unlock(&c->mu);
  if (held) {
    powersync_callback_error("uploads are held back by the test");
    return -1;
  }
  rc = powersync_db_crud_batch(db, 100, &b);
  if (rc != POWERSYNC_OK || !b)
    return rc;
  token = connector_token(c);
  body = batch_body(b);
  if (!token || !body) {
    free(token);
    free(body);
    powersync_crud_batch_free(b);
    powersync_callback_error("the dev server is down");
    return -1;
  }
  snprintf(url, sizeof(url), "%s/api/data", c->url);
  status = dev_http_post(url, token, body, &response);
  free(token);
  free(body);
  if (status == 200) {
    rc = powersync_crud_batch_complete(b, NULL);
    pthread_mutex_lock(&c->mu);
    c->uploads++;
    pthread_mutex_unlock(&c->mu);
  } else {
    powersync_callback_error(response ? response : "no response");
    rc = -1;
  }
  free(response);
  powersync_crud_batch_free(b);
  return rc;
}

void dev_connector_init(struct dev_connector *c, struct psd_server *server,
                        const char *user, int lifetime_s,
                        powersync_connector *out) {
  memset(c, 0, sizeof(*c));
  pthread_mutex_init(&c->mu, NULL);
  c->server = server;
  snprintf(c->url, sizeof(c->url), "%s", psd_server_url(server));
  snprintf(c->user, sizeof(c->user), "%s", user);
  c->lifetime_s = lifetime_s;
  memset(out, 0, sizeof(*out));
  out->version = POWERSYNC_CONNECTOR_VERSION;
  out->user_data = c;
  out->fetch_credentials = dev_fetch_credentials;
  out->upload_data = dev_upload;
}

void dev_connector_destroy(struct dev_connector *c) {
  pthread_mutex_destroy(&c->mu);
}

void dev_connector_set_server(struct dev_connector *c,
                              struct psd_server *server) {
  pthread_mutex_lock(&c->mu);
  c->server = server;
  pthread_mutex_unlock(&c->mu);
}

void dev_connector_hold_uploads(struct dev_connector *c, int held) {
  pthread_mutex_lock(&c->mu);
  c->upload_held = held;
  pthread_mutex_unlock(&c->mu);
}

int dev_connector_fetches(struct dev_connector *c) {
  int n;
  pthread_mutex_lock(&c->mu);
  n = c->fetches;
  pthread_mutex_unlock(&c->mu);
  return n;
}

int dev_connector_uploads(struct dev_connector *c) {
  int n;
  pthread_mutex_lock(&c->mu);
  n = c->uploads;
  pthread_mutex_unlock(&c->mu);
  return n;
}
