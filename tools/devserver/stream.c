/*
 * stream.c: see stream.h. The protocol side of one sync stream:
 *
 *   request body -> positions, parameters, subscriptions
 *   checkpoint   -> bucket set (sync_config.h, evaluated under the storage
 *                   lock), checksums at the head, write checkpoint, streams
 *   output       -> checkpoint or checkpoint_diff, then data pages grouped
 *                   by priority with partial_checkpoint_complete between
 *                   groups and checkpoint_complete at the end
 *   idle         -> wait for the storage; keepalives; token expiry
 *
 * Line shapes and key order follow the real service's transcripts
 * (tests/differential/fixtures/real-service): bucket checksums in
 * checkpoint lines are the signed 32-bit view of the sum, op checksums are
 * unsigned, op ids are decimal strings, and with raw_data an op's data is
 * a JSON string.
 *
 * The stream owns everything it refers to after psd_stream_create (the
 * request arena is freed there), so its lifetime is simply the response's.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#define ZLIB_CONST

#include "stream.h"

#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "codec.h"
#include "core/json.h"
#include "util/arena.h"
#include "util/buf.h"

/* Longest uninterrupted wait: how quickly a stream notices the server
 * stopping or its client leaving. */
#define WAIT_SLICE_MS 100
/* The service warns this long before the token expires (protocol.md
 * 5.8, tokenStream in the service's sync/util.ts). */
#define EXPIRY_WARNING_MS 20000
/* A consistent checkpoint needs the head unchanged across its evaluation;
 * replication is quick, so a few retries always suffice in practice. */
#define MAX_CHECKPOINT_ATTEMPTS 50
/* Request bodies are small; this bounds a hostile one. */
#define MAX_REQUEST_ARENA (64u * 1024 * 1024)

/* --- Small helpers ----------------------------------------------------------
 */

static char *dup_str(const char *s) {
  size_t n;
  char *d;
  if (!s)
    return NULL;
  n = strlen(s) + 1;
  d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put_json_string(struct ps__buf *b, const char *s) {
  ps__json_write_string(b, s, strlen(s));
}

/* An op id as the protocol writes it: a decimal string. */
static void put_op_id(struct ps__buf *b, int64_t id) {
  ps__buf_printf(b, "\"%lld\"", (long long)id);
}

/* --- Name index -------------------------------------------------------------
 * Bucket sets are looked up by name on every checkpoint; an open-addressing
 * table keeps that linear in the number of buckets (the service allows
 * 1000 per connection). Names are borrowed from the indexed entries.
 */

struct name_slot {
  const char *name; /* NULL: empty. */
  size_t idx;
};

struct name_index {
  struct name_slot *slots;
  size_t cap; /* 0 or a power of two. */
  size_t count;
};

static uint64_t hash_name(const char *s) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  while (*s) {
    h ^= (unsigned char)*s++;
    h *= 1099511628211ull;
  }
  return h;
}

static void index_free(struct name_index *ix) {
  free(ix->slots);
  memset(ix, 0, sizeof(*ix));
}

static void index_insert_slot(struct name_slot *slots, size_t cap,
                              const char *name, size_t idx) {
  size_t i = (size_t)hash_name(name) & (cap - 1);
  while (slots[i].name)
    i = (i + 1) & (cap - 1);
  slots[i].name = name;
  slots[i].idx = idx;
}

/* Adds name -> idx (name must not be present). Returns 0 or -1 (no
 * memory). */
static int index_put(struct name_index *ix, const char *name, size_t idx) {
  if ((ix->count + 1) * 2 > ix->cap) {
    size_t cap = ix->cap ? ix->cap * 2 : 16, i;
    struct name_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
      return -1;
    for (i = 0; i < ix->cap; i++)
      if (ix->slots[i].name)
        index_insert_slot(slots, cap, ix->slots[i].name, ix->slots[i].idx);
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
  }
  index_insert_slot(ix->slots, ix->cap, name, idx);
  ix->count++;
  return 0;
}

/* Returns 1 with *idx when name is present, else 0. */
static int index_get(const struct name_index *ix, const char *name,
                     size_t *idx) {
  size_t i;
  if (!ix->cap)
    return 0;
  for (i = (size_t)hash_name(name) & (ix->cap - 1); ix->slots[i].name;
       i = (i + 1) & (ix->cap - 1)) {
    if (strcmp(ix->slots[i].name, name) == 0) {
      *idx = ix->slots[i].idx;
      return 1;
    }
  }
  return 0;
}

/* --- Checkpoints ------------------------------------------------------------
 */

struct ckpt_bucket {
  char *name;
  uint32_t checksum;
  int64_t count;
  int priority;
  struct ps__buf subs; /* Elements of "subscriptions", comma-separated. */
  int64_t position;    /* Last op id the client has of this bucket. */
};

/* The state of the user's buckets at one head, as last described to the
 * client. */
struct ckpt {
  int64_t head;
  int64_t write_checkpoint; /* 0: none. */
  struct ckpt_bucket *buckets;
  size_t count, cap;
  struct name_index index;
  char *streams_json; /* The checkpoint's "streams" array. */
};

static void ckpt_free(struct ckpt *ck) {
  size_t i;
  if (!ck)
    return;
  for (i = 0; i < ck->count; i++) {
    free(ck->buckets[i].name);
    ps__buf_free(&ck->buckets[i].subs);
  }
  free(ck->buckets);
  index_free(&ck->index);
  free(ck->streams_json);
  free(ck);
}

