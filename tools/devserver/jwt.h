/*
 * jwt.h: HS256 tokens as the PowerSync service checks them (protocol.md
 * 3.2-3.3): signature with the configured secret, kid matching when the
 * token names one, required sub/iat/exp, aud intersecting the configured
 * audiences, 60 s clock tolerance, a maximum lifetime. Failures carry the
 * service's status, PSYNC code and description, so the 401 bodies clients
 * see are the real ones. Safe from any thread.
 */
#ifndef PSD_JWT_H
#define PSD_JWT_H

#include <stddef.h>
#include <stdint.h>

struct psd_jwt_config {
  const char *secret; /* HS256 key bytes. */
  size_t secret_len;
  const char *kid;              /* Key id; NULL: keys without a kid. */
  const char *const *audiences; /* Accepted "aud" values. */
  size_t audience_count;
  int64_t max_lifetime_s; /* exp - iat limit; 0: 86400. */
};

/* A verified token. */
struct psd_jwt_claims {
  char *sub; /* The user id. */
  int64_t iat;
  int64_t exp;
  char *payload_json; /* The whole payload (for request.jwt(),
                         auth.parameter()). */
};

/* Why a token was refused: HTTP status (401), PSYNC code and description
 * as in shared/fixtures/real-service/auth-errors.txt. */
struct psd_auth_error {
  int status;
  const char *code; /* Static, e.g. "PSYNC_S2101". */
  char description[256];
};

/* Verifies the value of an Authorization header ("Token <jwt>" or
 * "Bearer <jwt>"; NULL: missing → PSYNC_S2106) at time now_s. Returns 0
 * with *out filled (free with psd_jwt_claims_free), or -1 with *err. */
int psd_jwt_verify(const struct psd_jwt_config *cfg, const char *authorization,
                   int64_t now_s, struct psd_jwt_claims *out,
                   struct psd_auth_error *err);
void psd_jwt_claims_free(struct psd_jwt_claims *c);

/* Signs a token {"sub","iat","exp","aud"} plus the members of
 * extra_claims_json (a JSON object, or NULL), with the header
 * {"alg":"HS256","typ":"JWT","kid":...}. Returns the token (caller frees)
 * or NULL when out of memory. A member of extra_claims_json that names a
 * standard claim replaces it (e.g. an "aud" array); sub or aud NULL leaves
 * that claim out; extra_claims_json that is not a JSON object gives NULL. */
char *psd_jwt_sign(const struct psd_jwt_config *cfg, const char *sub,
                   int64_t iat, int64_t exp, const char *aud,
                   const char *extra_claims_json);

/* The error JSON body of the service for err, in its key order:
 * {"error":{"code":..,"status":..,"description":..,
 * "name":"AuthorizationError"}}. Caller frees. */
char *psd_auth_error_json(const struct psd_auth_error *err);

#endif
