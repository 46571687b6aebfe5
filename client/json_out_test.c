/* json_out_test.c: proto3 JSON of every field type, on testdata/types.proto and the
 * real API types. Messages are built on the stack; the expected text is exact. */
#include "client/json_out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "client/testdata/types.pb-c.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/settings.pb-c.h"

/* json_is checks that |m| prints as |want|, showing both otherwise. */
static int json_is(const void *m, const char *want) {
  char *got = json_out_message((const ProtobufCMessage *)m);
  CHECK(got != NULL);
  int ok = strcmp(got, want) == 0;
  if (!ok) {
    fprintf(stderr, "got:\n%s\nwant:\n%s\n", got, want);
  }
  free(got);
  return ok;
}

/* string_json returns the JSON string of |n| bytes of |s|. Caller frees. */
static char *string_json(const char *s, size_t n) {
  STRBUF b;
  strbuf_init(&b);
  CHECK(json_out_string(&b, s, n));
  return strbuf_finish(&b);
}

static int string_is(const char *s, size_t n, const char *want) {
  char *got = string_json(s, n);
  int ok = strcmp(got, want) == 0;
  if (!ok) {
    fprintf(stderr, "got %s want %s\n", got, want);
  }
  free(got);
  return ok;
}

static int base64_is(const char *s, size_t n, const char *want) {
  STRBUF b;
  strbuf_init(&b);
  CHECK(json_out_base64(&b, (const uint8_t *)s, n));
  char *got = strbuf_finish(&b);
  int ok = strcmp(got, want) == 0;
  if (!ok) {
    fprintf(stderr, "got %s want %s\n", got, want);
  }
  free(got);
  return ok;
}

static void test_defaults_omitted(void) {
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  CHECK(json_is(&t, "{}\n"));
  // Explicit zero values are still defaults in proto3: nothing to print.
  t.i32 = 0;
  t.text = "";
  t.flag = 0;
  t.color = SMIMECTL__TEST__COLOR__COLOR_UNSPECIFIED;
  CHECK(json_is(&t, "{}\n"));
  // -0.0 is not the default (it has a sign), as in protobuf's own printers.
  t.db = -0.0;
  CHECK(json_is(&t, "{\n  \"db\": -0\n}\n"));
}

static void test_scalars(void) {
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.i32 = -2147483647 - 1;
  t.i64 = INT64_MIN;
  t.u32 = UINT32_MAX;
  t.u64 = UINT64_MAX;
  t.s32 = -7;
  t.s64 = 42;
  t.f32 = 12;
  t.f64 = 13;
  t.sf32 = -14;
  t.sf64 = -15;
  t.fl = 0.1f;
  t.db = 0.1;
  t.flag = 1;
  t.text = "hi";
  t.snake_case_name = "x";
  CHECK(json_is(&t,
                "{\n"
                "  \"i32\": -2147483648,\n"
                "  \"i64\": \"-9223372036854775808\",\n"
                "  \"u32\": 4294967295,\n"
                "  \"u64\": \"18446744073709551615\",\n"
                "  \"s32\": -7,\n"
                "  \"s64\": \"42\",\n"
                "  \"f32\": 12,\n"
                "  \"f64\": \"13\",\n"
                "  \"sf32\": -14,\n"
                "  \"sf64\": \"-15\",\n"
                "  \"fl\": 0.1,\n"
                "  \"db\": 0.1,\n"
                "  \"flag\": true,\n"
                "  \"text\": \"hi\",\n"
                "  \"snakeCaseName\": \"x\"\n"
                "}\n"));
}

static void test_reals(void) {
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.db = 1.0 / 3.0;
  t.fl = 1.0f / 3.0f;
  CHECK(json_is(&t, "{\n  \"fl\": 0.33333334,\n  \"db\": 0.3333333333333333\n}\n"));
  t.db = 1e300;
  t.fl = 2.5f;
  CHECK(json_is(&t, "{\n  \"fl\": 2.5,\n  \"db\": 1e+300\n}\n"));
  t.db = NAN;
  t.fl = -INFINITY;
  CHECK(json_is(&t, "{\n  \"fl\": \"-Infinity\",\n  \"db\": \"NaN\"\n}\n"));
  t.db = INFINITY;
  t.fl = 0;
  CHECK(json_is(&t, "{\n  \"db\": \"Infinity\"\n}\n"));
}

