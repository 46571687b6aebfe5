/* json_out.h: any protobuf-c message -> proto3 JSON text, as smimectl prints responses.
 *
 * The canonical proto3 JSON mapping, 2-space indented: lowerCamelCase field names;
 * fields with their default value (0, false, "", empty bytes, first enum value, unset
 * message, empty repeated) left out, except the selected member of a oneof, which is
 * always printed (that is what the oneof is for); enums as their names (as a number if
 * unknown); 64-bit integers as strings; bytes in standard base64 with padding;
 * float/double in the shortest form that reads back the same, with "NaN", "Infinity"
 * and "-Infinity" as strings; google.protobuf.Timestamp as an RFC 3339 UTC string;
 * strings escaped for JSON, with invalid UTF-8 bytes replaced by \ufffd. */
#ifndef SMIMED_CLIENT_JSON_OUT_H
#define SMIMED_CLIENT_JSON_OUT_H

#include <protobuf-c/protobuf-c.h>

#include "client/text.h"

/* json_out_message returns |msg| as JSON followed by a newline (caller frees), or NULL
 * if out of memory. */
char *json_out_message(const ProtobufCMessage *msg);

/* json_out_string appends |n| bytes of |s| to |b| as a quoted JSON string. Returns 1,
 * or 0 if |b| has failed. */
int json_out_string(STRBUF *b, const char *s, size_t n);

/* json_out_base64 appends |n| bytes of |p| to |b| in standard base64 with padding. */
int json_out_base64(STRBUF *b, const uint8_t *p, size_t n);

#endif /* SMIMED_CLIENT_JSON_OUT_H */
