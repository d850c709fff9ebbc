/*
 * jwt.c: HS256 token checks in the order and with the messages of the
 * PowerSync service (KeyStore.verifyJwt on top of jose.jwtVerify, then
 * mapAuthError), so that a client sees the same 401 bodies from the dev
 * server as from the real service (shared/fixtures/real-service/
 * auth-errors.txt).
 *
 * The order of the checks decides which error a token with several faults
 * gets, and follows the service:
 *   1. header "Token <jwt>" / "Bearer <jwt>"        else S2106
 *   2. three parts, header is a JSON object with a string "alg"
 *                                                   else S2101 not well-formed
 *   3. alg among the service's supported algorithms else S2101 not allowed
 *   4. key selection by kid (see select_key)        else S2101 no key / alg
 *   5. signature (HMAC, constant-time compare)      else S2101
 *   6. payload is a JSON object                     else S2101 not well-formed
 *   7. sub, iat, exp present; iat, nbf, exp numbers; nbf not in the future
 *                                                   else S2101 missing claim
 *   8. exp > now - 60                               else S2103
 *   9. aud present and intersecting the audiences   else S2105
 *  10. exp - iat <= maximum lifetime                else S2104
 *  11. "parameters", when present, an object       else S2101
 *  12. sub a string (ours: the service takes any value) else S2101
 *
 * Difference from the service, on purpose: the dev server has one key. When
 * the token has no kid, that key is used even if it has a kid (the service
 * only tries keys without a kid then, and would answer "Could not find an
 * appropriate key").
 *
 * Numbers are handled as doubles, as JavaScript does, and printed in
 * JavaScript's Number-to-string form in messages.
 */
#include "jwt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "core/json.h"
#include "util/arena.h"
#include "util/buf.h"

#define CLOCK_TOLERANCE_S    60
#define DEFAULT_MAX_LIFETIME 86400
#define ARENA_MAX            ((size_t)1 << 24)
#define MSG_NOT_WELL_FORMED                                                    \
  "Token is not a well-formed JWT. Check the token format."
#define MSG_NO_KEY                                                             \
  "Could not find an appropriate key in the keystore. The key is missing or "  \
  "no key matched the token KID"

/* ---- Errors -------------------------------------------------------------- */

static int fail(struct psd_auth_error *err, const char *code, const char *fmt,
                ...) PS_PRINTF(3, 4);

static int fail(struct psd_auth_error *err, const char *code, const char *fmt,
                ...) {
  va_list ap;
  err->status = 401;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->description, sizeof err->description, fmt, ap);
  va_end(ap);
  return -1;
}

static int fail_missing_claim(struct psd_auth_error *err, const char *claim) {
  return fail(err, "PSYNC_S2101",
              "JWT payload is missing a required claim \"%s\"", claim);
}

char *psd_auth_error_json(const struct psd_auth_error *err) {
  struct ps__buf b;
  ps__buf_init(&b, 0);
  ps__buf_puts(&b, "{\"error\":{\"code\":");
  ps__json_write_string(&b, err->code, strlen(err->code));
  ps__buf_printf(&b, ",\"status\":%d,\"description\":", err->status);
  ps__json_write_string(&b, err->description, strlen(err->description));
  ps__buf_puts(&b, ",\"name\":\"AuthorizationError\"}}");
  return ps__buf_take(&b);
}

/* ---- JavaScript formatting (for messages) -------------------------------- */

/* Appends d as JavaScript's Number.prototype.toString() writes it
 * (ECMAScript Number::toString): shortest round-trip digits, fixed notation
 * for exponents in [-7, 21), exponent notation ("1e+21", "1.5e-7") else. */