static void test_strings(void) {
  CHECK(string_is("", 0, "\"\""));
  CHECK(string_is("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\""));
  CHECK(string_is("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\""));
  CHECK(string_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""));
  CHECK(string_is("a\0b", 3, "\"a\\u0000b\""));
  // Valid UTF-8 passes through: 2, 3 and 4 byte sequences.
  CHECK(string_is("\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80", 9,
                  "\"\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\""));
  // Invalid bytes become U+FFFD, one per byte: stray continuation, truncated sequence,
  // overlong, surrogate, above U+10FFFF, 0xff.
  CHECK(string_is("\x80", 1, "\"\\ufffd\""));
  CHECK(string_is("x\xe2\x82", 3, "\"x\\ufffd\\ufffd\""));
  CHECK(string_is("\xc0\xaf", 2, "\"\\ufffd\\ufffd\""));
  CHECK(string_is("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""));
  CHECK(string_is("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""));
  CHECK(
      string_is("\xff"
                "a",
                2, "\"\\ufffda\""));

  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.text = "line1\nline2 \"q\" \xe2\x82\xac \xff";
  CHECK(json_is(&t,
                "{\n  \"text\": \"line1\\nline2 \\\"q\\\" \xe2\x82\xac \\ufffd\"\n}\n"));
}

static void test_bytes(void) {
  CHECK(base64_is("", 0, ""));
  CHECK(base64_is("f", 1, "Zg=="));
  CHECK(base64_is("fo", 2, "Zm8="));
  CHECK(base64_is("foo", 3, "Zm9v"));
  CHECK(base64_is("foob", 4, "Zm9vYg=="));
  CHECK(base64_is("fooba", 5, "Zm9vYmE="));
  CHECK(base64_is("foobar", 6, "Zm9vYmFy"));
  CHECK(base64_is("\x00\xff\xfe\x3e\x3f", 5, "AP/+Pj8="));

  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.data.data = (uint8_t *)"\xfb\xff";
  t.data.len = 2;
  ProtobufCBinaryData blobs[2] = {{3, (uint8_t *)"abc"}, {0, NULL}};
  t.blobs = blobs;
  t.n_blobs = 2;
  CHECK(json_is(&t,
                "{\n"
                "  \"data\": \"+/8=\",\n"
                "  \"blobs\": [\n"
                "    \"YWJj\",\n"
                "    \"\"\n"
                "  ]\n"
                "}\n"));
}

static void test_enums(void) {
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.color = SMIMECTL__TEST__COLOR__COLOR_DARK_BLUE;
  Smimectl__Test__Color colors[3] = {SMIMECTL__TEST__COLOR__COLOR_UNSPECIFIED,
                                     SMIMECTL__TEST__COLOR__COLOR_RED, 42};
  t.colors = colors;
  t.n_colors = 3;
  // Repeated elements are all printed, default or not; an unknown value as a number.
  CHECK(json_is(&t,
                "{\n"
                "  \"color\": \"COLOR_DARK_BLUE\",\n"
                "  \"colors\": [\n"
                "    \"COLOR_UNSPECIFIED\",\n"
                "    \"COLOR_RED\",\n"
                "    42\n"
                "  ]\n"
                "}\n"));
}

static void test_timestamps(void) {
  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.when = &ts;
  struct {
    int64_t seconds;
    int32_t nanos;
    const char *want;
  } cases[] = {
      {0, 0, "1970-01-01T00:00:00Z"},
      {1795935643, 0, "2026-11-29T07:00:43Z"},
      {1795935643, 500000000, "2026-11-29T07:00:43.500Z"},
      {1795935643, 1000, "2026-11-29T07:00:43.000001Z"},
      {1795935643, 1, "2026-11-29T07:00:43.000000001Z"},
      {1795935643, 120000, "2026-11-29T07:00:43.000120Z"},
      {-1, 0, "1969-12-31T23:59:59Z"},
      {951782400, 0, "2000-02-29T00:00:00Z"},
      {-62135596800, 0, "0001-01-01T00:00:00Z"},
      {253402300799, 999999999, "9999-12-31T23:59:59.999999999Z"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ts.seconds = cases[i].seconds;
    ts.nanos = cases[i].nanos;
    char want[128];
    snprintf(want, sizeof(want), "{\n  \"when\": \"%s\"\n}\n", cases[i].want);
    CHECK(json_is(&t, want));
  }
  // The epoch itself is a set field: printed, unlike a default scalar.
  // Out of range: printed as the message it is rather than lost.
  ts.seconds = 253402300800;
  ts.nanos = 0;
  CHECK(json_is(&t, "{\n  \"when\": {\n    \"seconds\": \"253402300800\"\n  }\n}\n"));
  ts.seconds = 0;
  ts.nanos = -1;
  CHECK(json_is(&t, "{\n  \"when\": {\n    \"nanos\": -1\n  }\n}\n"));

  Google__Protobuf__Timestamp t1 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Google__Protobuf__Timestamp *times[1] = {&t1};
  Smimectl__Test__AllTypes r = SMIMECTL__TEST__ALL_TYPES__INIT;
  r.times = times;
  r.n_times = 1;
  CHECK(json_is(&r, "{\n  \"times\": [\n    \"1970-01-01T00:00:00Z\"\n  ]\n}\n"));
}

static void test_nested_repeated_oneof(void) {
  Smimectl__Test__Inner child = SMIMECTL__TEST__INNER__INIT;
  Smimectl__Test__Inner inner = SMIMECTL__TEST__INNER__INIT;
  char *tags[2] = {"a", "b"};
  inner.name = "in";
  inner.tags = tags;
  inner.n_tags = 2;
  inner.child = &child;  // set but empty: {}
  Smimectl__Test__Inner item = SMIMECTL__TEST__INNER__INIT;
  item.n = 3;
  Smimectl__Test__Inner *items[2] = {&item, &child};
  int32_t nums[3] = {1, 0, -1};
  Smimectl__Test__AllTypes t = SMIMECTL__TEST__ALL_TYPES__INIT;
  t.inner = &inner;
  t.items = items;
  t.n_items = 2;
  t.nums = nums;
  t.n_nums = 3;
  // A oneof member is printed even with its default value: that it is set is the news.
  t.choice_case = SMIMECTL__TEST__ALL_TYPES__CHOICE_CHOICE_NUM;
  t.choice_num = 0;
  CHECK(json_is(&t,
                "{\n"
                "  \"inner\": {\n"
                "    \"name\": \"in\",\n"
                "    \"tags\": [\n"
                "      \"a\",\n"
                "      \"b\"\n"
                "    ],\n"
                "    \"child\": {}\n"
                "  },\n"
                "  \"nums\": [\n"
                "    1,\n"
                "    0,\n"
                "    -1\n"
                "  ],\n"
                "  \"items\": [\n"
                "    {\n"
                "      \"n\": 3\n"
                "    },\n"
                "    {}\n"
                "  ],\n"
                "  \"choiceNum\": 0\n"
                "}\n"));
  t = (Smimectl__Test__AllTypes)SMIMECTL__TEST__ALL_TYPES__INIT;
  t.choice_case = SMIMECTL__TEST__ALL_TYPES__CHOICE_CHOICE_TEXT;
  t.choice_text = "";
  CHECK(json_is(&t, "{\n  \"choiceText\": \"\"\n}\n"));
}

static void test_api_types(void) {
  Smime__V1__GroupDefaults g = SMIME__V1__GROUP_DEFAULTS__INIT;
  g.group = "support";
  g.default_sign = 1;
  Smime__V1__GroupDefaults *groups[1] = {&g};
  Google__Protobuf__Timestamp when = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  when.seconds = 1795934443;
  Smime__V1__Settings s = SMIME__V1__SETTINGS__INIT;
  s.enabled = 0;
  s.group_defaults = groups;
  s.n_group_defaults = 1;
  s.update_time = &when;
  s.updated_by = "unix-socket admin";
  Smime__V1__UpdateSettingsResponse r = SMIME__V1__UPDATE_SETTINGS_RESPONSE__INIT;
  r.settings = &s;
  CHECK(json_is(&r,
                "{\n"
                "  \"settings\": {\n"
                "    \"groupDefaults\": [\n"
                "      {\n"
                "        \"group\": \"support\",\n"
                "        \"defaultSign\": true\n"
                "      }\n"
                "    ],\n"
                "    \"updateTime\": \"2026-11-29T06:40:43Z\",\n"
                "    \"updatedBy\": \"unix-socket admin\"\n"
                "  }\n"
                "}\n"));

  Smime__V1__UpdateSettingsRequest u = SMIME__V1__UPDATE_SETTINGS_REQUEST__INIT;
  u.enabled_value_case = SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED;
  u.enabled = 0;
  CHECK(json_is(&u, "{\n  \"enabled\": false\n}\n"));

  Smime__V1__Operation ops[2] = {SMIME__V1__OPERATION__OPERATION_SIGN,
                                 SMIME__V1__OPERATION__OPERATION_ENCRYPT};
  Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
  e.id = 9007199254740993;  // 2^53 + 1: exact only as a string
  e.direction = SMIME__V1__DIRECTION__DIRECTION_OUTGOING;
  e.operations = ops;
  e.n_operations = 2;
  e.status = SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS;
  CHECK(json_is(&e,
                "{\n"
                "  \"id\": \"9007199254740993\",\n"
                "  \"direction\": \"DIRECTION_OUTGOING\",\n"
                "  \"operations\": [\n"
                "    \"OPERATION_SIGN\",\n"
                "    \"OPERATION_ENCRYPT\"\n"
                "  ],\n"
                "  \"status\": \"LOG_STATUS_SUCCESS\"\n"
                "}\n"));
}

int main(void) {
  test_defaults_omitted();
  test_scalars();
  test_reals();
  test_strings();
  test_bytes();
  test_enums();
  test_timestamps();
  test_nested_repeated_oneof();
  test_api_types();
  printf("json_out_test: ok\n");
  return 0;
}
