/* names.h: how proto names appear on smimectl's command line and in its JSON, derived
 * from the protobuf-c descriptors alone so that a new RPC or field needs no code. */
#ifndef SMIMED_CLIENT_NAMES_H
#define SMIMED_CLIENT_NAMES_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* names_kebab_from_camel returns the kebab-case form of a CamelCase method name
 * ("ImportCertificates" -> "import-certificates", "GetHTTPStatus" -> "get-http-status"),
 * or NULL if out of memory. Caller frees. */
char *names_kebab_from_camel(const char *camel);

/* names_kebab_from_snake returns the kebab-case form of a snake_case field name
 * ("page_size" -> "page-size"), or NULL. Caller frees. */
char *names_kebab_from_snake(const char *snake);

/* names_json_from_snake returns the proto3 JSON (lowerCamelCase) name of a field, as
 * protoc computes json_name ("sha256_fingerprint" -> "sha256Fingerprint"), or NULL.
 * Caller frees. (protobuf-c 1.4 descriptors do not carry json_name.) */
char *names_json_from_snake(const char *snake);

/* names_flag_matches returns 1 if |n| bytes of command-line text |s| name the field
 * |field| (snake_case): '-' and '_' are interchangeable, so both --page-size and
 * --page_size work. */
int names_flag_matches(const char *s, size_t n, const char *field);

/* names_enum_prefix_len returns the length of the prefix all values of |e| share, up to
 * and including an underscore ("DIRECTION_" for DIRECTION_INCOMING...), which a user may
 * leave out; 0 if there is none. */
size_t names_enum_prefix_len(const ProtobufCEnumDescriptor *e);

/* names_enum_value_by_text returns the value of |e| that |text| names: the full name or
 * the name without the common prefix, case-insensitive, '-' standing for '_'
 * ("incoming", "DIRECTION_INCOMING", "aes256-gcm"). NULL if none. */
const ProtobufCEnumValue *names_enum_value_by_text(const ProtobufCEnumDescriptor *e,
                                                   const char *text);

/* names_enum_short returns the short name of |v| as a user types it: lowercase, without
 * the common prefix, '-' for '_' ("incoming", "aes256-gcm"), for help text and error
 * messages; or NULL. Caller frees. */
char *names_enum_short(const ProtobufCEnumDescriptor *e, const ProtobufCEnumValue *v);

/* names_edit_distance returns the Levenshtein distance of |a| and |b|, to suggest the
 * flag or subcommand a user probably meant; SIZE_MAX for strings over 100 bytes. */
size_t names_edit_distance(const char *a, const char *b);

#endif /* SMIMED_CLIENT_NAMES_H */