static void js_number(struct ps__buf *b, double d) {
  char tmp[40], digits[20];
  int prec, exp10, k = 0, n, i;
  const char *p;
  if (d == 0) {
    ps__buf_putc(b, '0');
    return;
  }
  if (d < 0) {
    ps__buf_putc(b, '-');
    d = -d;
  }
  for (prec = 0; prec < 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec, d);
    if (strtod(tmp, NULL) == d)
      break;
  }
  for (p = tmp; *p != 'e'; p++)
    if (*p >= '0' && *p <= '9')
      digits[k++] = *p;
  exp10 = atoi(p + 1);
  while (k > 1 && digits[k - 1] == '0')
    k--;
  n = exp10 + 1; /* The decimal point lies after n digits. */
  if (k <= n && n <= 21) {
    ps__buf_append(b, digits, (size_t)k);
    for (i = k; i < n; i++)
      ps__buf_putc(b, '0');
  } else if (0 < n && n <= 21) {
    ps__buf_append(b, digits, (size_t)n);
    ps__buf_putc(b, '.');
    ps__buf_append(b, digits + n, (size_t)(k - n));
  } else if (-6 < n && n <= 0) {
    ps__buf_puts(b, "0.");
    for (i = n; i < 0; i++)
      ps__buf_putc(b, '0');
    ps__buf_append(b, digits, (size_t)k);
  } else {
    ps__buf_putc(b, digits[0]);
    if (k > 1) {
      ps__buf_putc(b, '.');
      ps__buf_append(b, digits + 1, (size_t)(k - 1));
    }
    ps__buf_printf(b, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
  }
}

static double json_number(const struct ps__json_value *v) {
  if (v->type == PS_JSON_INT)
    return (double)v->as.i;
  if (v->type == PS_JSON_UINT)
    return (double)v->as.u;
  return v->as.f;
}

static int is_number(const struct ps__json_value *v) {
  return v && (v->type == PS_JSON_INT || v->type == PS_JSON_UINT ||
               v->type == PS_JSON_FLOAT);
}

/* Appends JSON.stringify(v). (Objects keep document order; JavaScript would
 * move integer-like keys first. Only "aud" values are written this way.) */
static void js_stringify(struct ps__buf *b, const struct ps__json_value *v) {
  size_t i;
  switch (v->type) {
  case PS_JSON_NULL:
    ps__buf_puts(b, "null");
    break;
  case PS_JSON_FALSE:
    ps__buf_puts(b, "false");
    break;
  case PS_JSON_TRUE:
    ps__buf_puts(b, "true");
    break;
  case PS_JSON_INT:
  case PS_JSON_UINT:
  case PS_JSON_FLOAT:
    js_number(b, json_number(v));
    break;
  case PS_JSON_STRING:
    ps__json_write_string(b, v->as.str.ptr, v->as.str.len);
    break;
  case PS_JSON_ARRAY:
    ps__buf_putc(b, '[');
    for (i = 0; i < v->as.arr.count; i++) {
      if (i)
        ps__buf_putc(b, ',');
      js_stringify(b, v->as.arr.items[i]);
    }
    ps__buf_putc(b, ']');
    break;
  case PS_JSON_OBJECT:
    ps__buf_putc(b, '{');
    for (i = 0; i < v->as.obj.count; i++) {
      if (i)
        ps__buf_putc(b, ',');
      ps__json_write_string(b, v->as.obj.members[i].key,
                            v->as.obj.members[i].key_len);
      ps__buf_putc(b, ':');
      js_stringify(b, v->as.obj.members[i].value);
    }
    ps__buf_putc(b, '}');
    break;
  }
}

/* ---- Token structure ----------------------------------------------------- */

struct token {
  const char *text; /* header.payload.signature */
  size_t len;
  size_t dot1, dot2; /* Offsets of the two dots. */
  struct ps__json_value *header;
  struct ps__json_value *payload;
  char *payload_json; /* Decoded payload text (malloc). */
  uint8_t *sig;
  size_t sig_len;
};

static int is_js_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

/* /^(Token|Bearer) (\S+)$/ (ASCII whitespace only). */
static int token_from_header(const char *authorization, const char **tok,
                             size_t *len) {
  const char *p;
  if (!authorization)
    return -1;
  if (strncmp(authorization, "Token ", 6) == 0)
    p = authorization + 6;
  else if (strncmp(authorization, "Bearer ", 7) == 0)
    p = authorization + 7;
  else
    return -1;
  *tok = p;
  while (*p && !is_js_space(*p))
    p++;
  *len = (size_t)(p - *tok);
  return (*p == '\0' && *len > 0) ? 0 : -1;
}

