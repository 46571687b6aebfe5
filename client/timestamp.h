/* timestamp.h: google.protobuf.Timestamp as RFC 3339 text, the way proto3 JSON and
 * smimectl's flags write it. Works on any message whose descriptor is the Timestamp
 * one, through the descriptor's fields, so it needs no generated code. */
#ifndef SMIMED_CLIENT_TIMESTAMP_H
#define SMIMED_CLIENT_TIMESTAMP_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* TIMESTAMP_MIN_SECONDS and TIMESTAMP_MAX_SECONDS bound a valid Timestamp:
 * 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define TIMESTAMP_MIN_SECONDS INT64_C(-62135596800)
#define TIMESTAMP_MAX_SECONDS INT64_C(253402300799)

/* TIMESTAMP_TEXT_MAX is the buffer size timestamp_format needs. */
#define TIMESTAMP_TEXT_MAX 40

/* timestamp_is returns 1 if |d| is google.protobuf.Timestamp. */
int timestamp_is(const ProtobufCMessageDescriptor *d);

/* timestamp_parse reads RFC 3339 text ("2026-11-29T10:00:00Z",
 * "2026-11-29t11:00:00.25+01:00"; fractions up to nanoseconds) into seconds since the
 * Unix epoch and nanoseconds. Returns 1, or 0 if |text| is not such a time or is
 * outside years 1 to 9999 (in UTC). */
int timestamp_parse(const char *text, int64_t *out_seconds, int32_t *out_nanos);

/* timestamp_format writes |seconds|/|nanos| as RFC 3339 in UTC into |out| with 0, 3,
 * 6 or 9 fractional digits, as proto3 JSON does ("2026-11-29T06:40:43Z",
 * "2026-11-29T06:40:43.500Z"). Returns 1, or 0 if out of range. */
int timestamp_format(int64_t seconds, int32_t nanos, char out[TIMESTAMP_TEXT_MAX]);

/* timestamp_get reads the seconds and nanos fields of a Timestamp message |m|. Returns
 * 1, or 0 if |m| is not a Timestamp. */
int timestamp_get(const ProtobufCMessage *m, int64_t *out_seconds, int32_t *out_nanos);

/* timestamp_set writes the seconds and nanos fields of a Timestamp message |m|. Returns
 * 1, or 0 if |m| is not a Timestamp. */
int timestamp_set(ProtobufCMessage *m, int64_t seconds, int32_t nanos);

#endif /* SMIMED_CLIENT_TIMESTAMP_H */
