/*
 * test_jwt.c: tools/devserver/jwt.c, the token checks of the dev server.
 *
 * The 401 bodies must be the service's, byte for byte, where a recording
 * shows them (shared/fixtures/real-service/auth-errors.txt: no header, wrong
 * audience, expired, bad signature; the bodies are copied below). The other
 * messages follow the service's sources (KeyStore.ts, auth/utils.ts and
 * jose's claim checks), which is also where the check order comes from.
 *
 * Tokens with deliberate faults are built here from header and payload text
 * with codec.c's base64url and HMAC, which test_codec.c checks against
 * published vectors; two tokens computed elsewhere (Python's hmac, and the
 * jwt.io example) pin the signing down independently.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "jwt.h"

/* 2026-11-26T13:09:34Z, when auth-errors.txt was recorded. */
#define NOW 1764162574

#define SECRET "dev-secret"
#define KID    "dev-hs256"

static const char *const AUDIENCES[] = {"powersync-dev", "powersync"};

/* The bodies of auth-errors.txt. */
#define BODY_NONE                                                              \
  "{\"error\":{\"code\":\"PSYNC_S2106\",\"status\":401,\"description\":"       \
  "\"Authentication required\",\"name\":\"AuthorizationError\"}}"
#define BODY_BAD_AUD                                                           \
  "{\"error\":{\"code\":\"PSYNC_S2105\",\"status\":401,\"description\":"       \
  "\"Unexpected \\\"aud\\\" claim value: \\\"some-other-aud\\\"\",\"name\":"   \
  "\"AuthorizationError\"}}"
#define BODY_EXPIRED                                                           \
  "{\"error\":{\"code\":\"PSYNC_S2103\",\"status\":401,\"description\":\"JWT " \
  "has expired\",\"name\":\"AuthorizationError\"}}"
#define BODY_BAD_SIG                                                           \
  "{\"error\":{\"code\":\"PSYNC_S2101\",\"status\":401,\"description\":"       \
  "\"signature verification failed\",\"name\":\"AuthorizationError\"}}"

#define NO_KEY                                                                 \
  "Could not find an appropriate key in the keystore. The key is missing or "  \
  "no key matched the token KID"
#define NOT_WELL_FORMED                                                        \
  "Token is not a well-formed JWT. Check the token format."

static struct psd_jwt_config config(const char *kid) {
  struct psd_jwt_config c;
  c.secret = SECRET;
  c.secret_len = strlen(SECRET);
  c.kid = kid;
  c.audiences = AUDIENCES;
  c.audience_count = 2;
  c.max_lifetime_s = 0;
  return c;
}

/* "Token " + a token of header and payload text, signed with secret. */
static char *make_auth(const char *secret, const char *header,
                       const char *payload) {
  char *h = psd_base64url_encode(header, strlen(header));
  char *p = psd_base64url_encode(payload, strlen(payload));
  char *out, *sig;
  size_t n = strlen(h) + strlen(p) + 64;
  uint8_t mac[PSD_SHA256_LEN];
  char *signing = malloc(n);
  assert_non_null(h);
  assert_non_null(p);
  assert_non_null(signing);
  snprintf(signing, n, "%s.%s", h, p);
  psd_hmac_sha256(secret, strlen(secret), signing, strlen(signing), mac);
  sig = psd_base64url_encode(mac, sizeof mac);
  assert_non_null(sig);
  out = malloc(n + strlen(sig) + 8);
  assert_non_null(out);
  sprintf(out, "Token %s.%s", signing, sig);
  free(signing);
  free(sig);
  free(h);
  free(p);
  return out;
}

#define HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"dev-hs256\"}"

/* "Token " + a correctly signed token with our header and this payload. */
static char *auth_for(const char *payload) {
  return make_auth(SECRET, HEADER, payload);
}

static char *auth_with_claims(const char *sub, int64_t iat, int64_t exp,
                              const char *aud_json) {
  char payload[512];
  snprintf(payload, sizeof payload,
           "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"aud\":%s}", sub,
           (long long)iat, (long long)exp, aud_json);
  return auth_for(payload);
}

static void expect_ok(const struct psd_jwt_config *cfg, const char *auth,
                      int64_t now, const char *sub) {
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  int rc = psd_jwt_verify(cfg, auth, now, &c, &e);
  if (rc != 0)
    fail_msg("refused: %s %s", e.code, e.description);
  assert_string_equal(c.sub, sub);
  assert_non_null(c.payload_json);
  psd_jwt_claims_free(&c);
}