/* Splits at the dots: exactly three parts. */
static int split_parts(struct token *t) {
  const char *d1 = memchr(t->text, '.', t->len), *d2;
  if (!d1)
    return -1;
  d2 = memchr(d1 + 1, '.', t->len - (size_t)(d1 + 1 - t->text));
  if (!d2 || memchr(d2 + 1, '.', t->len - (size_t)(d2 + 1 - t->text)))
    return -1;
  t->dot1 = (size_t)(d1 - t->text);
  t->dot2 = (size_t)(d2 - t->text);
  return 0;
}

/* Decodes base64url text and parses it as a JSON object. */
static struct ps__json_value *decode_json_part(struct ps__arena *arena,
                                               const char *s, size_t len,
                                               char **text_out) {
  uint8_t *raw;
  size_t raw_len;
  struct ps__json_value *v;
  if (psd_base64url_decode(s, len, &raw, &raw_len) != 0)
    return NULL;
  v = ps__json_parse(arena, (const char *)raw, raw_len, NULL, 0);
  if (!v || v->type != PS_JSON_OBJECT) {
    free(raw);
    return NULL;
  }
  if (text_out)
    *text_out = (char *)raw;
  else
    free(raw);
  return v;
}

static int str_equals(const struct ps__json_value *v, const char *s) {
  return v && v->type == PS_JSON_STRING && v->as.str.len == strlen(s) &&
         memcmp(v->as.str.ptr, s, v->as.str.len) == 0;
}

/* jose's SUPPORTED_ALGORITHMS of the service. */
static int alg_supported(const struct ps__json_value *alg) {
  static const char *const algs[] = {"HS256", "HS384", "HS512", "RS256",
                                     "RS384", "RS512", "ES256", "ES384",
                                     "ES512", "EdDSA"};
  size_t i;
  for (i = 0; i < sizeof algs / sizeof algs[0]; i++)
    if (str_equals(alg, algs[i]))
      return 1;
  return 0;
}