static struct ckpt_bucket *ckpt_find(const struct ckpt *ck, const char *name) {
  size_t idx;
  return index_get(&ck->index, name, &idx) ? &ck->buckets[idx] : NULL;
}

/* Adds a bucket (not yet present). Returns it, or NULL (no memory). */
static struct ckpt_bucket *ckpt_add(struct ckpt *ck, const char *name,
                                    int priority) {
  struct ckpt_bucket *b;
  if (ck->count == ck->cap) {
    size_t cap = ck->cap ? ck->cap * 2 : 8;
    struct ckpt_bucket *grown = realloc(ck->buckets, cap * sizeof(*grown));
    if (!grown)
      return NULL;
    ck->buckets = grown;
    ck->cap = cap;
  }
  b = &ck->buckets[ck->count];
  memset(b, 0, sizeof(*b));
  b->name = dup_str(name);
  if (!b->name || index_put(&ck->index, b->name, ck->count) != 0) {
    free(b->name);
    return NULL;
  }
  b->priority = priority;
  ps__buf_init(&b->subs, PS_BUF_DEFAULT_MAX);
  ck->count++;
  return b;
}

/* A bucket as checkpoint lines describe it. */
static void put_bucket_desc(struct ps__buf *out, const struct ckpt_bucket *b) {
  ps__buf_puts(out, "{\"bucket\":");
  put_json_string(out, b->name);
  ps__buf_printf(out,
                 ",\"checksum\":%ld,\"count\":%lld,\"priority\":%d,"
                 "\"subscriptions\":[%s]}",
                 (long)(int32_t)b->checksum, (long long)b->count, b->priority,
                 ps__buf_cstr(&b->subs));
}

static int bucket_changed(const struct ckpt_bucket *was,
                          const struct ckpt_bucket *now) {
  return was->checksum != now->checksum || was->count != now->count ||
         was->priority != now->priority ||
         strcmp(ps__buf_cstr(&was->subs), ps__buf_cstr(&now->subs)) != 0;
}

/* --- The stream -------------------------------------------------------------
 */

struct stream_sub {
  char *stream;
  char *params_json; /* NULL: none. */
  int override_priority;
};

struct request_position {
  char *name;
  int64_t after;
};

/* A bucket to send data for, in send order. */
struct fetch_item {
  int priority;
  size_t bucket; /* Index in the current checkpoint. */
};

struct psd_stream {
  const struct psd_stream_env *env;
  struct psd_stream_format format;
  int fd; /* The client's socket, -1: unknown. */

  /* The request. */
  char *user_id;
  char *jwt_payload;
  int64_t exp_ms;
  char *client_id; /* "" when the request has none. */
  char *params_json;
  int raw_data;
  int include_defaults;
  struct stream_sub *subs;
  size_t sub_count;
  struct request_position *positions; /* The request's buckets. */
  size_t position_count;
  struct name_index position_index;

  /* Protocol state. */
  uint64_t gen;          /* Storage generation last looked at. */
  struct ckpt *current;  /* Last checkpoint described; NULL before the
                            first. */
  struct ps__buf header; /* checkpoint / checkpoint_diff not yet sent. */
  struct fetch_item *fetch;
  size_t fetch_count, fetch_pos;
  int active;           /* Sending the current checkpoint's lines. */
  int completion_due;   /* partial_checkpoint_complete before the next
                           bucket. */
  int64_t token_due_ms; /* When the next token_expires_in line is due. */

  /* Output. */
  struct ps__buf line;  /* The line being generated (JSON). */
  struct ps__buf plain; /* Encoded, not yet compressed bytes. */
  struct ps__buf out;   /* Bytes for libmicrohttpd. */
  size_t out_off;
  z_stream z;
  int z_ready;
  int ending;   /* The last line has been generated. */
  int finished; /* Everything is in out; then end. */
  int failed;   /* End with an error (client gone, storage failure). */
};

static void stream_log(struct psd_stream *st, const char *fmt, ...)
    PS_PRINTF(2, 3);

static void stream_log(struct psd_stream *st, const char *fmt, ...) {
  char line[512];
  va_list ap;
  if (!st->env->log)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  st->env->log(st->env->log_user_data, line);
}

void psd_stream_free(void *cls) {
  struct psd_stream *st = cls;
  size_t i;
  if (!st)
    return;
  free(st->user_id);
  free(st->jwt_payload);
  free(st->client_id);
  free(st->params_json);
  for (i = 0; i < st->sub_count; i++) {
    free(st->subs[i].stream);
    free(st->subs[i].params_json);
  }
  free(st->subs);
  for (i = 0; i < st->position_count; i++)
    free(st->positions[i].name);
  free(st->positions);
  index_free(&st->position_index);
  ckpt_free(st->current);
  ps__buf_free(&st->header);
  free(st->fetch);
  ps__buf_free(&st->line);
  ps__buf_free(&st->plain);
  ps__buf_free(&st->out);
  if (st->z_ready)
    deflateEnd(&st->z);
  free(st);
}

void psd_stream_set_socket(struct psd_stream *st, int fd) { st->fd = fd; }

/* --- Request parsing --------------------------------------------------------
 */

/* A JSON value as text (parameters objects), or NULL for null/absent. */
static int json_text(const struct ps__json_value *v, char **out) {
  struct ps__buf b;
  *out = NULL;
  if (!v || v->type == PS_JSON_NULL)
    return 0;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__json_write(&b, v, 0);
  *out = ps__buf_take(&b);
  ps__buf_free(&b);
  return *out ? 0 : -1;
}