static void expect_error(const struct psd_jwt_config *cfg, const char *auth,
                         int64_t now, const char *code, const char *desc) {
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  assert_int_equal(psd_jwt_verify(cfg, auth, now, &c, &e), -1);
  assert_null(c.sub);
  assert_null(c.payload_json);
  assert_int_equal(e.status, 401);
  assert_string_equal(e.code, code);
  assert_string_equal(e.description, desc);
}

/* The 401 body of the refusal of auth. */
static char *error_body(const struct psd_jwt_config *cfg, const char *auth,
                        int64_t now) {
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  assert_int_equal(psd_jwt_verify(cfg, auth, now, &c, &e), -1);
  return psd_auth_error_json(&e);
}

static void expect_body(const struct psd_jwt_config *cfg, const char *auth,
                        int64_t now, const char *body) {
  char *got = error_body(cfg, auth, now);
  assert_non_null(got);
  assert_string_equal(got, body);
  free(got);
}

/* ---- Signing and verifying ----------------------------------------------- */

static void sign_verify_round_trip(void **state) {
  struct psd_jwt_config cfg = config(KID);
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  char *tok =
      psd_jwt_sign(&cfg, "user-a", NOW, NOW + 3600, "powersync-dev", NULL);
  char auth[1024];
  (void)state;
  assert_non_null(tok);
  snprintf(auth, sizeof auth, "Token %s", tok);
  assert_int_equal(psd_jwt_verify(&cfg, auth, NOW, &c, &e), 0);
  assert_string_equal(c.sub, "user-a");
  assert_int_equal(c.iat, NOW);
  assert_int_equal(c.exp, NOW + 3600);
  assert_string_equal(c.payload_json,
                      "{\"sub\":\"user-a\",\"iat\":1764162574,\"exp\":"
                      "1764166174,\"aud\":\"powersync-dev\"}");
  psd_jwt_claims_free(&c);
  psd_jwt_claims_free(&c); /* Idempotent. */
  free(tok);
}

