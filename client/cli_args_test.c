/* cli_args_test.c: flags -> request messages, on the real API types and on
 * testdata/types.proto (every field type). */
#include "client/cli_args.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/ctest/check.h"
#include "client/testdata/types.pb-c.h"
#include "smime/v1/certificate.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"
#include "smime/v1/settings.pb-c.h"

#define MAX_ARGS 32

/* collect gathers the NULL-terminated arguments after |first| into |argv|. */
static int collect(char **argv, const char *first, va_list ap) {
  int argc = 0;
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
    CHECK(argc < MAX_ARGS);
    argv[argc++] = (char *)a;
  }
  return argc;
}

/* parse_ok parses the flags (NULL-terminated) and fails the test on an error. */
static ProtobufCMessage *parse_ok(const ProtobufCMessageDescriptor *desc,
                                  const char *first, ...) {
  char *argv[MAX_ARGS];
  va_list ap;
  va_start(ap, first);
  int argc = collect(argv, first, ap);
  va_end(ap);
  ProtobufCMessage *m = NULL;
  char *err = NULL;
  if (!cli_args_parse(desc, argc, argv, NULL, 0, &m, &err)) {
    fprintf(stderr, "unexpected error: %s\n", err);
    CHECK(0);
  }
  CHECK(m != NULL);
  CHECK(err == NULL);
  CHECK(m->descriptor == desc);
  return m;
}

/* parse_err parses the flags, expects an error and returns its message. */
static char *parse_err(const ProtobufCMessageDescriptor *desc, const char *first, ...) {
  char *argv[MAX_ARGS];
  va_list ap;
  va_start(ap, first);
  int argc = collect(argv, first, ap);
  va_end(ap);
  ProtobufCMessage *m = (ProtobufCMessage *)1;
  char *err = NULL;
  CHECK(!cli_args_parse(desc, argc, argv, NULL, 0, &m, &err));
  CHECK(m == NULL);
  CHECK(err != NULL);
  return err;
}

/* contains checks that |err| contains |want| (printing it otherwise) and frees it. */
static int contains(char *err, const char *want) {
  int ok = strstr(err, want) != NULL;
  if (!ok) {
    fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, want);
  }
  free(err);
  return ok;
}

