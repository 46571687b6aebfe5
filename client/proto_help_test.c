/* proto_help_test.c: comments found in the real descriptor set (protos/). */
#include "client/proto_help.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "protos/descriptor_set.h"

/* comment_is checks |got| (freed here) against |want|; NULL wants no comment. */
static int comment_is(char *got, const char *want) {
  int ok = (got == NULL && want == NULL) ||
           (got != NULL && want != NULL && strcmp(got, want) == 0);
  if (!ok) {
    fprintf(stderr, "got \"%s\" want \"%s\"\n", got != NULL ? got : "(null)",
            want != NULL ? want : "(null)");
  }
  free(got);
  return ok;
}

/* comment_starts checks that |got| (freed here) begins with |want|. */
static int comment_starts(char *got, const char *want) {
  int ok = got != NULL && strncmp(got, want, strlen(want)) == 0;
  if (!ok) {
    fprintf(stderr, "got \"%s\" want \"%s...\"\n", got != NULL ? got : "(null)", want);
  }
  free(got);
  return ok;
}

int main(void) {
  PROTO_HELP *h = proto_help_new(smime_descriptor_set, smime_descriptor_set_len);
  CHECK(h != NULL);

  // The two comments smimectl's help is built around.
  CHECK(comment_is(
      proto_help_method_comment(h, "smime.v1.SettingsService", "UpdateSettings"),
      "UpdateSettings changes settings and writes an audit log entry saying what "
      "changed."));
  // UpdateSettingsRequest.enabled: a field inside a oneof (enabled_value).
  CHECK(comment_is(
      proto_help_field_comment(h, "smime.v1.UpdateSettingsRequest", "enabled"),
      "enabled turns the integration on or off; left unset, it stays as it is."));

  // A field's own comment, over two lines.
  CHECK(comment_is(
      proto_help_field_comment(h, "smime.v1.Settings", "enabled"),
      "enabled: the S/MIME integration is on. Off by default; while off, every "
      "RPC of the\nsmime.v1 services except SettingsService answers "
      "FAILED_PRECONDITION."));
  CHECK(comment_is(proto_help_field_comment(h, "smime.v1.ListLogsRequest", "page_size"),
                   "page_size: at most this many entries (default 50, at most 1000)."));
  CHECK(comment_is(proto_help_field_comment(h, "smime.v1.ListLogsRequest", "direction"),
                   NULL));
  CHECK(
      comment_is(proto_help_field_comment(h, "smime.v1.ListLogsRequest", "nope"), NULL));

  CHECK(comment_starts(proto_help_service_comment(h, "smime.v1.SettingsService"),
                       "SettingsService is open to the admin role only"));
  CHECK(comment_is(proto_help_service_comment(h, "grpc.health.v1.Health"), NULL));
  CHECK(comment_starts(proto_help_method_comment(h, "grpc.health.v1.Health", "Check"),
                       "If the requested service is unknown"));
  CHECK(
      comment_is(proto_help_method_comment(h, "smime.v1.SettingsService", "Nope"), NULL));
  CHECK(comment_is(proto_help_method_comment(h, "smime.v1.NoService", "GetSettings"),
                   NULL));
  CHECK(comment_is(proto_help_message_comment(h, "smime.v1.UpdateSettingsRequest"),
                   "UpdateSettingsRequest changes only what it names."));

  // Nested types: smime.v1.Layer.Kind; its message Layer.
  CHECK(comment_starts(proto_help_message_comment(h, "smime.v1.Layer"), "Layer is one"));
  CHECK(comment_is(proto_help_enum_comment(h, "smime.v1.Layer.Kind"), NULL));
  CHECK(comment_is(proto_help_enum_value_comment(h, "smime.v1.Layer.Kind", "KIND_SIGNED"),
                   NULL));
  CHECK(comment_is(proto_help_field_comment(h, "smime.v1.Layer", "decryption_status"),
                   "For KIND_ENVELOPED and KIND_AUTH_ENVELOPED."));

  // Enums and values; a trailing comment ("= 0;  // PEM") counts.
  CHECK(comment_is(proto_help_enum_comment(h, "smime.v1.Direction"),
                   "Direction of the mail an entry is about."));
  CHECK(comment_is(
      proto_help_enum_value_comment(h, "smime.v1.Direction", "DIRECTION_INCOMING"),
      "DIRECTION_INCOMING: DecryptVerify."));
  CHECK(comment_is(proto_help_enum_value_comment(h, "smime.v1.CertificateFormat",
                                                 "CERTIFICATE_FORMAT_UNSPECIFIED"),
                   "PEM"));

  // Streaming is known from the descriptor set (protobuf-c's descriptors lack it).
  CHECK(proto_help_method_streams(h, "grpc.health.v1.Health", "Watch"));
  CHECK(!proto_help_method_streams(h, "grpc.health.v1.Health", "Check"));
  CHECK(!proto_help_method_streams(h, "smime.v1.LogService", "ListLogs"));
  CHECK(proto_help_method_streams(h, "grpc.reflection.v1.ServerReflection",
                                  "ServerReflectionInfo"));
  proto_help_free(h);

  // Garbage is refused; NULL is freed quietly.
  static const uint8_t garbage[] = {0x0a, 0x05, 0x01};
  CHECK(proto_help_new(garbage, sizeof(garbage)) == NULL);
  proto_help_free(NULL);
  printf("proto_help_test: ok\n");
  return 0;
}