static void sign_header_and_known_answer(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *tok, *dot;
  uint8_t *header;
  size_t len;
  (void)state;
  /* Computed with Python's hmac and base64 from the same header and
   * payload text. */
  tok = psd_jwt_sign(&cfg, "user-a", NOW, NOW + 3600, "powersync-dev",
                     "{\"iss\":\"test\"}");
  assert_string_equal(
      tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImRldi1oczI1NiJ9."
           "eyJzdWIiOiJ1c2VyLWEiLCJpYXQiOjE3NjQxNjI1NzQsImV4cCI6MTc2NDE2NjE3"
           "NCwiYXVkIjoicG93ZXJzeW5jLWRldiIsImlzcyI6InRlc3QifQ."
           "EPopNCoqyB9C_PhdeSMH4hO2imjG-11Lk5y-gsQ4qW8");
  free(tok);
  /* Without a kid the header has none. */
  cfg.kid = NULL;
  tok = psd_jwt_sign(&cfg, "u", 1, 2, "a", NULL);
  assert_non_null(tok);
  dot = strchr(tok, '.');
  assert_non_null(dot);
  assert_int_equal(
      psd_base64url_decode(tok, (size_t)(dot - tok), &header, &len), 0);
  assert_string_equal((char *)header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
  free(header);
  free(tok);
}

/* The jwt.io example token (secret "your-256-bit-secret", no exp): the
 * signature verifies, so the refusal is about the claim. */
static void verifies_foreign_signature(void **state) {
  struct psd_jwt_config cfg = config(NULL);
  (void)state;
  cfg.secret = "your-256-bit-secret";
  cfg.secret_len = strlen(cfg.secret);
  expect_error(&cfg,
               "Bearer "
               "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkw"
               "IiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
               "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
               NOW, "PSYNC_S2101",
               "JWT payload is missing a required claim \"exp\"");
  cfg.secret = "not-the-secret";
  cfg.secret_len = strlen(cfg.secret);
  expect_error(&cfg,
               "Bearer "
               "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkw"
               "IiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
               "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
               NOW, "PSYNC_S2101", NO_KEY);
}

static void extra_claims(void **state) {
  struct psd_jwt_config cfg = config(KID);
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  char auth[2048];
  char *tok = psd_jwt_sign(
      &cfg, "user-b", NOW, NOW + 60, "powersync",
      "{\"role\":\"admin\",\"parameters\":{\"team\":\"t1\",\"n\":[1,2.5]}}");
  (void)state;
  assert_non_null(tok);
  snprintf(auth, sizeof auth, "Bearer %s", tok);
  assert_int_equal(psd_jwt_verify(&cfg, auth, NOW, &c, &e), 0);
  assert_string_equal(c.sub, "user-b");
  assert_string_equal(c.payload_json,
                      "{\"sub\":\"user-b\",\"iat\":1764162574,\"exp\":"
                      "1764162634,\"aud\":\"powersync\",\"role\":\"admin\","
                      "\"parameters\":{\"team\":\"t1\",\"n\":[1,2.5]}}");
  psd_jwt_claims_free(&c);
  free(tok);
  /* Extra claims replace the standard ones they name (aud as an array). */
  tok = psd_jwt_sign(&cfg, "user-c", NOW, NOW + 60, "ignored",
                     "{\"aud\":[\"x\",\"powersync-dev\"],\"sub\":\"user-d\"}");
  snprintf(auth, sizeof auth, "Token %s", tok);
  assert_int_equal(psd_jwt_verify(&cfg, auth, NOW, &c, &e), 0);
  assert_string_equal(c.sub, "user-d");
  assert_string_equal(c.payload_json,
                      "{\"iat\":1764162574,\"exp\":1764162634,\"aud\":[\"x\","
                      "\"powersync-dev\"],\"sub\":\"user-d\"}");
  psd_jwt_claims_free(&c);
  free(tok);
  /* Extra claims must be an object. */
  assert_null(psd_jwt_sign(&cfg, "u", NOW, NOW + 1, "a", "[1]"));
  assert_null(psd_jwt_sign(&cfg, "u", NOW, NOW + 1, "a", "{"));
}

/* ---- The Authorization header -------------------------------------------- */

static void authorization_header_forms(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *auth = auth_with_claims("user-a", NOW, NOW + 3600, "\"powersync\"");
  char buf[1024];
  const char *tok = auth + strlen("Token ");
  (void)state;
  expect_ok(&cfg, auth, NOW, "user-a");
  snprintf(buf, sizeof buf, "Bearer %s", tok);
  expect_ok(&cfg, buf, NOW, "user-a");
  expect_body(&cfg, NULL, NOW, BODY_NONE);
  expect_body(&cfg, "", NOW, BODY_NONE);
  expect_error(&cfg, "Token", NOW, "PSYNC_S2106", "Authentication required");
  expect_error(&cfg, "Token ", NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, "bearer %s", tok); /* Case matters. */
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, "Basic %s", tok);
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, "Token  %s", tok); /* Two spaces. */
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, "Token %s x", tok);
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, "Token %s\n", tok);
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  snprintf(buf, sizeof buf, " Token %s", tok);
  expect_error(&cfg, buf, NOW, "PSYNC_S2106", "Authentication required");
  free(auth);
}

