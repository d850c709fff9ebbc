/*
 * transport.c: the HTTP transport of `powersync sync`: libcurl's, wrapped
 * so that the tool learns how the service answered each sync request.
 *
 * The SDK retries failed connections forever, which is right for an app
 * but wrong for a command that should say "your token is rejected" and
 * stop. The sync status only carries error text; the HTTP status of each
 * /sync/stream answer, seen here, lets cmd_sync.c tell a rejected token or
 * a wrong endpoint (which retrying cannot fix) from an outage (which it
 * can). Everything else is passed through unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "sync_app.h"

struct watched {
  void *inner;
  struct sync_app *app;
  int is_sync_stream;
};

static int is_hopeless_status(int status) {
  return status >= 400 && status < 500 && status != 401 && status != 408 &&
         status != 429;
}

static void record_sync_answer(struct sync_app *app, int status) {
  pthread_mutex_lock(&app->mu);
  if (status >= 200 && status < 300) {
    app->stream_ok = 1;
    app->stream_401s = 0;
    app->stream_rejected = 0;
  } else if (status == 401) {
    app->stream_401s++;
  } else if (is_hopeless_status(status)) {
    app->stream_rejected = status;
  }
  pthread_cond_broadcast(&app->cv);
  pthread_mutex_unlock(&app->mu);
}

static int w_open(void *user_data, const powersync_http_request *req,
                  void **stream_out) {
  struct sync_app *app = user_data;
  struct watched *w = calloc(1, sizeof(*w));
  int rc;
  *stream_out = NULL;
  if (!w) {
    powersync_callback_error("out of memory");
    return POWERSYNC_ENOMEM;
  }
  w->app = app;
  w->is_sync_stream = req->url && strstr(req->url, "/sync/stream") != NULL;
  rc = app->curl.open(app->curl.user_data, req, &w->inner);
  if (rc != POWERSYNC_OK) {
    free(w);
    return rc;
  }
  *stream_out = w;
  return POWERSYNC_OK;
}

static int w_response(void *stream, powersync_http_response *out) {
  struct watched *w = stream;
  int rc = w->app->curl.response(w->inner, out);
  if (rc == POWERSYNC_OK && w->is_sync_stream)
    record_sync_answer(w->app, out->status);
  return rc;
}

static int w_read(void *stream, void *buf, size_t cap, size_t *n_out) {
  struct watched *w = stream;
  return w->app->curl.read(w->inner, buf, cap, n_out);
}

static void w_wake(void *stream) {
  struct watched *w = stream;
  w->app->curl.wake(w->inner);
}

static void w_close(void *stream) {
  struct watched *w = stream;
  w->app->curl.close(w->inner);
  free(w);
}

int sync_transport_init(struct sync_app *app, powersync_http_transport *out) {
  int rc = powersync_http_transport_curl(&app->curl);
  if (rc != POWERSYNC_OK)
    return rc;
  memset(out, 0, sizeof(*out));
  out->version = POWERSYNC_HTTP_TRANSPORT_VERSION;
  out->user_data = app;
  out->open = w_open;
  out->response = w_response;
  out->read = w_read;
  out->wake = w_wake;
  out->close = w_close;
  return POWERSYNC_OK;
}