/* An op id given as a decimal string (or, leniently, a JSON integer). */
static int parse_op_id(const struct ps__json_value *v, int64_t *out) {
  char *end = NULL;
  long long n;
  if (v && v->type == PS_JSON_INT) {
    *out = v->as.i;
    return 0;
  }
  if (!v || v->type != PS_JSON_STRING || v->as.str.len == 0)
    return -1;
  n = strtoll(v->as.str.ptr, &end, 10);
  if (*end != '\0')
    return -1;
  *out = n;
  return 0;
}

static int parse_positions(struct psd_stream *st,
                           const struct ps__json_value *buckets, char *err,
                           size_t errlen) {
  size_t i;
  if (!buckets || buckets->type == PS_JSON_NULL)
    return 0;
  if (buckets->type != PS_JSON_ARRAY) {
    snprintf(err, errlen, "\"buckets\" must be an array");
    return -1;
  }
  st->positions = calloc(buckets->as.arr.count + 1, sizeof(*st->positions));
  if (!st->positions)
    goto nomem;
  for (i = 0; i < buckets->as.arr.count; i++) {
    const struct ps__json_value *b = buckets->as.arr.items[i];
    const struct ps__json_value *name = ps__json_get(b, "name");
    struct request_position *p = &st->positions[st->position_count];
    size_t existing;
    if (!name || name->type != PS_JSON_STRING ||
        parse_op_id(ps__json_get(b, "after"), &p->after) != 0) {
      snprintf(err, errlen,
               "buckets[%zu] must be {\"name\": string, \"after\": op id}", i);
      return -1;
    }
    if (index_get(&st->position_index, name->as.str.ptr, &existing)) {
      st->positions[existing].after = p->after;
      continue;
    }
    p->name = dup_str(name->as.str.ptr);
    if (!p->name ||
        index_put(&st->position_index, p->name, st->position_count) != 0) {
      free(p->name);
      p->name = NULL;
      goto nomem;
    }
    st->position_count++;
  }
  return 0;
nomem:
  snprintf(err, errlen, "out of memory");
  return -1;
}

