/* names_test.c: proto names on the command line and in JSON. */
#include "client/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "client/testdata/types.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/message.pb-c.h"

static int owned_is(char *got, const char *want) {
  int ok = got != NULL && strcmp(got, want) == 0;
  if (!ok) {
    fprintf(stderr, "got \"%s\" want \"%s\"\n", got != NULL ? got : "(null)", want);
  }
  free(got);
  return ok;
}

int main(void) {
  CHECK(owned_is(names_kebab_from_camel("ImportCertificates"), "import-certificates"));
  CHECK(owned_is(names_kebab_from_camel("Check"), "check"));
  CHECK(owned_is(names_kebab_from_camel("GetHTTPStatus"), "get-http-status"));
  CHECK(owned_is(names_kebab_from_camel("ListV2Things"), "list-v2-things"));
  CHECK(owned_is(names_kebab_from_camel("SettingsService"), "settings-service"));
  CHECK(owned_is(names_kebab_from_snake("page_size"), "page-size"));
  CHECK(owned_is(names_kebab_from_snake("sha256_fingerprint"), "sha256-fingerprint"));
  CHECK(owned_is(names_json_from_snake("sha256_fingerprint"), "sha256Fingerprint"));
  CHECK(owned_is(names_json_from_snake("group_defaults"), "groupDefaults"));
  CHECK(owned_is(names_json_from_snake("new"), "new"));
  CHECK(owned_is(names_json_from_snake("a_b_c"), "aBC"));

  CHECK(names_flag_matches("page-size", 9, "page_size"));
  CHECK(names_flag_matches("page_size", 9, "page_size"));
  CHECK(names_flag_matches("page-size.x", 9, "page_size"));
  CHECK(!names_flag_matches("page-siz", 8, "page_size"));
  CHECK(!names_flag_matches("Page-size", 9, "page_size"));

  const ProtobufCEnumDescriptor *dir = &smime__v1__direction__descriptor;
  CHECK(names_enum_prefix_len(dir) == strlen("DIRECTION_"));
  CHECK(names_enum_prefix_len(&smime__v1__content_cipher__descriptor) ==
        strlen("CONTENT_CIPHER_"));
  CHECK(names_enum_prefix_len(&smime__v1__layer__kind__descriptor) == strlen("KIND_"));
  CHECK(names_enum_prefix_len(&smimectl__test__color__descriptor) == strlen("COLOR_"));
  CHECK(names_enum_value_by_text(dir, "admin")->value ==
        SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  CHECK(names_enum_value_by_text(dir, "DIRECTION_ADMIN")->value ==
        SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  CHECK(names_enum_value_by_text(dir, "aDmIn")->value ==
        SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  CHECK(names_enum_value_by_text(dir, "direction-admin")->value ==
        SMIME__V1__DIRECTION__DIRECTION_ADMIN);
  CHECK(names_enum_value_by_text(dir, "adm") == NULL);
  CHECK(names_enum_value_by_text(dir, "") == NULL);
  CHECK(names_enum_value_by_text(dir, "DIRECTION_") == NULL);
  CHECK(names_enum_value_by_text(&smime__v1__content_cipher__descriptor, "aes128-cbc")
            ->value == SMIME__V1__CONTENT_CIPHER__CONTENT_CIPHER_AES128_CBC);
  const ProtobufCEnumValue *v = names_enum_value_by_text(dir, "incoming");
  CHECK(owned_is(names_enum_short(dir, v), "incoming"));
  v = names_enum_value_by_text(&smimectl__test__color__descriptor, "dark_blue");
  CHECK(owned_is(names_enum_short(&smimectl__test__color__descriptor, v), "dark-blue"));

  CHECK(names_edit_distance("", "") == 0);
  CHECK(names_edit_distance("page-size", "page-size") == 0);
  CHECK(names_edit_distance("pagesize", "page-size") == 1);
  CHECK(names_edit_distance("kitten", "sitting") == 3);
  CHECK(names_edit_distance("", "abc") == 3);
  printf("names_test: ok\n");
  return 0;
}
