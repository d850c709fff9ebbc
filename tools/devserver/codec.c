/*
 * codec.c: SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), base64url
 * (RFC 4648 section 5), the service's op checksums and a JSON-to-BSON writer.
 *
 * Why our own hashing: the dev server needs SHA-256 for two things only (JWT
 * signatures and op checksums) and must build wherever the SDK builds, so a
 * small self-contained implementation is cheaper than a crypto dependency.
 * It is not hardened against timing side channels beyond what JWT checks
 * need (jwt.c compares MACs in constant time).
 *
 * Why a BSON writer: clients that send "Accept:
 * application/vnd.powersync.bson-stream" get each sync line as one BSON
 * document. The server builds lines as JSON text, so converting JSON to BSON
 * at the edge keeps one code path for both formats. Integers become int32 when
 * they fit, else int64 (codec.h). The service (js-bson) writes a JavaScript
 * number outside int32 as a double instead, e.g. op checksums >= 2^31; the
 * core reads an int64 and an integral double as the same checksum, so only
 * those 8-byte values differ from the service's bytes (test_codec.c).
 */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bson.h"
#include "core/json.h"
#include "util/arena.h"
#include "util/buf.h"

/* ---- SHA-256 ------------------------------------------------------------- */

struct sha256 {
  uint32_t h[8];
  uint8_t block[64];
  size_t block_len; /* Bytes waiting in block. */
  uint64_t total;   /* Bytes hashed so far. */
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, unsigned n) {
  return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* FIPS 180-4 6.2.2: one 512-bit block into the state. */
static void sha256_compress(uint32_t h[8], const uint8_t block[64]) {
  uint32_t w[64];
  uint32_t a, b, c, d, e, f, g, hh;
  int t;
  for (t = 0; t < 16; t++)
    w[t] = load_be32(block + 4 * t);
  for (t = 16; t < 64; t++) {
    uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
    uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
    w[t] = w[t - 16] + s0 + w[t - 7] + s1;
  }
  a = h[0], b = h[1], c = h[2], d = h[3];
  e = h[4], f = h[5], g = h[6], hh = h[7];
  for (t = 0; t < 64; t++) {
    uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = hh + S1 + ch + K[t] + w[t];
    uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + maj;
    hh = g, g = f, f = e, e = d + t1;
    d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d;
  h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256_init(struct sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->block_len = 0;
  s->total = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t len) {
  const uint8_t *p = data;
  s->total += len;
  while (len > 0) {
    size_t take = 64 - s->block_len;
    if (s->block_len == 0 && len >= 64) {
      sha256_compress(s->h, p); /* Whole blocks straight from the input. */
      p += 64;
      len -= 64;
      continue;
    }
    if (take > len)
      take = len;
    memcpy(s->block + s->block_len, p, take);
    s->block_len += take;
    p += take;
    len -= take;
    if (s->block_len == 64) {
      sha256_compress(s->h, s->block);
      s->block_len = 0;
    }
  }
}

/* FIPS 180-4 5.1.1: 0x80, zeros, then the message length in bits. */
static void sha256_final(struct sha256 *s, uint8_t out[PSD_SHA256_LEN]) {
  uint64_t bits = s->total * 8;
  int i;
  s->block[s->block_len++] = 0x80;
  if (s->block_len > 56) {
    memset(s->block + s->block_len, 0, 64 - s->block_len);
    sha256_compress(s->h, s->block);
    s->block_len = 0;
  }
  memset(s->block + s->block_len, 0, 56 - s->block_len);
  for (i = 0; i < 8; i++)
    s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_compress(s->h, s->block);
  for (i = 0; i < 8; i++)
    store_be32(out + 4 * i, s->h[i]);
}

void psd_sha256(const void *data, size_t len, uint8_t out[PSD_SHA256_LEN]) {
  struct sha256 s;
  sha256_init(&s);
  sha256_update(&s, data, len);
  sha256_final(&s, out);
}

/* ---- HMAC-SHA256 --------------------------------------------------------- */

void psd_hmac_sha256(const void *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[PSD_SHA256_LEN]) {
  uint8_t k[64], pad[64], inner[PSD_SHA256_LEN];
  struct sha256 s;
  int i;
  memset(k, 0, sizeof k);
  if (key_len > sizeof k) /* RFC 2104: long keys are hashed first. */
    psd_sha256(key, key_len, k);
  else if (key_len > 0)
    memcpy(k, key, key_len);
  for (i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x36;
  sha256_init(&s);
  sha256_update(&s, pad, sizeof pad);
  sha256_update(&s, data, len);
  sha256_final(&s, inner);
  for (i = 0; i < 64; i++)
    pad[i] = k[i] ^ 0x5c;
  sha256_init(&s);
  sha256_update(&s, pad, sizeof pad);
  sha256_update(&s, inner, sizeof inner);
  sha256_final(&s, out);
}

/* ---- base64url ----------------------------------------------------------- */

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *psd_base64url_encode(const void *data, size_t len) {
  const uint8_t *p = data;
  size_t full = len / 3, rest = len % 3, i;
  char *out, *o;
  if (full > (((size_t)-1) - 4) / 4)
    return NULL;
  out = malloc(full * 4 + (rest ? rest + 1 : 0) + 1);
  if (!out)
    return NULL;
  o = out;
  for (i = 0; i < full; i++, p += 3) {
    uint32_t v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    *o++ = B64URL[(v >> 18) & 63];
    *o++ = B64URL[(v >> 12) & 63];
    *o++ = B64URL[(v >> 6) & 63];
    *o++ = B64URL[v & 63];
  }
  if (rest) {
    uint32_t v = (uint32_t)p[0] << 16;
    if (rest == 2)
      v |= (uint32_t)p[1] << 8;
    *o++ = B64URL[(v >> 18) & 63];
    *o++ = B64URL[(v >> 12) & 63];
    if (rest == 2)
      *o++ = B64URL[(v >> 6) & 63];
  }
  *o = '\0';
  return out;
}

/* The 6-bit value of a base64url character, or -1. */
static int b64url_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Length without the padding; SIZE_MAX if the padding is malformed. */
static size_t b64url_unpadded_len(const char *s, size_t len) {
  size_t pads = 0;
  while (len > 0 && s[len - 1] == '=') {
    len--;
    pads++;
  }
  if (pads > 2 || (pads > 0 && (len + pads) % 4 != 0))
    return (size_t)-1;
  return len;
}

int psd_base64url_decode(const char *s, size_t len, uint8_t **out,
                         size_t *out_len) {
  size_t n = b64url_unpadded_len(s, len), i, o = 0;
  uint32_t acc = 0;
  int bits = 0;
  uint8_t *buf;
  *out = NULL;
  *out_len = 0;
  /* One leftover character carries only 6 bits: no byte can end there. */
  if (n == (size_t)-1 || n % 4 == 1)
    return -1;
  buf = malloc(n / 4 * 3 + 3);
  if (!buf)
    return -1;
  for (i = 0; i < n; i++) {
    int v = b64url_value(s[i]);
    if (v < 0) {
      free(buf);
      return -1;
    }
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf[o++] = (uint8_t)(acc >> bits);
    }
  }
  /* Leftover low bits of the last character are ignored, as Node's decoder
   * (which the service uses) ignores them. */
  buf[o] = '\0';
  *out = buf;
  *out_len = o;
  return 0;
}

/* ---- Op checksums -------------------------------------------------------- */

static uint32_t digest_prefix_le32(struct sha256 *s) {
  uint8_t d[PSD_SHA256_LEN];
  sha256_final(s, d);
  return (uint32_t)d[0] | ((uint32_t)d[1] << 8) | ((uint32_t)d[2] << 16) |
         ((uint32_t)d[3] << 24);
}

uint32_t psd_op_checksum_put(const char *object_type, const char *object_id,
                             const char *data_json) {
  struct sha256 s;
  sha256_init(&s);
  sha256_update(&s, "put.", 4);
  sha256_update(&s, object_type, strlen(object_type));
  sha256_update(&s, ".", 1);
  sha256_update(&s, object_id, strlen(object_id));
  sha256_update(&s, ".", 1);
  sha256_update(&s, data_json, strlen(data_json));
  return digest_prefix_le32(&s);
}

uint32_t psd_op_checksum_remove(const char *subkey) {
  struct sha256 s;
  sha256_init(&s);
  sha256_update(&s, "delete.", 7);
  sha256_update(&s, subkey, strlen(subkey));
  return digest_prefix_le32(&s);
}

/* ---- JSON to BSON -------------------------------------------------------- */

/* BSON lengths are int32, so no document may exceed INT32_MAX bytes. */
#define BSON_MAX ((size_t)INT32_MAX)

static void put_le32(struct ps__buf *b, uint32_t v) {
  unsigned char p[4];
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
  ps__buf_append(b, p, 4);
}

static void put_le64(struct ps__buf *b, uint64_t v) {
  put_le32(b, (uint32_t)v);
  put_le32(b, (uint32_t)(v >> 32));
}

static void put_double(struct ps__buf *b, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  put_le64(b, bits);
}

/* An element name (cstring). Keys with NUL bytes cannot be written. */
static int put_key(struct ps__buf *b, const char *key, size_t len) {
  if (memchr(key, '\0', len))
    return -1;
  ps__buf_append(b, key, len);
  ps__buf_putc(b, '\0');
  return 0;
}

/* The type byte of v as put_value() writes it. */
static enum ps__bson_type bson_type_of(const struct ps__json_value *v) {
  switch (v->type) {
  case PS_JSON_NULL:
    return PS_BSON_NULL;
  case PS_JSON_FALSE:
  case PS_JSON_TRUE:
    return PS_BSON_BOOL;
  case PS_JSON_INT:
    return (v->as.i >= INT32_MIN && v->as.i <= INT32_MAX) ? PS_BSON_INT32
                                                          : PS_BSON_INT64;
  case PS_JSON_UINT:
  case PS_JSON_FLOAT:
    return PS_BSON_DOUBLE;
  case PS_JSON_STRING:
    return PS_BSON_STRING;
  case PS_JSON_ARRAY:
    return PS_BSON_ARRAY;
  case PS_JSON_OBJECT:
    return PS_BSON_DOCUMENT;
  }
  return PS_BSON_NULL;
}

static int put_document(struct ps__buf *b, const struct ps__json_value *v);

static int put_value(struct ps__buf *b, const struct ps__json_value *v) {
  switch (v->type) {
  case PS_JSON_NULL:
    return 0;
  case PS_JSON_FALSE:
  case PS_JSON_TRUE:
    ps__buf_putc(b, v->type == PS_JSON_TRUE ? 1 : 0);
    return 0;
  case PS_JSON_INT:
    if (bson_type_of(v) == PS_BSON_INT32)
      put_le32(b, (uint32_t)(int32_t)v->as.i);
    else
      put_le64(b, (uint64_t)v->as.i);
    return 0;
  case PS_JSON_UINT: /* Beyond int64: the nearest double. */
    put_double(b, (double)v->as.u);
    return 0;
  case PS_JSON_FLOAT:
    put_double(b, v->as.f);
    return 0;
  case PS_JSON_STRING:
    if (v->as.str.len >= BSON_MAX)
      return -1;
    put_le32(b, (uint32_t)(v->as.str.len + 1));
    ps__buf_append(b, v->as.str.ptr, v->as.str.len);
    ps__buf_putc(b, '\0');
    return 0;
  case PS_JSON_ARRAY:
  case PS_JSON_OBJECT:
    return put_document(b, v);
  }
  return -1;
}

static int put_element(struct ps__buf *b, const char *key, size_t key_len,
                       const struct ps__json_value *v) {
  ps__buf_putc(b, (char)bson_type_of(v));
  if (put_key(b, key, key_len) != 0)
    return -1;
  return put_value(b, v);
}

/* An object as a document, an array as a document keyed "0", "1", ... */
static int put_document(struct ps__buf *b, const struct ps__json_value *v) {
  size_t start = b->len, i, len;
  put_le32(b, 0); /* Patched below. */
  if (v->type == PS_JSON_OBJECT) {
    for (i = 0; i < v->as.obj.count; i++) {
      const struct ps__json_member *m = &v->as.obj.members[i];
      if (put_element(b, m->key, m->key_len, m->value) != 0)
        return -1;
    }
  } else {
    for (i = 0; i < v->as.arr.count; i++) {
      char key[24];
      int n = snprintf(key, sizeof key, "%zu", i);
      if (put_element(b, key, (size_t)n, v->as.arr.items[i]) != 0)
        return -1;
    }
  }
  ps__buf_putc(b, '\0');
  if (ps__buf_failed(b))
    return -1;
  len = b->len - start;
  b->data[start] = (char)(len & 0xff);
  b->data[start + 1] = (char)((len >> 8) & 0xff);
  b->data[start + 2] = (char)((len >> 16) & 0xff);
  b->data[start + 3] = (char)((len >> 24) & 0xff);
  return 0;
}

int psd_json_to_bson(const char *json, size_t len, uint8_t **out,
                     size_t *out_len) {
  struct ps__arena arena;
  struct ps__json_value *root;
  struct ps__buf b;
  int rc = -1;
  *out = NULL;
  *out_len = 0;
  ps__arena_init(&arena, 0);
  ps__buf_init(&b, BSON_MAX);
  root = ps__json_parse(&arena, json, len, NULL, 0);
  if (root && root->type == PS_JSON_OBJECT && put_document(&b, root) == 0) {
    *out_len = b.len;
    *out = (uint8_t *)ps__buf_take(&b);
    rc = *out ? 0 : -1;
  }
  ps__buf_free(&b);
  ps__arena_free(&arena);
  return rc;
}
