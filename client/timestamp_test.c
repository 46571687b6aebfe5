/* timestamp_test.c: RFC 3339 <-> seconds and nanos. */
#include "client/timestamp.h"

#include <stdio.h>
#include <string.h>

#include "tests/ctest/check.h"
#include "google/protobuf/timestamp.pb-c.h"

static int parses_to(const char *text, int64_t seconds, int32_t nanos) {
  int64_t s = -1;
  int32_t n = -1;
  if (!timestamp_parse(text, &s, &n) || s != seconds || n != nanos) {
    fprintf(stderr, "%s: got %lld.%09d\n", text, (long long)s, n);
    return 0;
  }
  return 1;
}

static int formats_to(int64_t seconds, int32_t nanos, const char *want) {
  char out[TIMESTAMP_TEXT_MAX];
  if (!timestamp_format(seconds, nanos, out) || strcmp(out, want) != 0) {
    fprintf(stderr, "%lld.%09d: got %s\n", (long long)seconds, nanos, out);
    return 0;
  }
  return 1;
}

int main(void) {
  CHECK(parses_to("1970-01-01T00:00:00Z", 0, 0));
  CHECK(parses_to("2026-11-29T10:00:00Z", 1795946400, 0));
  CHECK(parses_to("2026-11-29t10:00:00z", 1795946400, 0));
  CHECK(parses_to("2026-11-29 10:00:00Z", 1795946400, 0));
  CHECK(parses_to("2026-11-29T11:30:00+01:30", 1795946400, 0));
  CHECK(parses_to("2026-11-29T05:00:00-05:00", 1795946400, 0));
  CHECK(parses_to("2026-11-29T10:00:00.5Z", 1795946400, 500000000));
  CHECK(parses_to("2026-11-29T10:00:00.123456789Z", 1795946400, 123456789));
  CHECK(parses_to("2026-11-29T10:00:00.000000001Z", 1795946400, 1));
  CHECK(parses_to("1969-12-31T23:59:59.5Z", -1, 500000000));
  CHECK(parses_to("2000-02-29T00:00:00Z", 951782400, 0));
  CHECK(parses_to("2024-02-29T00:00:00Z", 1709164800, 0));
  CHECK(parses_to("0001-01-01T00:00:00Z", TIMESTAMP_MIN_SECONDS, 0));
  CHECK(parses_to("9999-12-31T23:59:59Z", TIMESTAMP_MAX_SECONDS, 0));

  static const char *const bad[] = {
      "",
      "2026-11-29",
      "2026-11-29T10:00:00",
      "2026-11-29T10:00Z",
      "2026-11-29T10:00:00.Z",
      "2026-11-29T10:00:00.1234567890Z",
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-11-29T24:00:00Z",
      "2026-11-29T10:60:00Z",
      "2026-11-29T10:00:60Z",
      "2026-11-29T10:00:00+0100",
      "2026-11-29T10:00:00+24:00",
      "2026-11-29T10:00:00Zx",
      "26-11-29T10:00:00Z",
      "0000-01-01T00:00:00Z",
      "0001-01-01T00:00:00+00:01",
      "9999-12-31T23:59:59-00:01",
      "yesterday",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t s = 7;
    int32_t n = 7;
    if (timestamp_parse(bad[i], &s, &n)) {
      fprintf(stderr, "accepted %s\n", bad[i]);
      CHECK(0);
    }
    CHECK(s == 0 && n == 0);
  }

  CHECK(formats_to(0, 0, "1970-01-01T00:00:00Z"));
  CHECK(formats_to(1795934443, 0, "2026-11-29T06:40:43Z"));
  CHECK(formats_to(1795934443, 10000000, "2026-11-29T06:40:43.010Z"));
  CHECK(formats_to(1795934443, 10000, "2026-11-29T06:40:43.000010Z"));
  CHECK(formats_to(1795934443, 10, "2026-11-29T06:40:43.000000010Z"));
  CHECK(formats_to(-1, 0, "1969-12-31T23:59:59Z"));
  CHECK(formats_to(-86400, 0, "1969-12-31T00:00:00Z"));
  CHECK(formats_to(TIMESTAMP_MIN_SECONDS, 0, "0001-01-01T00:00:00Z"));
  CHECK(formats_to(TIMESTAMP_MAX_SECONDS, 999999999, "9999-12-31T23:59:59.999999999Z"));
  char out[TIMESTAMP_TEXT_MAX];
  CHECK(!timestamp_format(TIMESTAMP_MAX_SECONDS + 1, 0, out));
  CHECK(!timestamp_format(TIMESTAMP_MIN_SECONDS - 1, 0, out));
  CHECK(!timestamp_format(0, -1, out));
  CHECK(!timestamp_format(0, 1000000000, out));

  // Every day of 400 years (one Gregorian cycle) round-trips.
  for (int64_t s = -62135596800 + 43210; s < -62135596800 + 146097LL * 86400;
       s += 86400) {
    CHECK(timestamp_format(s, 0, out));
    int64_t back;
    int32_t nanos;
    CHECK(timestamp_parse(out, &back, &nanos) && back == s && nanos == 0);
  }

  Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  CHECK(timestamp_is(ts.base.descriptor));
  CHECK(timestamp_set(&ts.base, 12, 34));
  CHECK(ts.seconds == 12 && ts.nanos == 34);
  int64_t s;
  int32_t n;
  CHECK(timestamp_get(&ts.base, &s, &n) && s == 12 && n == 34);
  printf("timestamp_test: ok\n");
  return 0;
}
