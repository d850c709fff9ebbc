/*
 * codec.h: the byte-level building blocks of powersync-devserver: SHA-256
 * and HMAC-SHA256 (JWT signatures, op checksums), base64url (JWT parts),
 * the service's op checksum (protocol.md 11.3), and JSON-to-BSON
 * conversion of sync lines (the BSON stream format, protocol.md 5.3).
 * Pure functions, libc and our JSON reader only; safe from any thread.
 */
#ifndef PSD_CODEC_H
#define PSD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define PSD_SHA256_LEN 32

void psd_sha256(const void *data, size_t len, uint8_t out[PSD_SHA256_LEN]);
void psd_hmac_sha256(const void *key, size_t key_len, const void *data,
                     size_t len, uint8_t out[PSD_SHA256_LEN]);

/* Base64url without padding (RFC 7515). Returns a NUL-terminated string
 * (caller frees), NULL when out of memory. */
char *psd_base64url_encode(const void *data, size_t len);
/* Decodes s[0..len) (padding tolerated); *out is NUL-terminated for
 * convenience (caller frees). Returns 0, or -1 for invalid input or no
 * memory. */
int psd_base64url_decode(const char *s, size_t len, uint8_t **out,
                         size_t *out_len);

/* Op checksums exactly as the service computes them: the first 4 bytes of
 * SHA-256 as a little-endian u32 of "put.<type>.<id>.<data>" for PUT and
 * "delete.<subkey>" for REMOVE. */
uint32_t psd_op_checksum_put(const char *object_type, const char *object_id,
                             const char *data_json);
uint32_t psd_op_checksum_remove(const char *subkey);

/* Converts one JSON object (a sync line) to a BSON document: objects to
 * embedded documents, arrays to arrays, strings to UTF-8 strings, integers
 * to int32 when they fit else int64, other numbers to doubles, true/false,
 * null. Returns 0 with *out (caller frees) and *out_len, or -1 (not a JSON
 * object, or no memory). */
int psd_json_to_bson(const char *json, size_t len, uint8_t **out,
                     size_t *out_len);

#endif