static int parse_subscription(struct stream_sub *sub,
                              const struct ps__json_value *v, size_t i,
                              char *err, size_t errlen) {
  const struct ps__json_value *name = ps__json_get(v, "stream");
  const struct ps__json_value *params = ps__json_get(v, "parameters");
  const struct ps__json_value *prio = ps__json_get(v, "override_priority");
  sub->override_priority = -1;
  if (!name || name->type != PS_JSON_STRING) {
    snprintf(err, errlen, "streams.subscriptions[%zu].stream must be a string",
             i);
    return -1;
  }
  if (params && params->type != PS_JSON_NULL &&
      params->type != PS_JSON_OBJECT) {
    snprintf(err, errlen,
             "streams.subscriptions[%zu].parameters must be an object", i);
    return -1;
  }
  if (prio && prio->type != PS_JSON_NULL) {
    if (prio->type != PS_JSON_INT || prio->as.i < 0 || prio->as.i > 3) {
      snprintf(err, errlen,
               "streams.subscriptions[%zu].override_priority must be 0..3", i);
      return -1;
    }
    sub->override_priority = (int)prio->as.i;
  }
  sub->stream = dup_str(name->as.str.ptr);
  if (!sub->stream || json_text(params, &sub->params_json) != 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static int parse_streams(struct psd_stream *st,
                         const struct ps__json_value *streams, char *err,
                         size_t errlen) {
  const struct ps__json_value *defaults, *subs;
  size_t i;
  st->include_defaults = 1;
  if (!streams || streams->type == PS_JSON_NULL)
    return 0;
  if (streams->type != PS_JSON_OBJECT) {
    snprintf(err, errlen, "\"streams\" must be an object");
    return -1;
  }
  defaults = ps__json_get(streams, "include_defaults");
  if (defaults && defaults->type == PS_JSON_FALSE)
    st->include_defaults = 0;
  subs = ps__json_get(streams, "subscriptions");
  if (!subs || subs->type == PS_JSON_NULL)
    return 0;
  if (subs->type != PS_JSON_ARRAY) {
    snprintf(err, errlen, "streams.subscriptions must be an array");
    return -1;
  }
  st->subs = calloc(subs->as.arr.count + 1, sizeof(*st->subs));
  if (!st->subs) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (i = 0; i < subs->as.arr.count; i++) {
    st->sub_count = i + 1;
    if (parse_subscription(&st->subs[i], subs->as.arr.items[i], i, err,
                           errlen) != 0)
      return -1;
  }
  return 0;
}

static int parse_request(struct psd_stream *st, const char *body, size_t len,
                         char *err, size_t errlen) {
  struct ps__arena arena;
  const struct ps__json_value *root, *client_id, *raw;
  char perr[160];
  int rc = -1;
  size_t i;
  for (i = 0; i < len && strchr(" \t\r\n", body[i]); i++)
    ;
  if (i == len) /* An empty body is an empty request. */
    body = "{}", len = 2;
  ps__arena_init(&arena, MAX_REQUEST_ARENA);
  root = ps__json_parse(&arena, body, len, perr, sizeof(perr));
  if (!root) {
    snprintf(err, errlen, "invalid JSON body: %s", perr);
    goto done;
  }
  if (root->type != PS_JSON_OBJECT) {
    snprintf(err, errlen, "the request body must be a JSON object");
    goto done;
  }
  client_id = ps__json_get(root, "client_id");
  if (client_id && client_id->type != PS_JSON_NULL &&
      client_id->type != PS_JSON_STRING) {
    snprintf(err, errlen, "\"client_id\" must be a string");
    goto done;
  }
  raw = ps__json_get(root, "raw_data");
  st->raw_data = raw && raw->type == PS_JSON_TRUE;
  {
    const struct ps__json_value *params = ps__json_get(root, "parameters");
    if (params && params->type != PS_JSON_NULL &&
        params->type != PS_JSON_OBJECT) {
      snprintf(err, errlen, "\"parameters\" must be an object");
      goto done;
    }
    if (json_text(params, &st->params_json) != 0)
      goto nomem;
  }
  st->client_id = dup_str(client_id && client_id->type == PS_JSON_STRING
                              ? client_id->as.str.ptr
                              : "");
  if (!st->client_id)
    goto nomem;
  if (parse_positions(st, ps__json_get(root, "buckets"), err, errlen) != 0 ||
      parse_streams(st, ps__json_get(root, "streams"), err, errlen) != 0)
    goto done;
  rc = 0;
  goto done;
nomem:
  snprintf(err, errlen, "out of memory");
done:
  ps__arena_free(&arena);
  return rc;
}

int psd_stream_create(const struct psd_stream_env *env,
                      const struct psd_jwt_claims *claims, const char *body,
                      size_t len, struct psd_stream_format format,
                      struct psd_stream **out, char *err, size_t errlen) {
  struct psd_stream *st = calloc(1, sizeof(*st));
  *out = NULL;
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  st->env = env;
  st->format = format;
  st->fd = -1;
  ps__buf_init(&st->header, PS_BUF_DEFAULT_MAX);
  ps__buf_init(&st->line, PS_BUF_DEFAULT_MAX);
  ps__buf_init(&st->plain, PS_BUF_DEFAULT_MAX);
  ps__buf_init(&st->out, PS_BUF_DEFAULT_MAX);
  st->user_id = dup_str(claims->sub);
  st->jwt_payload = dup_str(claims->payload_json ? claims->payload_json : "{}");
  st->exp_ms = claims->exp * 1000;
  if (!st->user_id || !st->jwt_payload) {
    snprintf(err, errlen, "out of memory");
    psd_stream_free(st);
    return -1;
  }
  if (parse_request(st, body, len, err, errlen) != 0) {
    psd_stream_free(st);
    return -1;
  }
  if (format.gzip) {
    /* windowBits 15 + 16: a gzip wrapper, as Content-Encoding: gzip
     * needs. */
    if (deflateInit2(&st->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      snprintf(err, errlen, "out of memory");
      psd_stream_free(st);
      return -1;
    }
    st->z_ready = 1;
  }
  *out = st;
  return 0;
}

/* --- Evaluating a checkpoint ------------------------------------------------
 */

/* One entry of the checkpoint's streams list being built. */
struct stream_entry {
  const char *name;
  int is_default;
  int list_index; /* Position in "streams"; -1: not listed. */
  struct ps__buf errors;
};

struct eval_ctx {
  struct psd_stream *st;
  struct ckpt *ck;
  struct stream_entry *streams;
  size_t stream_count;
  int nomem;
};

static struct stream_entry *find_stream(struct eval_ctx *ctx,
                                        const char *name) {
  size_t i;
  for (i = 0; i < ctx->stream_count; i++)
    if (strcmp(ctx->streams[i].name, name) == 0)
      return &ctx->streams[i];
  return NULL;
}

static int explicitly_subscribed(const struct psd_stream *st,
                                 const char *name) {
  size_t i;
  for (i = 0; i < st->sub_count; i++)
    if (strcmp(st->subs[i].stream, name) == 0)
      return 1;
  return 0;
}

/* The streams list (protocol.md 5.6): in config order, every default
 * definition when defaults are included, and every explicitly subscribed
 * one (BucketChecksumState in the service). */
static int list_streams(struct eval_ctx *ctx) {
  const struct psd_sync_config *cfg = ctx->st->env->cfg;
  size_t i, n = psd_sync_config_stream_count(cfg);
  int listed = 0;
  ctx->streams = calloc(n + 1, sizeof(*ctx->streams));
  if (!ctx->streams)
    return -1;
  ctx->stream_count = n;
  for (i = 0; i < n; i++) {
    struct stream_entry *e = &ctx->streams[i];
    e->name = psd_sync_config_stream_name(cfg, i);
    e->is_default = psd_sync_config_stream_is_default(cfg, i);
    ps__buf_init(&e->errors, PS_BUF_DEFAULT_MAX);
    if ((e->is_default && ctx->st->include_defaults) ||
        explicitly_subscribed(ctx->st, e->name))
      e->list_index = listed++;
    else
      e->list_index = -1;
  }
  return 0;
}

static void free_streams(struct eval_ctx *ctx) {
  size_t i;
  for (i = 0; i < ctx->stream_count; i++)
    ps__buf_free(&ctx->streams[i].errors);
  free(ctx->streams);
}

/* Appends element to a comma-separated list unless it is there already. */
static void add_list_element(struct ps__buf *list, const char *element) {
  const char *s = ps__buf_cstr(list);
  size_t n = strlen(element);
  const char *hit;
  for (hit = strstr(s, element); hit; hit = strstr(hit + 1, element))
    if ((hit == s || hit[-1] == ',') && (hit[n] == '\0' || hit[n] == ','))
      return;
  if (list->len)
    ps__buf_putc(list, ',');
  ps__buf_puts(list, element);
}

static int on_bucket(void *user_data, const char *bucket_id, int priority,
                     const char *stream, int is_default, int subscription) {
  struct eval_ctx *ctx = user_data;
  struct ckpt_bucket *b = ckpt_find(ctx->ck, bucket_id);
  char ref[48];
  if (!b) {
    b = ckpt_add(ctx->ck, bucket_id, priority);
    if (!b) {
      ctx->nomem = 1;
      return 1;
    }
  } else if (priority < b->priority) {
    b->priority = priority;
  }
  ref[0] = '\0';
  if (is_default) {
    struct stream_entry *e = find_stream(ctx, stream);
    if (e && e->list_index >= 0)
      snprintf(ref, sizeof(ref), "{\"default\":%d}", e->list_index);
  } else if (subscription >= 0) {
    snprintf(ref, sizeof(ref), "{\"sub\":%d}", subscription);
  }
  if (ref[0])
    add_list_element(&b->subs, ref);
  return ps__buf_failed(&b->subs) ? (ctx->nomem = 1) : 0;
}

static int on_stream_error(void *user_data, const char *stream,
                           int subscription, const char *message) {
  struct eval_ctx *ctx = user_data;
  struct stream_entry *e = find_stream(ctx, stream);
  if (!e || e->list_index < 0) /* Unknown streams are simply left out. */
    return 0;
  if (e->errors.len)
    ps__buf_putc(&e->errors, ',');
  if (subscription < 0)
    ps__buf_puts(&e->errors, "{\"subscription\":\"default\",\"message\":");
  else
    ps__buf_printf(&e->errors,
                   "{\"subscription\":%d,\"message\":", subscription);
  put_json_string(&e->errors, message);
  ps__buf_putc(&e->errors, '}');
  return 0;
}

static char *streams_json(const struct eval_ctx *ctx) {
  struct ps__buf b;
  size_t i;
  int first = 1;
  char *result;
  ps__buf_init(&b, PS_BUF_DEFAULT_MAX);
  ps__buf_putc(&b, '[');
  for (i = 0; i < ctx->stream_count; i++) {
    const struct stream_entry *e = &ctx->streams[i];
    if (e->list_index < 0)
      continue;
    if (!first)
      ps__buf_putc(&b, ',');
    first = 0;
    ps__buf_puts(&b, "{\"name\":");
    put_json_string(&b, e->name);
    ps__buf_printf(&b, ",\"is_default\":%s,\"errors\":[%s]}",
                   e->is_default ? "true" : "false", ps__buf_cstr(&e->errors));
  }
  ps__buf_putc(&b, ']');
  result = ps__buf_take(&b);
  ps__buf_free(&b);
  return result;
}

/* Evaluates the bucket set, checksums and write checkpoint; the caller
 * holds the storage lock. */
static int evaluate_locked(struct psd_stream *st, struct ckpt *ck,
                           int64_t head) {
  struct psd_storage *storage = st->env->storage;
  struct psd_subscription *subs = NULL;
  struct psd_request req;
  struct eval_ctx ctx;
  char err[256];
  size_t i;
  int rc = -1;
  memset(&ctx, 0, sizeof(ctx));
  ctx.st = st;
  ctx.ck = ck;
  subs = calloc(st->sub_count + 1, sizeof(*subs));
  if (!subs || list_streams(&ctx) != 0)
    goto nomem;
  for (i = 0; i < st->sub_count; i++) {
    subs[i].stream = st->subs[i].stream;
    subs[i].params_json = st->subs[i].params_json;
    subs[i].override_priority = st->subs[i].override_priority;
  }
  memset(&req, 0, sizeof(req));
  req.user_id = st->user_id;
  req.jwt_payload_json = st->jwt_payload;
  req.params_json = st->params_json;
  req.include_defaults = st->include_defaults;
  req.subscriptions = subs;
  req.subscription_count = st->sub_count;
  err[0] = '\0';
  if (psd_sync_config_request_buckets(st->env->cfg, psd_storage_db(storage),
                                      &req, on_bucket, on_stream_error, &ctx,
                                      err, sizeof(err)) != 0) {
    if (ctx.nomem)
      goto nomem;
    stream_log(st, "sync stream of user %s: %s", st->user_id, err);
    goto done;
  }
  for (i = 0; i < ck->count; i++) {
    if (psd_storage_bucket_state_locked(storage, ck->buckets[i].name,
                                        &ck->buckets[i].checksum,
                                        &ck->buckets[i].count) != 0) {
      stream_log(st, "sync stream of user %s: cannot read bucket %s",
                 st->user_id, ck->buckets[i].name);
      goto done;
    }
  }
  ck->write_checkpoint = psd_storage_write_checkpoint_locked(
      storage, st->user_id, st->client_id, head);
  ck->streams_json = streams_json(&ctx);
  if (!ck->streams_json)
    goto nomem;
  rc = 0;
  goto done;
nomem:
  stream_log(st, "sync stream of user %s: out of memory", st->user_id);
done:
  free_streams(&ctx);
  free(subs);
  return rc;
}

/* A checkpoint at one head: the head must be the same before and after
 * the evaluation, or checksums could include ops past last_op_id (the
 * head only grows, so equal values mean it did not move in between). */
static struct ckpt *evaluate(struct psd_stream *st) {
  struct psd_storage *storage = st->env->storage;
  int attempt;
  for (attempt = 0;; attempt++) {
    int64_t before = psd_storage_head(storage), after;
    struct ckpt *ck = calloc(1, sizeof(*ck));
    int rc;
    if (!ck)
      return NULL;
    psd_storage_lock(storage);
    rc = evaluate_locked(st, ck, before);
    psd_storage_unlock(storage);
    after = psd_storage_head(storage);
    if (rc != 0) {
      ckpt_free(ck);
      return NULL;
    }
    if (before == after || attempt + 1 >= MAX_CHECKPOINT_ATTEMPTS) {
      ck->head = before;
      return ck;
    }
    ckpt_free(ck);
  }
}

/* --- Starting a checkpoint's output -----------------------------------------
 */

static int compare_fetch(const void *a, const void *b) {
  const struct fetch_item *x = a, *y = b;
  if (x->priority != y->priority)
    return x->priority < y->priority ? -1 : 1;
  return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

/* Positions carry over from the previous checkpoint; the first one takes
 * them from the request. Buckets new to the client start at 0. */
static void carry_positions(struct psd_stream *st, struct ckpt *ck) {
  size_t i, idx;
  for (i = 0; i < ck->count; i++) {
    struct ckpt_bucket *b = &ck->buckets[i];
    if (st->current) {
      const struct ckpt_bucket *was = ckpt_find(st->current, b->name);
      b->position = was ? was->position : 0;
    } else if (index_get(&st->position_index, b->name, &idx)) {
      b->position = st->positions[idx].after;
    }
  }
}

static void put_checkpoint_head(struct ps__buf *out, const char *kind,
                                const struct ckpt *ck) {
  ps__buf_printf(out, "{\"%s\":{\"last_op_id\":", kind);
  put_op_id(out, ck->head);
  if (ck->write_checkpoint > 0) {
    ps__buf_puts(out, ",\"write_checkpoint\":");
    put_op_id(out, ck->write_checkpoint);
  }
}

/* Builds the header line and the fetch list of a new checkpoint; returns
 * 1 when there is something to send, 0 when nothing changed, -1 when out
 * of memory. Takes ownership of ck. */
static int begin_checkpoint(struct psd_stream *st, struct ckpt *ck) {
  const struct ckpt *was = st->current;
  size_t i, n = 0;
  int changed = !was || was->write_checkpoint != ck->write_checkpoint;
  int first = 1;
  carry_positions(st, ck);
  free(st->fetch);
  st->fetch = calloc(ck->count + 1, sizeof(*st->fetch));
  if (!st->fetch) {
    ckpt_free(ck);
    return -1;
  }
  ps__buf_reset(&st->header);
  if (!was) {
    put_checkpoint_head(&st->header, "checkpoint", ck);
    ps__buf_puts(&st->header, ",\"buckets\":[");
  } else {
    put_checkpoint_head(&st->header, "checkpoint_diff", ck);
    ps__buf_puts(&st->header, ",\"removed_buckets\":[");
    for (i = 0; i < was->count; i++) {
      if (ckpt_find(ck, was->buckets[i].name))
        continue;
      if (!first)
        ps__buf_putc(&st->header, ',');
      first = 0;
      changed = 1;
      put_json_string(&st->header, was->buckets[i].name);
    }
    ps__buf_puts(&st->header, "],\"updated_buckets\":[");
    first = 1;
  }
  for (i = 0; i < ck->count; i++) {
    const struct ckpt_bucket *b = &ck->buckets[i];
    const struct ckpt_bucket *old = was ? ckpt_find(was, b->name) : NULL;
    if (was && old && !bucket_changed(old, b))
      continue;
    if (!first)
      ps__buf_putc(&st->header, ',');
    first = 0;
    changed = 1;
    put_bucket_desc(&st->header, b);
    st->fetch[n].priority = b->priority;
    st->fetch[n].bucket = i;
    n++;
  }
  if (!was)
    ps__buf_printf(&st->header, "],\"streams\":%s}}", ck->streams_json);
  else
    ps__buf_puts(&st->header, "]}}");
  if (!changed) {
    ps__buf_reset(&st->header);
    ckpt_free(ck);
    return 0;
  }
  if (ps__buf_failed(&st->header)) {
    ckpt_free(ck);
    return -1;
  }
  qsort(st->fetch, n, sizeof(*st->fetch), compare_fetch);
  st->fetch_count = n;
  st->fetch_pos = 0;
  st->completion_due = 0;
  ckpt_free(st->current);
  st->current = ck;
  st->active = 1;
  return 1;
}

/* Evaluates and, when something changed, starts sending. Returns 1
 * (active now), 0 (nothing to send) or -1. */
static int refresh(struct psd_stream *st) {
  struct ckpt *ck = evaluate(st);
  int rc;
  if (!ck)
    return -1;
  rc = begin_checkpoint(st, ck);
  if (rc < 0)
    stream_log(st, "sync stream of user %s: out of memory", st->user_id);
  return rc;
}

/* --- Generating lines -------------------------------------------------------
 */

struct page {
  struct ps__buf *ops;
  int raw_data;
  size_t n;
  int64_t last;
};

static void put_op(struct ps__buf *b, const struct psd_op *op, int raw_data) {
  ps__buf_puts(b, "{\"op_id\":");
  put_op_id(b, op->op_id);
  ps__buf_puts(b, ",\"op\":");
  put_json_string(b, op->op);
  if (op->object_type) {
    ps__buf_puts(b, ",\"object_type\":");
    put_json_string(b, op->object_type);
  }
  if (op->object_id) {
    ps__buf_puts(b, ",\"object_id\":");
    put_json_string(b, op->object_id);
  }
  ps__buf_printf(b, ",\"checksum\":%lu", (unsigned long)op->checksum);
  if (op->subkey) {
    ps__buf_puts(b, ",\"subkey\":");
    put_json_string(b, op->subkey);
  }
  ps__buf_puts(b, ",\"data\":");
  if (!op->data)
    ps__buf_puts(b, "null");
  else if (raw_data)
    put_json_string(b, op->data);
  else /* Old clients: the row as a nested object. */
    ps__buf_puts(b, op->data);
  ps__buf_putc(b, '}');
}

static int on_op(void *user_data, const struct psd_op *op) {
  struct page *p = user_data;
  if (p->n++)
    ps__buf_putc(p->ops, ',');
  put_op(p->ops, op, p->raw_data);
  p->last = op->op_id;
  return ps__buf_failed(p->ops) ? 1 : 0;
}

/* Advances to the next bucket to fetch, noting a priority boundary. */
static void next_fetch(struct psd_stream *st) {
  st->fetch_pos++;
  if (st->fetch_pos < st->fetch_count &&
      st->fetch[st->fetch_pos].priority !=
          st->fetch[st->fetch_pos - 1].priority)
    st->completion_due = 1;
}

/* Reads the next page of the current bucket into st->line. Returns 1 (a
 * line), 0 (the bucket had nothing more) or -1. */
static int data_page(struct psd_stream *st) {
  struct ckpt_bucket *b =
      &st->current->buckets[st->fetch[st->fetch_pos].bucket];
  struct ps__buf ops;
  struct page page;
  int has_more = 0, rc;
  size_t limit = st->env->ops_per_line > 0 ? (size_t)st->env->ops_per_line : 1;
  ps__buf_init(&ops, PS_BUF_DEFAULT_MAX);
  memset(&page, 0, sizeof(page));
  page.ops = &ops;
  page.raw_data = st->raw_data;
  psd_storage_lock(st->env->storage);
  rc =
      psd_storage_ops_locked(st->env->storage, b->name, b->position,
                             st->current->head, limit, on_op, &page, &has_more);
  psd_storage_unlock(st->env->storage);
  if (rc != 0 || ps__buf_failed(&ops)) {
    stream_log(st, "sync stream of user %s: cannot read ops of %s", st->user_id,
               b->name);
    ps__buf_free(&ops);
    return -1;
  }
  if (page.n == 0) {
    ps__buf_free(&ops);
    next_fetch(st);
    return 0;
  }
  ps__buf_puts(&st->line, "{\"data\":{\"bucket\":");
  put_json_string(&st->line, b->name);
  ps__buf_puts(&st->line, ",\"after\":");
  put_op_id(&st->line, b->position);
  ps__buf_printf(&st->line, ",\"has_more\":%s,\"data\":[",
                 has_more ? "true" : "false");
  ps__buf_append(&st->line, ops.data, ops.len);
  ps__buf_puts(&st->line, "],\"next_after\":");
  put_op_id(&st->line, page.last);
  ps__buf_puts(&st->line, "}}");
  ps__buf_free(&ops);
  b->position = page.last;
  if (!has_more)
    next_fetch(st);
  return 1;
}

/* The next line of the checkpoint being sent. Returns 1 or -1. */
static int active_line(struct psd_stream *st) {
  if (st->header.len) {
    ps__buf_append(&st->line, st->header.data, st->header.len);
    ps__buf_reset(&st->header);
    return 1;
  }
  for (;;) {
    int rc;
    if (st->fetch_pos >= st->fetch_count) {
      ps__buf_puts(&st->line, "{\"checkpoint_complete\":{\"last_op_id\":");
      put_op_id(&st->line, st->current->head);
      ps__buf_puts(&st->line, "}}");
      st->active = 0;
      return 1;
    }
    if (st->completion_due) {
      st->completion_due = 0;
      ps__buf_puts(&st->line,
                   "{\"partial_checkpoint_complete\":{\"last_op_id\":");
      put_op_id(&st->line, st->current->head);
      ps__buf_printf(&st->line, ",\"priority\":%d}}",
                     st->fetch[st->fetch_pos - 1].priority);
      return 1;
    }
    rc = data_page(st);
    if (rc != 0)
      return rc;
  }
}

/* Seconds the token has left as the service counts them: rounded up,
 * never negative. */
static int64_t seconds_left(const struct psd_stream *st, int64_t now) {
  int64_t ms = st->exp_ms - now;
  return ms > 0 ? (ms + 999) / 1000 : 0;
}

/* When the token line after one at now is due: the next keepalive, or
 * sooner the expiry warning while it lies ahead, else the expiry itself
 * (the service's tokenStream). A stream that starts less than 20 s before
 * the expiry therefore gets no warning: an immediate one would make a
 * client prefetch and reconnect at once, over and over. */
static int64_t next_token_due(const struct psd_stream *st, int64_t now) {
  int64_t keepalive = now + (int64_t)st->env->keepalive_s * 1000;
  int64_t warning = st->exp_ms - EXPIRY_WARNING_MS;
  int64_t event = warning > now ? warning : st->exp_ms;
  return keepalive < event ? keepalive : event;
}

static void token_line(struct psd_stream *st, int64_t left) {
  ps__buf_printf(&st->line, "{\"token_expires_in\":%lld}", (long long)left);
}

/* 1 when the client closed its side or the connection broke. */
static int client_gone(const struct psd_stream *st) {
  struct pollfd p;
  short gone = POLLHUP | POLLERR | POLLNVAL;
#ifdef POLLRDHUP
  gone |= POLLRDHUP;
#endif
  if (st->fd < 0)
    return 0;
  p.fd = st->fd;
  p.events = gone;
  p.revents = 0;
  return poll(&p, 1, 0) > 0 && (p.revents & gone);
}

/* How long the idle stream may sleep before a token line is due. */
static int idle_timeout_ms(const struct psd_stream *st, int64_t now) {
  int64_t due = st->token_due_ms - now;
  if (due < 1)
    return 1;
  return due > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)due;
}

enum step { STEP_LINE, STEP_IDLE, STEP_END, STEP_ERROR };

/* Generates the next line into st->line. With may_block, waits until there
 * is one (or the stream ends); without, returns STEP_IDLE instead. */
static enum step next_line(struct psd_stream *st, int may_block) {
  if (atomic_load(st->env->stopping))
    return STEP_END;
  if (st->active)
    return active_line(st) < 0 ? STEP_ERROR : STEP_LINE;
  for (;;) {
    int64_t now = now_ms();
    int rc;
    if (atomic_load(st->env->stopping))
      return STEP_END;
    if (!st->current) {
      /* The first token check is silent unless the token has expired
       * already (the JWT check tolerates 60 s of clock skew). */
      if (seconds_left(st, now) == 0) {
        token_line(st, 0);
        st->ending = 1;
        return STEP_LINE;
      }
      st->token_due_ms = next_token_due(st, now);
      psd_storage_wait(st->env->storage, &st->gen, 0);
      rc = refresh(st);
      if (rc < 0)
        return STEP_ERROR;
      return active_line(st) < 0 ? STEP_ERROR : STEP_LINE;
    }
    if (now >= st->token_due_ms) {
      /* A keepalive or the warning; 0 at the expiry, then the end. */
      int64_t left = seconds_left(st, now);
      token_line(st, left);
      if (left == 0)
        st->ending = 1;
      else
        st->token_due_ms = next_token_due(st, now);
      return STEP_LINE;
    }
    rc = psd_storage_wait(st->env->storage, &st->gen,
                          may_block ? idle_timeout_ms(st, now) : 0);
    if (rc < 0)
      return STEP_END;
    if (rc > 0) {
      rc = refresh(st);
      if (rc < 0)
        return STEP_ERROR;
      if (rc > 0)
        return active_line(st) < 0 ? STEP_ERROR : STEP_LINE;
      continue;
    }
    if (!may_block)
      return STEP_IDLE;
    if (client_gone(st)) /* Nothing left to tell it. */
      return STEP_END;
  }
}

/* --- Encoding ---------------------------------------------------------------
 */

/* Moves the generated line into plain, as NDJSON or BSON. */
static int encode_line(struct psd_stream *st) {
  if (ps__buf_failed(&st->line))
    return -1;
  if (st->format.bson) {
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    if (psd_json_to_bson(st->line.data, st->line.len, &doc, &doc_len) != 0) {
      stream_log(st, "sync stream of user %s: cannot encode a line as BSON",
                 st->user_id);
      return -1;
    }
    ps__buf_append(&st->plain, doc, doc_len);
    free(doc);
  } else {
    ps__buf_append(&st->plain, st->line.data, st->line.len);
    ps__buf_putc(&st->plain, '\n');
  }
  ps__buf_reset(&st->line);
  return ps__buf_failed(&st->plain) ? -1 : 0;
}

/* Compresses plain into out, flushed (Z_SYNC_FLUSH) so the client can
 * decode every line sent so far, or finished at the end. */
static int deflate_plain(struct psd_stream *st, int finish) {
  unsigned char chunk[16384];
  int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
  st->z.next_in = (const Bytef *)st->plain.data;
  st->z.avail_in = (uInt)st->plain.len;
  for (;;) {
    int rc;
    st->z.next_out = chunk;
    st->z.avail_out = sizeof(chunk);
    rc = deflate(&st->z, flush);
    if (rc == Z_STREAM_ERROR)
      return -1;
    ps__buf_append(&st->out, chunk, sizeof(chunk) - st->z.avail_out);
    if (finish ? rc == Z_STREAM_END
               : (st->z.avail_out != 0 && st->z.avail_in == 0))
      break;
  }
  ps__buf_reset(&st->plain);
  return ps__buf_failed(&st->out) ? -1 : 0;
}

/* Generates a batch of lines (at least one unless the stream ends) and
 * encodes it into out. Lines are generated while they come without waiting
 * and up to about target bytes. */
static int fill(struct psd_stream *st, size_t target) {
  ps__buf_reset(&st->plain);
  while (!st->ending) {
    enum step s = next_line(st, st->plain.len == 0);
    if (s == STEP_ERROR)
      return -1;
    if (s == STEP_END) {
      st->ending = 1;
      break;
    }
    if (s == STEP_IDLE)
      break;
    if (encode_line(st) != 0)
      return -1;
    if (st->plain.len >= target)
      break;
  }
  if (st->z_ready) {
    if (deflate_plain(st, st->ending) != 0)
      return -1;
  } else {
    struct ps__buf swap = st->out;
    st->out = st->plain;
    st->plain = swap;
  }
  if (st->ending)
    st->finished = 1;
  return 0;
}

ssize_t psd_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  struct psd_stream *st = cls;
  (void)pos;
  for (;;) {
    if (st->out_off < st->out.len) {
      size_t n = st->out.len - st->out_off;
      if (n > max)
        n = max;
      memcpy(buf, st->out.data + st->out_off, n);
      st->out_off += n;
      return (ssize_t)n;
    }
    ps__buf_reset(&st->out);
    st->out_off = 0;
    if (st->failed)
      return MHD_CONTENT_READER_END_WITH_ERROR;
    if (st->finished)
      return MHD_CONTENT_READER_END_OF_STREAM;
    if (fill(st, max) != 0) {
      st->failed = 1;
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
  }
}
