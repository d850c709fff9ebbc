/*
 * upload.c: the connector's upload_data for `powersync sync --upload-url`.
 *
 * Sends whole transactions from the head of the upload queue to the
 * backend in the format of powersync-devserver's upload endpoint:
 *   POST <url>  Authorization: Token <token>  Content-Type: application/json
 *   {"batch":[<entry>,...]}  where each entry is powersync_crud_entry.json
 * and completes them when the backend answers 2xx. Any other outcome is a
 * failure that the SDK retries after the retry delay; its message (status
 * and the start of the body) reaches the sync status and so the terminal.
 * With --until-synced, an answer that retrying cannot change (4xx other
 * than 401, 408 and 429; 401 again with the same token) ends the command,
 * since the sync cannot complete while the writes stay queued.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "sync_app.h"

#define MAX_ENTRIES       1000
#define RESPONSE_MAX      4096
#define CONNECT_TIMEOUT_S 10L
#define REQUEST_TIMEOUT_S 120L

struct response {
  cli_buf body;
};

static size_t on_body(char *data, size_t size, size_t n, void *user_data) {
  struct response *r = user_data;
  if (r->body.len < RESPONSE_MAX)
    cli_buf_append(&r->body, data, size * n);
  return size * n;
}

/* {"batch":[...]} of the batch's entries. */
static int batch_json(const powersync_crud_batch *batch, cli_buf *out) {
  size_t i, n = powersync_crud_batch_count(batch);
  cli_buf_puts(out, "{\"batch\":[");
  for (i = 0; i < n; i++) {
    if (i)
      cli_buf_puts(out, ",");
    cli_buf_puts(out, powersync_crud_batch_entry(batch, i)->json);
  }
  cli_buf_puts(out, "]}");
  return out->failed ? -1 : 0;
}

/* POSTs body; *status gets the HTTP status (0 when no answer), err the
 * transport's message. Returns 0 when an answer arrived. */
static int post_json(const char *url, const char *token, const cli_buf *body,
                     int *status, struct response *resp, char *err,
                     size_t errlen) {
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = NULL, *h;
  char auth[8192], curl_err[CURL_ERROR_SIZE] = "";
  long code = 0;
  CURLcode cc;
  *status = 0;
  if (!curl) {
    snprintf(err, errlen, "libcurl could not start a request");
    return -1;
  }
  snprintf(auth, sizeof(auth), "Authorization: Token %s", token);
  headers = curl_slist_append(NULL, "Content-Type: application/json");
  h = headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
  h = h ? curl_slist_append(h, auth) : NULL;
  if (!h) {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, cli_buf_str(body));
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_S);
  cc = curl_easy_perform(curl);
  if (cc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  else
    snprintf(err, errlen, "%s",
             curl_err[0] ? curl_err : curl_easy_strerror(cc));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  *status = (int)code;
  return cc == CURLE_OK ? 0 : -1;
}

/* The start of a response body on one line, for messages. */
static void body_excerpt(const cli_buf *body, char *out, size_t size) {
  size_t i;
  snprintf(out, size, "%.300s", cli_buf_str(body));
  for (i = 0; out[i]; i++)
    if (out[i] == '\n' || out[i] == '\r' || out[i] == '\t')
      out[i] = ' ';
}

/* Decides whether a rejected upload ends --until-synced. */
static void judge_rejection(struct sync_app *app, int status,
                            const char *message) {
  int hopeless;
  pthread_mutex_lock(&app->mu);
  app->upload_401s = status == 401 ? app->upload_401s + 1 : 0;
  hopeless = (status >= 400 && status < 500 && status != 401 && status != 408 &&
              status != 429) ||
             app->upload_401s >= (app->opt.token ? 2 : 3);
  if (hopeless && !app->opt.follow)
    sync_app_fatal(app, "%s; the writes stay queued (see 'powersync pending')",
                   message);
  pthread_cond_broadcast(&app->cv);
  pthread_mutex_unlock(&app->mu);
}

/* Sends one batch; 0 when the backend accepted it. */
static int send_batch(struct sync_app *app, const powersync_crud_batch *batch) {
  struct response resp;
  cli_buf body = {0};
  char err[512] = "", msg[1024], excerpt[320], *token = NULL;
  int status = 0, rc;
  memset(&resp, 0, sizeof(resp));
  if (batch_json(batch, &body) != 0) {
    cli_buf_free(&body);
    powersync_callback_error("upload: out of memory");
    return POWERSYNC_ENOMEM;
  }
  if (sync_token_for_upload(app, &token, err, sizeof(err)) != 0) {
    snprintf(msg, sizeof(msg), "upload: %s", err);
    rc = POWERSYNC_EAUTH;
  } else if (post_json(app->opt.upload_url, token, &body, &status, &resp, err,
                       sizeof(err)) != 0) {
    snprintf(msg, sizeof(msg), "upload to %s failed: %s", app->opt.upload_url,
             err);
    rc = POWERSYNC_ENETWORK;
  } else if (status < 200 || status >= 300) {
    body_excerpt(&resp.body, excerpt, sizeof(excerpt));
    snprintf(msg, sizeof(msg), "upload to %s rejected: HTTP %d%s%s",
             app->opt.upload_url, status, excerpt[0] ? ": " : "", excerpt);
    if (status == 401)
      sync_token_forget(app);
    judge_rejection(app, status, msg);
    rc = POWERSYNC_EHTTP;
  } else {
    rc = POWERSYNC_OK;
  }
  if (rc != POWERSYNC_OK)
    powersync_callback_error(msg);
  free(token);
  cli_buf_free(&body);
  cli_buf_free(&resp.body);
  return rc;
}

int sync_upload_data(void *user_data, powersync_db *db) {
  struct sync_app *app = user_data;
  powersync_crud_batch *batch = NULL;
  size_t n;
  int rc = powersync_db_crud_transactions(db, MAX_ENTRIES, &batch);
  if (rc != POWERSYNC_OK || !batch) {
    if (rc != POWERSYNC_OK)
      powersync_callback_error(powersync_error_last()->message);
    return rc;
  }
  n = powersync_crud_batch_count(batch);
  rc = send_batch(app, batch);
  if (rc == POWERSYNC_OK) {
    rc = powersync_crud_batch_complete(batch, NULL);
    if (rc != POWERSYNC_OK)
      powersync_callback_error(powersync_error_last()->message);
  }
  powersync_crud_batch_free(batch);
  if (rc == POWERSYNC_OK) {
    pthread_mutex_lock(&app->mu);
    app->upload_401s = 0;
    progress_say(&app->progress, "uploaded %zu write%s", n, n == 1 ? "" : "s");
    pthread_mutex_unlock(&app->mu);
  }
  return rc;
}
