/*
 * http.h: the header parsing powersync-devserver needs, apart from the
 * daemon so that tests can check it without a socket: media-type
 * negotiation between NDJSON and BSON (protocol.md 5.2), content-coding
 * negotiation for gzip (5.4), and small query-string helpers.
 *
 * Pure functions; safe from any thread.
 */
#ifndef PSD_HTTP_H
#define PSD_HTTP_H

#define PSD_MEDIA_NDJSON "application/x-ndjson"
#define PSD_MEDIA_BSON   "application/vnd.powersync.bson-stream"

/* 1 when the Accept header value prefers BSON over NDJSON (a strictly
 * higher q value for the most specific matching media range); NULL or
 * a tie means NDJSON, as the service decides. */
int psd_http_prefers_bson(const char *accept);

/* 1 when the Accept-Encoding header value allows gzip (gzip, x-gzip or *
 * with q > 0); NULL means identity. */
int psd_http_accepts_gzip(const char *accept_encoding);

/* Parses a whole decimal integer in [min, max]. Returns 0 with *out, or -1
 * (empty, trailing characters, out of range). */
int psd_parse_int(const char *s, long long min, long long max, long long *out);

#endif