static void malformed_tokens(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *auth = auth_with_claims("user-a", NOW, NOW + 3600, "\"powersync\"");
  char buf[1024];
  char *a;
  (void)state;
  expect_error(&cfg, "Token abc", NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  expect_error(&cfg, "Token a.b", NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  snprintf(buf, sizeof buf, "%s.x", auth); /* Four parts. */
  expect_error(&cfg, buf, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  expect_error(&cfg, "Token !!.e30.e30", NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  /* Header "[]" and "{}": not an object, no alg. */
  expect_error(&cfg, "Token W10.e30.AAAA", NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  expect_error(&cfg, "Token e30.e30.AAAA", NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  /* A correctly signed payload that is not a JSON object. */
  a = make_auth(SECRET, HEADER, "[1]");
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  free(a);
  a = make_auth(SECRET, HEADER, "{\"sub\":");
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  free(a);
  /* A signature that is not base64url, with a key selected by kid. */
  strcpy(buf, auth);
  buf[strlen(buf) - 1] = '+';
  expect_error(&cfg, buf, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  free(auth);
}

/* ---- Keys, algorithms and signatures ------------------------------------- */

static void bad_signature(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *auth = auth_with_claims("user-a", NOW, NOW + 3600, "\"powersync\"");
  char *sig = strrchr(auth, '.') + 1;
  char *a;
  (void)state;
  sig[5] = sig[5] == 'A' ? 'B' : 'A'; /* Corrupted signature. */
  expect_body(&cfg, auth, NOW, BODY_BAD_SIG);
  sig[0] = '\0'; /* Empty signature. */
  expect_error(&cfg, auth, NOW, "PSYNC_S2101", "signature verification failed");
  free(auth);
  /* Signed with another secret. */
  a = make_auth("other", HEADER,
                "{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162575,"
                "\"aud\":\"powersync\"}");
  expect_body(&cfg, a, NOW, BODY_BAD_SIG);
  free(a);
  /* A tampered payload under the original signature. */
  auth = auth_with_claims("user-a", NOW, NOW + 3600, "\"powersync\"");
  a = auth_with_claims("admin", NOW, NOW + 3600, "\"powersync\"");
  memcpy(strrchr(a, '.'), strrchr(auth, '.'), strlen(strrchr(auth, '.')));
  expect_body(&cfg, a, NOW, BODY_BAD_SIG);
  free(a);
  free(auth);
}

static void key_selection_by_kid(void **state) {
  struct psd_jwt_config cfg = config(KID);
  struct psd_jwt_config wildcard = config(NULL);
  static const char payload[] = "{\"sub\":\"u\",\"iat\":1764162574,\"exp\":"
                                "1764162600,\"aud\":\"powersync\"}";
  char *a;
  (void)state;
  /* A kid naming another key. */
  a = make_auth(SECRET, "{\"alg\":\"HS256\",\"kid\":\"other\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NO_KEY);
  /* A key without kid is a wildcard: any token kid, checked by signature. */
  expect_ok(&wildcard, a, NOW, "u");
  free(a);
  a = make_auth("other", "{\"alg\":\"HS256\",\"kid\":\"other\"}", payload);
  expect_error(&wildcard, a, NOW, "PSYNC_S2101", NO_KEY);
  free(a);
  /* A token without kid uses the one key (the dev server's leniency). */
  a = make_auth(SECRET, "{\"alg\":\"HS256\"}", payload);
  expect_ok(&cfg, a, NOW, "u");
  expect_ok(&wildcard, a, NOW, "u");
  free(a);
  a = make_auth("other", "{\"alg\":\"HS256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", "signature verification failed");
  expect_error(&wildcard, a, NOW, "PSYNC_S2101", NO_KEY);
  free(a);
  /* A falsy kid ("", 0, null) counts as none; another kid names no key. */
  a = make_auth(SECRET, "{\"alg\":\"HS256\",\"kid\":\"\"}", payload);
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = make_auth(SECRET, "{\"alg\":\"HS256\",\"kid\":0}", payload);
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = make_auth(SECRET, "{\"alg\":\"HS256\",\"kid\":null}", payload);
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = make_auth(SECRET, "{\"alg\":\"HS256\",\"kid\":7}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NO_KEY);
  expect_ok(&wildcard, a, NOW, "u");
  free(a);
}

static void algorithms(void **state) {
  struct psd_jwt_config cfg = config(KID);
  struct psd_jwt_config wildcard = config(NULL);
  static const char payload[] = "{\"sub\":\"u\",\"iat\":1764162574,\"exp\":"
                                "1764162600,\"aud\":\"powersync\"}";
  char *a;
  (void)state;
  /* A supported algorithm other than the key's. */
  a = make_auth(SECRET, "{\"alg\":\"HS512\",\"kid\":\"dev-hs256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", "Unexpected token algorithm HS512");
  expect_error(&wildcard, a, NOW, "PSYNC_S2101", NO_KEY);
  free(a);
  a = make_auth(SECRET, "{\"alg\":\"RS256\",\"kid\":\"dev-hs256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", "Unexpected token algorithm RS256");
  free(a);
  /* Algorithms the service does not accept at all. */
  a = make_auth(SECRET, "{\"alg\":\"none\",\"kid\":\"dev-hs256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101",
               "\"alg\" (Algorithm) Header Parameter value not allowed");
  free(a);
  a = make_auth(SECRET, "{\"alg\":\"hs256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101",
               "\"alg\" (Algorithm) Header Parameter value not allowed");
  free(a);
  /* No alg, or not a string. */
  a = make_auth(SECRET, "{\"typ\":\"JWT\",\"kid\":\"dev-hs256\"}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  free(a);
  a = make_auth(SECRET, "{\"alg\":256}", payload);
  expect_error(&cfg, a, NOW, "PSYNC_S2101", NOT_WELL_FORMED);
  free(a);
}

/* ---- Claims -------------------------------------------------------------- */

static void missing_claims(void **state) {
  struct psd_jwt_config cfg = config(KID);
  static const struct {
    const char *payload, *claim;
  } cases[] = {
      {"{\"iat\":1764162574,\"exp\":1764162600,\"aud\":\"powersync\"}", "sub"},
      {"{\"sub\":\"u\",\"exp\":1764162600,\"aud\":\"powersync\"}", "iat"},
      {"{\"sub\":\"u\",\"iat\":1764162574,\"aud\":\"powersync\"}", "exp"},
      /* sub is checked first. */
      {"{\"aud\":\"powersync\"}", "sub"},
      /* Present but not numbers. */
      {"{\"sub\":\"u\",\"iat\":\"1764162574\",\"exp\":1764162600,\"aud\":"
       "\"powersync\"}",
       "iat"},
      {"{\"sub\":\"u\",\"iat\":1764162574,\"exp\":null,\"aud\":\"powersync\"}",
       "exp"},
      /* Not yet valid (beyond the 60 s tolerance). */
      {"{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600,\"nbf\":"
       "1764162635,\"aud\":\"powersync\"}",
       "nbf"},
      {"{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600,\"nbf\":\"x\","
       "\"aud\":\"powersync\"}",
       "nbf"},
      /* sub must be a string for the dev server. */
      {"{\"sub\":42,\"iat\":1764162574,\"exp\":1764162600,\"aud\":"
       "\"powersync\"}",
       "sub"},
  };
  char desc[128];
  size_t i;
  char *a;
  (void)state;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    a = auth_for(cases[i].payload);
    snprintf(desc, sizeof desc,
             "JWT payload is missing a required claim \"%s\"", cases[i].claim);
    expect_error(&cfg, a, NOW, "PSYNC_S2101", desc);
    free(a);
  }
  /* nbf within the tolerance is fine. */
  a = auth_for("{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600,\"nbf\":"
               "1764162634,\"aud\":\"powersync\"}");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  /* A missing aud is the audience error. */
  a = auth_for("{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600}");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "JWT payload is missing a required claim \"aud\"");
  free(a);
  a = auth_for(
      "{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600,\"aud\":null}");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "JWT payload is missing a required claim \"aud\"");
  free(a);
  a = auth_for("{\"sub\":\"u\",\"iat\":1764162574,\"exp\":1764162600,\"aud\":"
               "\"powersync\",\"parameters\":[1]}");
  expect_error(&cfg, a, NOW, "PSYNC_S2101",
               "Payload parameters must be an object");
  free(a);
}

static void audiences(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *a;
  (void)state;
  a = auth_with_claims("u", NOW, NOW + 3600, "\"some-other-aud\"");
  expect_body(&cfg, a, NOW, BODY_BAD_AUD);
  free(a);
  a = auth_with_claims("u", NOW, NOW + 3600, "\"powersync-dev\"");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  /* An array matches when any member is allowed. */
  a = auth_with_claims("u", NOW, NOW + 3600, "[\"x\",\"powersync\"]");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = auth_with_claims("u", NOW, NOW + 3600, "[\"x\", \"y\"]");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: [\"x\",\"y\"]");
  free(a);
  a = auth_with_claims("u", NOW, NOW + 3600, "[]");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: []");
  free(a);
  /* Other values, written as JSON.stringify writes them. */
  a = auth_with_claims("u", NOW, NOW + 3600, "[1.50,1e21,1e-7,\"a\\tb\"]");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: [1.5,1e+21,1e-7,\"a\\tb\"]");
  free(a);
  a = auth_with_claims("u", NOW, NOW + 3600,
                       "[100.0,-0.0,0.000001,123456789012345680000,-2.5e-9]");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: "
               "[100,0,0.000001,123456789012345680000,-2.5e-9]");
  free(a);
  a = auth_with_claims("u", NOW, NOW + 3600, "{\"a\":[null,true,false]}");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: {\"a\":[null,true,false]}");
  free(a);
  /* No configured audience accepts nothing. */
  cfg.audience_count = 0;
  a = auth_with_claims("u", NOW, NOW + 3600, "\"powersync\"");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: \"powersync\"");
  free(a);
}

/* jose: expired when exp <= now - 60. */
static void clock_tolerance(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *a = auth_with_claims("u", NOW - 3600, NOW, "\"powersync\"");
  (void)state;
  expect_ok(&cfg, a, NOW, "u");
  expect_ok(&cfg, a, NOW + 59, "u");
  expect_body(&cfg, a, NOW + 60, BODY_EXPIRED);
  expect_error(&cfg, a, NOW + 61, "PSYNC_S2103", "JWT has expired");
  free(a);
  /* Expiry is checked before the audience. */
  a = auth_with_claims("u", NOW - 3600, NOW, "\"some-other-aud\"");
  expect_body(&cfg, a, NOW + 60, BODY_EXPIRED);
  expect_body(&cfg, a, NOW, BODY_BAD_AUD);
  free(a);
  /* An iat in the future is not checked (jose without maxTokenAge). */
  a = auth_with_claims("u", NOW + 600, NOW + 700, "\"powersync\"");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
}

static void lifetime(void **state) {
  struct psd_jwt_config cfg = config(KID);
  char *a;
  (void)state;
  a = auth_with_claims("u", NOW, NOW + 86400, "\"powersync\"");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = auth_with_claims("u", NOW, NOW + 86401, "\"powersync\"");
  expect_error(&cfg, a, NOW, "PSYNC_S2104",
               "Token must expire in a maximum of 86400 seconds, got 86401s");
  free(a);
  /* Checked after the audience. */
  a = auth_with_claims("u", NOW, NOW + 86401, "\"other\"");
  expect_error(&cfg, a, NOW, "PSYNC_S2105",
               "Unexpected \"aud\" claim value: \"other\"");
  free(a);
  cfg.max_lifetime_s = 3600;
  a = auth_with_claims("u", NOW, NOW + 3600, "\"powersync\"");
  expect_ok(&cfg, a, NOW, "u");
  free(a);
  a = auth_with_claims("u", NOW - 100, NOW + 3600, "\"powersync\"");
  expect_error(&cfg, a, NOW, "PSYNC_S2104",
               "Token must expire in a maximum of 3600 seconds, got 3700s");
  free(a);
  /* Fractional times, as JavaScript prints them. */
  a = auth_for("{\"sub\":\"u\",\"iat\":1764162574.5,\"exp\":1764166174.75,"
               "\"aud\":\"powersync\"}");
  expect_error(&cfg, a, NOW, "PSYNC_S2104",
               "Token must expire in a maximum of 3600 seconds, got 3600.25s");
  free(a);
}

static void claims_of_a_valid_token(void **state) {
  struct psd_jwt_config cfg = config(KID);
  struct psd_jwt_claims c;
  struct psd_auth_error e;
  static const char payload[] =
      "{\"sub\":\"user-\\u00e9\",\"iat\":1764162574.9,\"exp\":1764166174,"
      "\"aud\":[\"powersync\"],\"parameters\":null,\"x\":{\"y\":[true]}}";
  char *a = auth_for(payload);
  (void)state;
  assert_int_equal(psd_jwt_verify(&cfg, a, NOW, &c, &e), 0);
  assert_string_equal(c.sub, "user-\xc3\xa9");
  assert_int_equal(c.iat, NOW);
  assert_int_equal(c.exp, NOW + 3600);
  assert_string_equal(c.payload_json, payload); /* The text as sent. */
  psd_jwt_claims_free(&c);
  free(a);
}

static void error_bodies(void **state) {
  struct psd_auth_error e;
  char *body;
  (void)state;
  memset(&e, 0, sizeof e);
  e.status = 401;
  e.code = "PSYNC_S2101";
  strcpy(e.description, "a \"quoted\" \\ \n\x01 value");
  body = psd_auth_error_json(&e);
  assert_string_equal(body, "{\"error\":{\"code\":\"PSYNC_S2101\",\"status\":"
                            "401,\"description\":\"a \\\"quoted\\\" \\\\ "
                            "\\n\\u0001 value\",\"name\":"
                            "\"AuthorizationError\"}}");
  free(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(sign_verify_round_trip),
      cmocka_unit_test(sign_header_and_known_answer),
      cmocka_unit_test(verifies_foreign_signature),
      cmocka_unit_test(extra_claims),
      cmocka_unit_test(authorization_header_forms),
      cmocka_unit_test(malformed_tokens),
      cmocka_unit_test(bad_signature),
      cmocka_unit_test(key_selection_by_kid),
      cmocka_unit_test(algorithms),
      cmocka_unit_test(missing_claims),
      cmocka_unit_test(audiences),
      cmocka_unit_test(clock_tolerance),
      cmocka_unit_test(lifetime),
      cmocka_unit_test(claims_of_a_valid_token),
      cmocka_unit_test(error_bodies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
