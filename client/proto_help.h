/* proto_help.h: the comments of the .proto files, for smimectl's help text, read from a
 * FileDescriptorSet compiled with source info (protos:descriptor_set_lib). protobuf-c's
 * own descriptors carry no comments, and this way the help text is whatever the API's
 * authors wrote next to the RPCs and fields. */
#ifndef SMIMED_CLIENT_PROTO_HELP_H
#define SMIMED_CLIENT_PROTO_HELP_H

#include <stddef.h>
#include <stdint.h>

/* PROTO_HELP is a parsed FileDescriptorSet. */
typedef struct proto_help_st PROTO_HELP;

/* proto_help_new parses the serialized FileDescriptorSet |set| (|len| bytes). Returns
 * NULL if it does not parse. */
PROTO_HELP *proto_help_new(const uint8_t *set, size_t len);

/* proto_help_free frees |h|; NULL is fine. */
void proto_help_free(PROTO_HELP *h);

/* The comment functions below return the comment of one element (the leading comment,
 * else the trailing one) with the comment markers' leading space removed from each line
 * and surrounding blank lines trimmed (caller frees), or NULL if the element has none or
 * is not in the set. Names are full proto names: "smime.v1.SettingsService",
 * "smime.v1.UpdateSettingsRequest", "smime.v1.Layer.Kind" (nested types too). */

/* proto_help_service_comment: the comment of a service. */
char *proto_help_service_comment(const PROTO_HELP *h, const char *service);

/* proto_help_method_comment: the comment of |method| ("UpdateSettings") of |service|. */
char *proto_help_method_comment(const PROTO_HELP *h, const char *service,
                                const char *method);

/* proto_help_message_comment: the comment of a message type. */
char *proto_help_message_comment(const PROTO_HELP *h, const char *message);

/* proto_help_field_comment: the comment of |field| ("enabled") of |message|, else that
 * of the oneof it is in. */
char *proto_help_field_comment(const PROTO_HELP *h, const char *message,
                               const char *field);

/* proto_help_enum_comment: the comment of an enum type. */
char *proto_help_enum_comment(const PROTO_HELP *h, const char *enum_name);

/* proto_help_enum_value_comment: the comment of |value| ("DIRECTION_INCOMING") of
 * |enum_name|. */
char *proto_help_enum_value_comment(const PROTO_HELP *h, const char *enum_name,
                                    const char *value);

/* proto_help_method_streams returns 1 if |method| of |service| is in the set and streams
 * requests or responses (smimectl makes unary calls only), 0 otherwise. */
int proto_help_method_streams(const PROTO_HELP *h, const char *service,
                              const char *method);

#endif /* SMIMED_CLIENT_PROTO_HELP_H */