static int constant_time_equal(const uint8_t *a, const uint8_t *b, size_t len) {
  uint8_t diff = 0;
  size_t i;
  for (i = 0; i < len; i++)
    diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

static int signature_valid(const struct psd_jwt_config *cfg,
                           const struct token *t) {
  uint8_t mac[PSD_SHA256_LEN];
  if (!t->sig)
    return 0;
  psd_hmac_sha256(cfg->secret, cfg->secret_len, t->text, t->dot2, mac);
  return t->sig_len == sizeof mac &&
         constant_time_equal(mac, t->sig, sizeof mac);
}

/* JavaScript truthiness: the service looks a kid up only when it is truthy. */
static int js_truthy(const struct ps__json_value *v) {
  if (!v)
    return 0;
  switch (v->type) {
  case PS_JSON_NULL:
  case PS_JSON_FALSE:
    return 0;
  case PS_JSON_INT:
    return v->as.i != 0;
  case PS_JSON_FLOAT:
    return v->as.f != 0 && v->as.f == v->as.f;
  case PS_JSON_STRING:
    return v->as.str.len > 0;
  default:
    return 1;
  }
}

/* KeyStore.getCachedKey with our one key: a token kid equal to the key's
 * selects it (its algorithm must then be HS256); a kid-less key is a
 * wildcard tried by algorithm and signature; a kid-less token uses the key
 * (see the file comment). */
static int select_key(const struct psd_jwt_config *cfg, const struct token *t,
                      struct psd_auth_error *err) {
  const struct ps__json_value *kid = ps__json_get(t->header, "kid");
  const struct ps__json_value *alg = ps__json_get(t->header, "alg");
  int token_has_kid = js_truthy(kid);
  int by_kid = cfg->kid && (!token_has_kid || str_equals(kid, cfg->kid));
  if (by_kid) {
    if (!str_equals(alg, "HS256"))
      return fail(err, "PSYNC_S2101", "Unexpected token algorithm %.*s",
                  (int)alg->as.str.len, alg->as.str.ptr);
    return 0;
  }
  if (!cfg->kid && str_equals(alg, "HS256") && signature_valid(cfg, t))
    return 0;
  return fail(err, "PSYNC_S2101", "%s", MSG_NO_KEY);
}

/* Steps 2-6 of the file comment: structure, key and signature. */
static int check_signed_token(const struct psd_jwt_config *cfg,
                              struct ps__arena *arena, struct token *t,
                              struct psd_auth_error *err) {
  const struct ps__json_value *alg;
  int sig_ok;
  if (split_parts(t) != 0)
    return fail(err, "PSYNC_S2101", MSG_NOT_WELL_FORMED);
  t->header = decode_json_part(arena, t->text, t->dot1, NULL);
  alg = t->header ? ps__json_get(t->header, "alg") : NULL;
  if (!alg || alg->type != PS_JSON_STRING || alg->as.str.len == 0)
    return fail(err, "PSYNC_S2101", MSG_NOT_WELL_FORMED);
  if (!alg_supported(alg))
    return fail(err, "PSYNC_S2101",
                "\"alg\" (Algorithm) Header Parameter value not allowed");
  /* jose selects the key before it decodes the signature; a wildcard key
   * simply does not match a signature that does not decode. */
  sig_ok = psd_base64url_decode(t->text + t->dot2 + 1, t->len - t->dot2 - 1,
                                &t->sig, &t->sig_len) == 0;
  if (select_key(cfg, t, err) != 0)
    return -1;
  if (!sig_ok)
    return fail(err, "PSYNC_S2101", MSG_NOT_WELL_FORMED);
  if (!signature_valid(cfg, t))
    return fail(err, "PSYNC_S2101", "signature verification failed");
  t->payload = decode_json_part(arena, t->text + t->dot1 + 1,
                                t->dot2 - t->dot1 - 1, &t->payload_json);
  if (!t->payload)
    return fail(err, "PSYNC_S2101", MSG_NOT_WELL_FORMED);
  return 0;
}

/* Step 7 and 8: jose's claim set validation with a 60 s tolerance. */
static int check_times(const struct ps__json_value *p, int64_t now_s,
                       struct psd_auth_error *err) {
  static const char *const required[] = {"sub", "iat", "exp"};
  const struct ps__json_value *nbf = ps__json_get(p, "nbf");
  const struct ps__json_value *exp = ps__json_get(p, "exp");
  double now = (double)now_s;
  size_t i;
  for (i = 0; i < sizeof required / sizeof required[0]; i++)
    if (!ps__json_get(p, required[i]))
      return fail_missing_claim(err, required[i]);
  if (!is_number(ps__json_get(p, "iat")))
    return fail_missing_claim(err, "iat");
  if (nbf && (!is_number(nbf) || json_number(nbf) > now + CLOCK_TOLERANCE_S))
    return fail_missing_claim(err, "nbf");
  if (!is_number(exp))
    return fail_missing_claim(err, "exp");
  if (json_number(exp) <= now - CLOCK_TOLERANCE_S)
    return fail(err, "PSYNC_S2103", "JWT has expired");
  return 0;
}

static int audience_allowed(const struct psd_jwt_config *cfg,
                            const struct ps__json_value *a) {
  size_t i;
  for (i = 0; i < cfg->audience_count; i++)
    if (str_equals(a, cfg->audiences[i]))
      return 1;
  return 0;
}

/* Step 9. */
static int check_audience(const struct psd_jwt_config *cfg,
                          const struct ps__json_value *p,
                          struct psd_auth_error *err) {
  const struct ps__json_value *aud = ps__json_get(p, "aud");
  struct ps__buf b;
  size_t i;
  if (!aud || aud->type == PS_JSON_NULL)
    return fail(err, "PSYNC_S2105",
                "JWT payload is missing a required claim \"aud\"");
  if (aud->type == PS_JSON_ARRAY) {
    for (i = 0; i < aud->as.arr.count; i++)
      if (audience_allowed(cfg, aud->as.arr.items[i]))
        return 0;
  } else if (audience_allowed(cfg, aud)) {
    return 0;
  }
  ps__buf_init(&b, 0);
  js_stringify(&b, aud);
  fail(err, "PSYNC_S2105", "Unexpected \"aud\" claim value: %s",
       ps__buf_cstr(&b));
  ps__buf_free(&b);
  return -1;
}

/* Step 10. */
static int check_lifetime(const struct psd_jwt_config *cfg,
                          const struct ps__json_value *p,
                          struct psd_auth_error *err) {
  double duration =
      json_number(ps__json_get(p, "exp")) - json_number(ps__json_get(p, "iat"));
  int64_t max =
      cfg->max_lifetime_s ? cfg->max_lifetime_s : DEFAULT_MAX_LIFETIME;
  struct ps__buf b;
  if (!(duration > (double)max))
    return 0;
  ps__buf_init(&b, 0);
  js_number(&b, duration);
  fail(err, "PSYNC_S2104",
       "Token must expire in a maximum of %lld seconds, got %ss",
       (long long)max, ps__buf_cstr(&b));
  ps__buf_free(&b);
  return -1;
}

/* Steps 11 and 12. */
static int check_other_claims(const struct ps__json_value *p,
                              struct psd_auth_error *err) {
  const struct ps__json_value *params = ps__json_get(p, "parameters");
  const struct ps__json_value *sub = ps__json_get(p, "sub");
  if (params && params->type != PS_JSON_NULL && params->type != PS_JSON_OBJECT)
    return fail(err, "PSYNC_S2101", "Payload parameters must be an object");
  if (sub->type != PS_JSON_STRING ||
      memchr(sub->as.str.ptr, '\0', sub->as.str.len))
    return fail_missing_claim(err, "sub");
  return 0;
}

static int64_t to_int64(double d) {
  if (d >= 9223372036854775807.0)
    return INT64_MAX;
  if (d <= -9223372036854775808.0)
    return INT64_MIN;
  return (int64_t)d;
}

static int fill_claims(struct token *t, struct psd_jwt_claims *out,
                       struct psd_auth_error *err) {
  const struct ps__json_value *sub = ps__json_get(t->payload, "sub");
  out->sub = malloc(sub->as.str.len + 1);
  if (!out->sub)
    return fail(err, "PSYNC_S2101", "out of memory");
  memcpy(out->sub, sub->as.str.ptr, sub->as.str.len);
  out->sub[sub->as.str.len] = '\0';
  out->iat = to_int64(json_number(ps__json_get(t->payload, "iat")));
  out->exp = to_int64(json_number(ps__json_get(t->payload, "exp")));
  out->payload_json = t->payload_json;
  t->payload_json = NULL;
  return 0;
}

int psd_jwt_verify(const struct psd_jwt_config *cfg, const char *authorization,
                   int64_t now_s, struct psd_jwt_claims *out,
                   struct psd_auth_error *err) {
  struct ps__arena arena;
  struct token t;
  int rc;
  memset(out, 0, sizeof *out);
  memset(err, 0, sizeof *err);
  memset(&t, 0, sizeof t);
  if (token_from_header(authorization, &t.text, &t.len) != 0)
    return fail(err, "PSYNC_S2106", "Authentication required");
  ps__arena_init(&arena, ARENA_MAX);
  rc = check_signed_token(cfg, &arena, &t, err);
  if (rc == 0)
    rc = check_times(t.payload, now_s, err);
  if (rc == 0)
    rc = check_audience(cfg, t.payload, err);
  if (rc == 0)
    rc = check_lifetime(cfg, t.payload, err);
  if (rc == 0)
    rc = check_other_claims(t.payload, err);
  if (rc == 0)
    rc = fill_claims(&t, out, err);
  free(t.sig);
  free(t.payload_json);
  ps__arena_free(&arena);
  return rc;
}

void psd_jwt_claims_free(struct psd_jwt_claims *c) {
  if (!c)
    return;
  free(c->sub);
  free(c->payload_json);
  c->sub = NULL;
  c->payload_json = NULL;
}

/* ---- Signing ------------------------------------------------------------- */

/* Whether the extra claims replace a standard claim. */
static int overridden(const struct ps__json_value *extra, const char *key) {
  return extra && ps__json_get(extra, key) != NULL;
}

static void write_payload(struct ps__buf *b, const char *sub, int64_t iat,
                          int64_t exp, const char *aud,
                          const struct ps__json_value *extra) {
  size_t i;
  int first = 1;
  ps__buf_putc(b, '{');
  if (sub && !overridden(extra, "sub")) {
    ps__buf_puts(b, "\"sub\":");
    ps__json_write_string(b, sub, strlen(sub));
    first = 0;
  }
  if (!overridden(extra, "iat")) {
    ps__buf_printf(b, "%s\"iat\":%lld", first ? "" : ",", (long long)iat);
    first = 0;
  }
  if (!overridden(extra, "exp")) {
    ps__buf_printf(b, "%s\"exp\":%lld", first ? "" : ",", (long long)exp);
    first = 0;
  }
  if (aud && !overridden(extra, "aud")) {
    ps__buf_puts(b, first ? "\"aud\":" : ",\"aud\":");
    ps__json_write_string(b, aud, strlen(aud));
    first = 0;
  }
  for (i = 0; extra && i < extra->as.obj.count; i++) {
    const struct ps__json_member *m = &extra->as.obj.members[i];
    if (!first)
      ps__buf_putc(b, ',');
    ps__json_write_string(b, m->key, m->key_len);
    ps__buf_putc(b, ':');
    ps__json_write(b, m->value, 0);
    first = 0;
  }
  ps__buf_putc(b, '}');
}

static void write_header(struct ps__buf *b, const char *kid) {
  ps__buf_puts(b, "{\"alg\":\"HS256\",\"typ\":\"JWT\"");
  if (kid) {
    ps__buf_puts(b, ",\"kid\":");
    ps__json_write_string(b, kid, strlen(kid));
  }
  ps__buf_putc(b, '}');
}

/* Appends base64url(s[0..len)) to out. */
static void append_b64(struct ps__buf *out, const void *s, size_t len) {
  char *enc = psd_base64url_encode(s, len);
  if (!enc) {
    out->failed = PS_BUF_FAILED_NOMEM;
    return;
  }
  ps__buf_puts(out, enc);
  free(enc);
}

char *psd_jwt_sign(const struct psd_jwt_config *cfg, const char *sub,
                   int64_t iat, int64_t exp, const char *aud,
                   const char *extra_claims_json) {
  struct ps__arena arena;
  struct ps__json_value *extra = NULL;
  struct ps__buf header, payload, tok;
  uint8_t mac[PSD_SHA256_LEN];
  char *result = NULL;
  ps__arena_init(&arena, 0);
  if (extra_claims_json) {
    extra = ps__json_parse(&arena, extra_claims_json, strlen(extra_claims_json),
                           NULL, 0);
    if (!extra || extra->type != PS_JSON_OBJECT) {
      ps__arena_free(&arena);
      return NULL;
    }
  }
  ps__buf_init(&header, 0);
  ps__buf_init(&payload, 0);
  ps__buf_init(&tok, 0);
  write_header(&header, cfg->kid);
  write_payload(&payload, sub, iat, exp, aud, extra);
  if (!ps__buf_failed(&header) && !ps__buf_failed(&payload)) {
    append_b64(&tok, header.data, header.len);
    ps__buf_putc(&tok, '.');
    append_b64(&tok, payload.data, payload.len);
  }
  if (!ps__buf_failed(&header) && !ps__buf_failed(&payload) &&
      !ps__buf_failed(&tok)) {
    psd_hmac_sha256(cfg->secret, cfg->secret_len, tok.data, tok.len, mac);
    ps__buf_putc(&tok, '.');
    append_b64(&tok, mac, sizeof mac);
    result = ps__buf_take(&tok);
  }
  ps__buf_free(&header);
  ps__buf_free(&payload);
  ps__buf_free(&tok);
  ps__arena_free(&arena);
  return result;
}