static void test_scalars(void) {
  Smime__V1__ListLogsRequest *r = (Smime__V1__ListLogsRequest *)parse_ok(
      &smime__v1__list_logs_request__descriptor, "--page-size", "10", "--message-id=a b",
      "--address", "x@example.com", NULL);
  CHECK(r->page_size == 10);
  CHECK(strcmp(r->message_id, "a b") == 0);
  CHECK(strcmp(r->address, "x@example.com") == 0);
  CHECK(strcmp(r->page_token, "") == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // snake_case spelling works too; values may start with '-'.
  r = (Smime__V1__ListLogsRequest *)parse_ok(&smime__v1__list_logs_request__descriptor,
                                             "--page_size=-5", "--page-token", "--x",
                                             NULL);
  CHECK(r->page_size == -5);
  CHECK(strcmp(r->page_token, "--x") == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // No flags: the empty request.
  r = (Smime__V1__ListLogsRequest *)parse_ok(&smime__v1__list_logs_request__descriptor,
                                             NULL);
  CHECK(r->page_size == 0 && r->start_time == NULL);
  protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_all_types(void) {
  Smimectl__Test__AllTypes *t = (Smimectl__Test__AllTypes *)parse_ok(
      &smimectl__test__all_types__descriptor, "--i32", "-2147483648", "--i64",
      "-9223372036854775808", "--u32", "4294967295", "--u64", "18446744073709551615",
      "--s32", "-7", "--s64", "9223372036854775807", "--f32", "+12", "--f64", "13",
      "--sf32", "-14", "--sf64", "-15", "--fl", "1.5", "--db", "-2.25e-3", "--text",
      "h\xc3\xa4llo", "--snake-case-name", "s", NULL);
  CHECK(t->i32 == INT32_MIN);
  CHECK(t->i64 == INT64_MIN);
  CHECK(t->u32 == UINT32_MAX);
  CHECK(t->u64 == UINT64_MAX);
  CHECK(t->s32 == -7);
  CHECK(t->s64 == INT64_MAX);
  CHECK(t->f32 == 12);
  CHECK(t->f64 == 13);
  CHECK(t->sf32 == -14);
  CHECK(t->sf64 == -15);
  CHECK(t->fl == 1.5f);
  CHECK(t->db == -2.25e-3);
  CHECK(strcmp(t->text, "h\xc3\xa4llo") == 0);
  CHECK(strcmp(t->snake_case_name, "s") == 0);
  protobuf_c_message_free_unpacked(&t->base, NULL);
}

static void test_bool(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__sign_encrypt_request__descriptor;
  Smime__V1__SignEncryptRequest *r =
      (Smime__V1__SignEncryptRequest *)parse_ok(d, "--sign", "--encrypt=false", NULL);
  CHECK(r->sign == 1);
  CHECK(r->encrypt == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  r = (Smime__V1__SignEncryptRequest *)parse_ok(d, "--sign=true", "--encrypt=TRUE", NULL);
  CHECK(r->sign == 1 && r->encrypt == 1);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  r = (Smime__V1__SignEncryptRequest *)parse_ok(d, "--sign=0", "--encrypt=1", NULL);
  CHECK(r->sign == 0 && r->encrypt == 1);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  CHECK(contains(parse_err(d, "--sign=maybe", NULL),
                 "--sign: \"maybe\" is not true or false"));
  // A bool never takes the next word: "false" is then a stray argument, explained.
  CHECK(contains(parse_err(d, "--sign", "false", NULL), "like --sign=false"));
}

static void test_oneof_presence(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__update_settings_request__descriptor;
  Smime__V1__UpdateSettingsRequest *r =
      (Smime__V1__UpdateSettingsRequest *)parse_ok(d, "--enabled=false", NULL);
  CHECK(r->enabled_value_case ==
        SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED);
  CHECK(r->enabled == 0);
  // false is on the wire: field 1, varint 0.
  uint8_t buf[16];
  CHECK(protobuf_c_message_get_packed_size(&r->base) == 2);
  CHECK(protobuf_c_message_pack(&r->base, buf) == 2);
  CHECK(buf[0] == 0x08 && buf[1] == 0x00);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  r = (Smime__V1__UpdateSettingsRequest *)parse_ok(d, "--enabled", NULL);
  CHECK(r->enabled_value_case ==
        SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED);
  CHECK(r->enabled == 1);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  r = (Smime__V1__UpdateSettingsRequest *)parse_ok(d, "--remove-groups", "x", NULL);
  CHECK(r->enabled_value_case ==
        SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE__NOT_SET);
  CHECK(protobuf_c_message_get_packed_size(&r->base) == 3);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // Filters of ListCertificates, one oneof each.
  Smime__V1__ListCertificatesRequest *l = (Smime__V1__ListCertificatesRequest *)parse_ok(
      &smime__v1__list_certificates_request__descriptor, "--ca=false", "--usable", NULL);
  CHECK(l->ca_filter_case == SMIME__V1__LIST_CERTIFICATES_REQUEST__CA_FILTER_CA);
  CHECK(l->ca == 0);
  CHECK(l->usable_filter_case ==
        SMIME__V1__LIST_CERTIFICATES_REQUEST__USABLE_FILTER_USABLE);
  CHECK(l->usable == 1);
  CHECK(l->has_private_key_filter_case ==
        SMIME__V1__LIST_CERTIFICATES_REQUEST__HAS_PRIVATE_KEY_FILTER__NOT_SET);
  protobuf_c_message_free_unpacked(&l->base, NULL);

  // Two members of one oneof conflict; a message member works through dots.
  const ProtobufCMessageDescriptor *t = &smimectl__test__all_types__descriptor;
  CHECK(contains(parse_err(t, "--choice-text", "a", "--choice-num", "1", NULL),
                 "--choice-num cannot be combined with --choice-text"));
  CHECK(contains(parse_err(t, "--choice-msg.name", "a", "--choice-text", "b", NULL),
                 "--choice-text cannot be combined with --choice-msg"));
  Smimectl__Test__AllTypes *a = (Smimectl__Test__AllTypes *)parse_ok(
      t, "--choice-msg.name", "a", "--choice-msg.n", "2", NULL);
  CHECK(a->choice_case == SMIMECTL__TEST__ALL_TYPES__CHOICE_CHOICE_MSG);
  CHECK(strcmp(a->choice_msg->name, "a") == 0 && a->choice_msg->n == 2);
  protobuf_c_message_free_unpacked(&a->base, NULL);
  a = (Smimectl__Test__AllTypes *)parse_ok(t, "--choice-num=0", NULL);
  CHECK(a->choice_case == SMIMECTL__TEST__ALL_TYPES__CHOICE_CHOICE_NUM);
  CHECK(a->choice_num == 0);
  protobuf_c_message_free_unpacked(&a->base, NULL);
}

static void test_repeated(void) {
  Smime__V1__SignEncryptRequest *r = (Smime__V1__SignEncryptRequest *)parse_ok(
      &smime__v1__sign_encrypt_request__descriptor, "--recipients", "a@x",
      "--recipients=b@x", "--recipients", "c@x", NULL);
  CHECK(r->n_recipients == 3);
  CHECK(strcmp(r->recipients[0], "a@x") == 0);
  CHECK(strcmp(r->recipients[1], "b@x") == 0);
  CHECK(strcmp(r->recipients[2], "c@x") == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  Smimectl__Test__AllTypes *t = (Smimectl__Test__AllTypes *)parse_ok(
      &smimectl__test__all_types__descriptor, "--nums", "1", "--nums", "-2", "--colors",
      "red", "--colors", "dark-blue", "--blobs", "x", "--blobs", "yz", "--times",
      "1970-01-01T00:00:01Z", "--times", "1970-01-01T00:00:02Z", NULL);
  CHECK(t->n_nums == 2 && t->nums[0] == 1 && t->nums[1] == -2);
  CHECK(t->n_colors == 2 && t->colors[0] == SMIMECTL__TEST__COLOR__COLOR_RED &&
        t->colors[1] == SMIMECTL__TEST__COLOR__COLOR_DARK_BLUE);
  CHECK(t->n_blobs == 2 && t->blobs[1].len == 2 &&
        memcmp(t->blobs[1].data, "yz", 2) == 0);
  CHECK(t->n_times == 2 && t->times[1]->seconds == 2);
  protobuf_c_message_free_unpacked(&t->base, NULL);

  // A singular field twice is a mistake, not "last wins".
  CHECK(contains(parse_err(&smime__v1__list_logs_request__descriptor, "--page-size", "1",
                           "--page-size", "2", NULL),
                 "--page-size: given more than once"));
}

static void test_bytes(void) {
  const ProtobufCMessageDescriptor *d =
      &smime__v1__import_certificates_request__descriptor;
  char path[] = "/tmp/cli_args_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  static const uint8_t content[] = {'P', 'K', 0x00, 0xff, 0x80, '\n', 0x00};
  CHECK(write(fd, content, sizeof(content)) == (ssize_t)sizeof(content));
  close(fd);
  char flag[64];
  snprintf(flag, sizeof(flag), "@%s", path);

  Smime__V1__ImportCertificatesRequest *r =
      (Smime__V1__ImportCertificatesRequest *)parse_ok(d, "--data", flag, "--password",
                                                       "secret", NULL);
  CHECK(r->data.len == sizeof(content));
  CHECK(memcmp(r->data.data, content, sizeof(content)) == 0);
  CHECK(strcmp(r->password, "secret") == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // An empty file gives empty bytes.
  fd = open(path, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0);
  close(fd);
  r = (Smime__V1__ImportCertificatesRequest *)parse_ok(d, "--data", flag, NULL);
  CHECK(r->data.len == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  unlink(path);

  // Text is taken as it is; @@ escapes a leading @.
  r = (Smime__V1__ImportCertificatesRequest *)parse_ok(d, "--data=-----BEGIN", NULL);
  CHECK(r->data.len == 10 && memcmp(r->data.data, "-----BEGIN", 10) == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);
  r = (Smime__V1__ImportCertificatesRequest *)parse_ok(d, "--data", "@@home", NULL);
  CHECK(r->data.len == 5 && memcmp(r->data.data, "@home", 5) == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  CHECK(contains(parse_err(d, "--data", "@/nonexistent/x.p12", NULL),
                 "--data: cannot read /nonexistent/x.p12: No such file or directory"));
  CHECK(contains(parse_err(d, "--data", "@", NULL), "--data: \"@\" names no file"));
}

static void test_nested(void) {
  Smime__V1__SignEncryptRequest *r = (Smime__V1__SignEncryptRequest *)parse_ok(
      &smime__v1__sign_encrypt_request__descriptor, "--options.digest", "sha384",
      "--options.allow-expired", "--options.signer_sha256_fingerprint=ab", "--sign",
      NULL);
  CHECK(r->options != NULL);
  CHECK(r->options->digest == SMIME__V1__DIGEST_ALGORITHM__DIGEST_ALGORITHM_SHA384);
  CHECK(r->options->allow_expired == 1);
  CHECK(strcmp(r->options->signer_sha256_fingerprint, "ab") == 0);
  CHECK(r->sign == 1);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // Recursive types: as deep as the user goes.
  Smimectl__Test__AllTypes *t = (Smimectl__Test__AllTypes *)parse_ok(
      &smimectl__test__all_types__descriptor, "--inner.child.child.name", "deep",
      "--inner.name", "top", "--inner.tags", "a", "--inner.tags", "b", NULL);
  CHECK(strcmp(t->inner->name, "top") == 0);
  CHECK(t->inner->n_tags == 2);
  CHECK(strcmp(t->inner->child->child->name, "deep") == 0);
  CHECK(t->inner->child->name[0] == '\0');
  protobuf_c_message_free_unpacked(&t->base, NULL);

  CHECK(contains(
      parse_err(&smime__v1__sign_encrypt_request__descriptor, "--options", "x", NULL),
      "--options is a message: set its fields (--options.digest"));
  CHECK(contains(parse_err(&smime__v1__sign_encrypt_request__descriptor,
                           "--options.bogus", "x", NULL),
                 "unknown flag --options.bogus"));
  CHECK(
      contains(parse_err(&smime__v1__sign_encrypt_request__descriptor, "--sign.x", NULL),
               "unknown flag --sign.x"));
}

static void test_repeated_message_split(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__update_settings_request__descriptor;
  Smime__V1__UpdateSettingsRequest *r = (Smime__V1__UpdateSettingsRequest *)parse_ok(
      d, "--group-defaults.group", "a", "--group-defaults.default-sign",
      "--group-defaults.group", "b", "--group-defaults.default-encrypt",
      "--group-defaults.default-sign=false", "--group-defaults.default-sign", NULL);
  // a{sign}, b{encrypt, sign=false}, {sign}: default-sign given again starts a third.
  CHECK(r->n_group_defaults == 3);
  CHECK(strcmp(r->group_defaults[0]->group, "a") == 0);
  CHECK(r->group_defaults[0]->default_sign == 1);
  CHECK(r->group_defaults[0]->default_encrypt == 0);
  CHECK(strcmp(r->group_defaults[1]->group, "b") == 0);
  CHECK(r->group_defaults[1]->default_encrypt == 1);
  CHECK(r->group_defaults[1]->default_sign == 0);
  CHECK(r->group_defaults[2]->group[0] == '\0');
  CHECK(r->group_defaults[2]->default_sign == 1);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // The flags of an element may come in any order.
  r = (Smime__V1__UpdateSettingsRequest *)parse_ok(d, "--group-defaults.default-sign",
                                                   "--group-defaults.group", "a",
                                                   "--group-defaults.group", "b", NULL);
  CHECK(r->n_group_defaults == 2);
  CHECK(r->group_defaults[0]->default_sign == 1);
  CHECK(strcmp(r->group_defaults[0]->group, "a") == 0);
  CHECK(strcmp(r->group_defaults[1]->group, "b") == 0);
  CHECK(r->group_defaults[1]->default_sign == 0);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  // A repeated field inside an element adds to the element instead.
  Smimectl__Test__AllTypes *t = (Smimectl__Test__AllTypes *)parse_ok(
      &smimectl__test__all_types__descriptor, "--items.name", "x", "--items.tags", "1",
      "--items.tags", "2", "--items.name", "y", "--items.child.name", "c", NULL);
  CHECK(t->n_items == 2);
  CHECK(t->items[0]->n_tags == 2);
  CHECK(strcmp(t->items[1]->name, "y") == 0);
  CHECK(strcmp(t->items[1]->child->name, "c") == 0);
  protobuf_c_message_free_unpacked(&t->base, NULL);
}

static void test_enums(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__list_logs_request__descriptor;
  static const char *const spellings[] = {"incoming", "INCOMING", "DIRECTION_INCOMING",
                                          "direction_incoming", "Incoming"};
  for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
    Smime__V1__ListLogsRequest *r =
        (Smime__V1__ListLogsRequest *)parse_ok(d, "--direction", spellings[i], NULL);
    CHECK(r->direction == SMIME__V1__DIRECTION__DIRECTION_INCOMING);
    protobuf_c_message_free_unpacked(&r->base, NULL);
  }
  Smime__V1__ListLogsRequest *r = (Smime__V1__ListLogsRequest *)parse_ok(
      d, "--operation", "import-private-key", "--status=LOG_STATUS_FAILURE", NULL);
  CHECK(r->operation == SMIME__V1__OPERATION__OPERATION_IMPORT_PRIVATE_KEY);
  CHECK(r->status == SMIME__V1__LOG_STATUS__LOG_STATUS_FAILURE);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  Smime__V1__SignEncryptRequest *s = (Smime__V1__SignEncryptRequest *)parse_ok(
      &smime__v1__sign_encrypt_request__descriptor, "--options.cipher", "aes256-gcm",
      NULL);
  CHECK(s->options->cipher == SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES256_GCM);
  protobuf_c_message_free_unpacked(&s->base, NULL);

  CHECK(contains(
      parse_err(d, "--direction", "sideways", NULL),
      "--direction: \"sideways\" is not one of: unspecified, incoming, outgoing, "
      "admin"));
  // Numbers are not names.
  CHECK(contains(parse_err(d, "--direction", "1", NULL), "is not one of"));
}

static void test_timestamp(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__list_logs_request__descriptor;
  Smime__V1__ListLogsRequest *r = (Smime__V1__ListLogsRequest *)parse_ok(
      d, "--start-time", "2026-11-29T10:00:00Z",
      "--end-time=2026-11-29T11:00:00.25+01:00", NULL);
  CHECK(r->start_time != NULL);
  CHECK(r->start_time->seconds == 1795946400);
  CHECK(r->start_time->nanos == 0);
  CHECK(r->end_time->seconds == 1795946400);
  CHECK(r->end_time->nanos == 250000000);
  protobuf_c_message_free_unpacked(&r->base, NULL);

  CHECK(contains(parse_err(d, "--start-time", "2026-11-29", NULL),
                 "--start-time: \"2026-11-29\" is not an RFC 3339 time"));
  CHECK(contains(parse_err(d, "--start-time", "2026-02-30T00:00:00Z", NULL),
                 "is not an RFC 3339 time"));
  // A Timestamp is one value, not a message with sub-flags.
  CHECK(contains(parse_err(d, "--start-time.seconds", "5", NULL),
                 "unknown flag --start-time.seconds"));
}

static void test_numbers(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__list_logs_request__descriptor;
  CHECK(contains(parse_err(d, "--page-size", "ten", NULL),
                 "--page-size: \"ten\" is not a valid int32"));
  CHECK(contains(parse_err(d, "--page-size", "10x", NULL), "is not a valid int32"));
  CHECK(contains(parse_err(d, "--page-size", "", NULL), "is not a valid int32"));
  CHECK(contains(parse_err(d, "--page-size", " 1", NULL), "is not a valid int32"));
  CHECK(contains(parse_err(d, "--page-size", "1.5", NULL), "is not a valid int32"));
  CHECK(contains(parse_err(d, "--page-size", "2147483648", NULL),
                 "--page-size: 2147483648 is out of range for int32 (-2147483648 to "
                 "2147483647)"));
  const ProtobufCMessageDescriptor *t = &smimectl__test__all_types__descriptor;
  CHECK(contains(parse_err(t, "--u32", "-1", NULL),
                 "--u32: -1 is out of range for uint32"));
  CHECK(contains(parse_err(t, "--u32", "4294967296", NULL), "out of range for uint32"));
  CHECK(contains(parse_err(t, "--u64", "18446744073709551616", NULL),
                 "out of range for uint64"));
  CHECK(contains(parse_err(t, "--i64", "9223372036854775808", NULL),
                 "out of range for int64"));
  CHECK(contains(parse_err(t, "--u64", "x", NULL), "\"x\" is not a valid uint64"));
  CHECK(contains(parse_err(t, "--db", "1e999", NULL), "out of range for double"));
  CHECK(contains(parse_err(t, "--fl", "1e39", NULL), "out of range for float"));
  CHECK(contains(parse_err(t, "--fl", "one", NULL), "\"one\" is not a valid float"));
}

static void test_errors(void) {
  const ProtobufCMessageDescriptor *d = &smime__v1__list_logs_request__descriptor;
  CHECK(contains(parse_err(d, "--bogus", NULL), "unknown flag --bogus"));
  CHECK(contains(parse_err(d, "--bogus=1", NULL), "unknown flag --bogus"));
  CHECK(contains(parse_err(d, "--pagesize", "1", NULL),
                 "unknown flag --pagesize (did you mean --page-size?)"));
  CHECK(contains(parse_err(d, "--page-size", NULL), "--page-size needs a value"));
  CHECK(contains(parse_err(d, "incoming", NULL), "unexpected argument \"incoming\""));
  CHECK(contains(parse_err(d, "-d", NULL), "unexpected argument \"-d\""));
  CHECK(contains(parse_err(d, "--", NULL), "unexpected argument \"--\""));
  CHECK(contains(parse_err(d, "--address", "\xff\xfe", NULL),
                 "--address: the text is not valid UTF-8"));
}

static void test_extra_flags(void) {
  const ProtobufCMessageDescriptor *d =
      &smime__v1__export_certificate_request__descriptor;
  CLI_EXTRA_FLAG extra[] = {
      {"addr", 1, NULL, 0},
      {"raw", 1, NULL, 0},
      {"verbose", 0, NULL, 0},
  };
  char *argv[] = {"--raw",          "data",      "--format", "der",
                  "--addr=unix:/x", "--verbose", "--addr",   "unix:/y"};
  ProtobufCMessage *m = NULL;
  char *err = NULL;
  CHECK(cli_args_parse(d, 8, argv, extra, 3, &m, &err));
  Smime__V1__ExportCertificateRequest *r = (Smime__V1__ExportCertificateRequest *)m;
  CHECK(r->format == SMIME__V1__CERTIFICATE_FORMAT__CERTIFICATE_FORMAT_DER);
  CHECK(strcmp(extra[0].value, "unix:/y") == 0 && extra[0].given == 2);
  CHECK(strcmp(extra[1].value, "data") == 0 && extra[1].given == 1);
  CHECK(extra[2].value == NULL && extra[2].given == 1);
  protobuf_c_message_free_unpacked(m, NULL);

  // A request field wins over an extra flag of the same name.
  CLI_EXTRA_FLAG format_extra[] = {{"format", 1, NULL, 0}};
  char *argv2[] = {"--format", "pem"};
  CHECK(cli_args_parse(d, 2, argv2, format_extra, 1, &m, &err));
  CHECK(((Smime__V1__ExportCertificateRequest *)m)->format ==
        SMIME__V1__CERTIFICATE_FORMAT__CERTIFICATE_FORMAT_PEM);
  CHECK(format_extra[0].given == 0);
  protobuf_c_message_free_unpacked(m, NULL);

  // On failure the extras are cleared again.
  char *argv3[] = {"--raw", "data", "--bogus"};
  CHECK(!cli_args_parse(d, 3, argv3, extra, 3, &m, &err));
  CHECK(extra[1].value == NULL && extra[1].given == 0);
  CHECK(contains(err, "unknown flag --bogus"));
  char *argv4[] = {"--verbose=yes"};
  CHECK(!cli_args_parse(d, 1, argv4, extra, 3, &m, &err));
  CHECK(contains(err, "--verbose takes no value"));
  char *argv5[] = {"--addr"};
  CHECK(!cli_args_parse(d, 1, argv5, extra, 3, &m, &err));
  CHECK(contains(err, "--addr needs a value"));
  char *argv6[] = {"--ra", "x"};
  CHECK(!cli_args_parse(d, 2, argv6, extra, 3, &m, &err));
  CHECK(contains(err, "did you mean --raw?"));
}

static void test_resolve(void) {
  const ProtobufCFieldDescriptor *fields[CLI_MAX_DEPTH];
  size_t n;
  const char *path = "settings.group-defaults";
  CHECK(cli_args_resolve(&smime__v1__get_settings_response__descriptor, path,
                         strlen(path), fields, &n));
  CHECK(n == 2);
  CHECK(strcmp(fields[0]->name, "settings") == 0);
  CHECK(strcmp(fields[1]->name, "group_defaults") == 0);
  path = "settings.update_time";
  CHECK(cli_args_resolve(&smime__v1__get_settings_response__descriptor, path,
                         strlen(path), fields, &n));
  CHECK(n == 2);
  path = "settings.update-time.seconds";
  CHECK(!cli_args_resolve(&smime__v1__get_settings_response__descriptor, path,
                          strlen(path), fields, &n));
  CHECK(n == 0);
  path = "settings.";
  CHECK(!cli_args_resolve(&smime__v1__get_settings_response__descriptor, path,
                          strlen(path), fields, &n));
  path = "";
  CHECK(!cli_args_resolve(&smime__v1__get_settings_response__descriptor, path,
                          strlen(path), fields, &n));
  path = "inner.child.child.child.child.child.child.child.name";
  CHECK(!cli_args_resolve(&smimectl__test__all_types__descriptor, path, strlen(path),
                          fields, &n));
}

int main(void) {
  test_scalars();
  test_all_types();
  test_bool();
  test_oneof_presence();
  test_repeated();
  test_bytes();
  test_nested();
  test_repeated_message_split();
  test_enums();
  test_timestamp();
  test_numbers();
  test_errors();
  test_extra_flags();
  test_resolve();
  printf("cli_args_test: ok\n");
  return 0;
}
