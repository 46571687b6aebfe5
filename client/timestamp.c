/* timestamp.c: see timestamp.h. Calendar arithmetic is done here (proleptic Gregorian,
 * Howard Hinnant's days_from_civil) rather than with timegm/gmtime, so that years 1 to
 * 9999 work the same everywhere and no time zone state is involved. */
#include "client/timestamp.h"

#include <stdio.h>
#include <string.h>

int timestamp_is(const ProtobufCMessageDescriptor *d) {
  return d != NULL && strcmp(d->name, "google.protobuf.Timestamp") == 0;
}

/* days_from_civil returns the days from 1970-01-01 to |y|-|m|-|d|. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* civil_from_days is the inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *out_y, unsigned *out_m, unsigned *out_d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  *out_d = doy - (153 * mp + 2) / 5 + 1;
  *out_m = m;
  *out_y = (int64_t)yoe + era * 400 + (m <= 2);
}

/* digits reads exactly |n| decimal digits at |*p| into |*out| and advances |*p|. */
static int digits(const char **p, int n, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') {
      return 0;
    }
    v = v * 10 + (unsigned)(c - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

/* expect consumes the character |c| at |*p|. */
static int expect(const char **p, char c) {
  if (**p != c) {
    return 0;
  }
  (*p)++;
  return 1;
}

static int days_in_month(unsigned y, unsigned m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
    return 29;
  }
  return days[m - 1];
}

int timestamp_parse(const char *text, int64_t *out_seconds, int32_t *out_nanos) {
  *out_seconds = 0;
  *out_nanos = 0;
  const char *p = text;
  unsigned year, month, day, hour, minute, second;
  if (!digits(&p, 4, &year) || !expect(&p, '-') || !digits(&p, 2, &month) ||
      !expect(&p, '-') || !digits(&p, 2, &day)) {
    return 0;
  }
  if (*p != 'T' && *p != 't' && *p != ' ') {
    return 0;
  }
  p++;
  if (!digits(&p, 2, &hour) || !expect(&p, ':') || !digits(&p, 2, &minute) ||
      !expect(&p, ':') || !digits(&p, 2, &second)) {
    return 0;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      (int)day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59) {
    return 0;
  }
  int32_t nanos = 0;
  if (*p == '.') {
    p++;
    int n = 0;
    while (*p >= '0' && *p <= '9') {
      if (n == 9) {
        return 0;  // below a nanosecond: not representable
      }
      nanos = nanos * 10 + (*p - '0');
      n++;
      p++;
    }
    if (n == 0) {
      return 0;
    }
    for (; n < 9; n++) {
      nanos *= 10;
    }
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    unsigned oh, om;
    p++;
    if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 ||
        om > 59) {
      return 0;
    }
    offset = sign * (int64_t)(oh * 3600 + om * 60);
  } else {
    return 0;
  }
  if (*p != '\0') {
    return 0;
  }
  int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 +
                    minute * 60 + second - offset;
  if (seconds < TIMESTAMP_MIN_SECONDS || seconds > TIMESTAMP_MAX_SECONDS) {
    return 0;
  }
  *out_seconds = seconds;
  *out_nanos = nanos;
  return 1;
}

int timestamp_format(int64_t seconds, int32_t nanos, char out[TIMESTAMP_TEXT_MAX]) {
  out[0] = '\0';
  if (seconds < TIMESTAMP_MIN_SECONDS || seconds > TIMESTAMP_MAX_SECONDS || nanos < 0 ||
      nanos > 999999999) {
    return 0;
  }
  // Floor division, so that times before 1970 get a positive time of day.
  int64_t days = seconds / 86400;
  int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    days--;
  }
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  int n = snprintf(out, TIMESTAMP_TEXT_MAX, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
                   (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
  if (nanos != 0) {
    if (nanos % 1000000 == 0) {
      n += snprintf(out + n, TIMESTAMP_TEXT_MAX - (size_t)n, ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      n += snprintf(out + n, TIMESTAMP_TEXT_MAX - (size_t)n, ".%06d", nanos / 1000);
    } else {
      n += snprintf(out + n, TIMESTAMP_TEXT_MAX - (size_t)n, ".%09d", nanos);
    }
  }
  snprintf(out + n, TIMESTAMP_TEXT_MAX - (size_t)n, "Z");
  return 1;
}

/* timestamp_fields finds the seconds (int64) and nanos (int32) fields of a Timestamp. */
static int timestamp_fields(const ProtobufCMessageDescriptor *d,
                            const ProtobufCFieldDescriptor **out_seconds,
                            const ProtobufCFieldDescriptor **out_nanos) {
  if (!timestamp_is(d)) {
    return 0;
  }
  const ProtobufCFieldDescriptor *s =
      protobuf_c_message_descriptor_get_field_by_name(d, "seconds");
  const ProtobufCFieldDescriptor *n =
      protobuf_c_message_descriptor_get_field_by_name(d, "nanos");
  if (s == NULL || n == NULL || s->type != PROTOBUF_C_TYPE_INT64 ||
      n->type != PROTOBUF_C_TYPE_INT32) {
    return 0;
  }
  *out_seconds = s;
  *out_nanos = n;
  return 1;
}

int timestamp_get(const ProtobufCMessage *m, int64_t *out_seconds, int32_t *out_nanos) {
  const ProtobufCFieldDescriptor *s, *n;
  *out_seconds = 0;
  *out_nanos = 0;
  if (!timestamp_fields(m->descriptor, &s, &n)) {
    return 0;
  }
  memcpy(out_seconds, (const char *)m + s->offset, sizeof(int64_t));
  memcpy(out_nanos, (const char *)m + n->offset, sizeof(int32_t));
  return 1;
}

int timestamp_set(ProtobufCMessage *m, int64_t seconds, int32_t nanos) {
  const ProtobufCFieldDescriptor *s, *n;
  if (!timestamp_fields(m->descriptor, &s, &n)) {
    return 0;
  }
  memcpy((char *)m + s->offset, &seconds, sizeof(int64_t));
  memcpy((char *)m + n->offset, &nanos, sizeof(int32_t));
  return 1;
}
