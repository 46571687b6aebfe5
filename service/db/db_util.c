/* db_util.c: see db_util.h. */
#include "service/db/db_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void strbuf_init(STRBUF *sb) { memset(sb, 0, sizeof(*sb)); }

void strbuf_cleanup(STRBUF *sb) {
  free(sb->data);
  strbuf_init(sb);
}

/* strbuf_reserve makes room for |extra| more bytes and the NUL. */
static int strbuf_reserve(STRBUF *sb, size_t extra) {
  size_t need;
  if (sb->failed) {
    return 0;
  }
  if (extra > SIZE_MAX / 2 - sb->len) {
    sb->failed = 1;
    return 0;
  }
  need = sb->len + extra + 1;
  if (need > sb->cap) {
    size_t cap = sb->cap < 64 ? 64 : sb->cap;
    char *data;
    while (cap < need) {
      cap *= 2;
    }
    data = realloc(sb->data, cap);
    if (data == NULL) {
      sb->failed = 1;
      return 0;
    }
    sb->data = data;
    sb->cap = cap;
  }
  return 1;
}

void strbuf_append(STRBUF *sb, const char *s, size_t n) {
  if (!strbuf_reserve(sb, n)) {
    return;
  }
  memcpy(sb->data + sb->len, s, n);
  sb->len += n;
  sb->data[sb->len] = '\0';
}

void strbuf_puts(STRBUF *sb, const char *s) { strbuf_append(sb, s, strlen(s)); }

void strbuf_printf(STRBUF *sb, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    sb->failed = 1;
    return;
  }
  if (!strbuf_reserve(sb, (size_t)n)) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

char *strbuf_take(STRBUF *sb) {
  char *out;
  if (sb->failed) {
    strbuf_cleanup(sb);
    return NULL;
  }
  if (sb->data == NULL) {
    return strdup("");
  }
  out = sb->data;
  strbuf_init(sb);
  return out;
}

void strbuf_append_array_element(STRBUF *sb, const char *s) {
  /* Inside a double-quoted array element only '"' and '\' need a backslash. */
  if (sb->len > 1) {
    strbuf_append(sb, ",", 1);
  }
  strbuf_append(sb, "\"", 1);
  for (const char *p = s != NULL ? s : ""; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') {
      strbuf_append(sb, "\\", 1);
    }
    strbuf_append(sb, p, 1);
  }
  strbuf_append(sb, "\"", 1);
}

/* utf8_seq_len returns the length of the valid UTF-8 sequence at |p| (at most |avail|
 * bytes), or 0 if it is not one. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail) {
  uint32_t cp;
  size_t len;

  if (p[0] < 0x80) {
    return 1;
  } else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
    len = 2;
    cp = p[0] & 0x1f;
  } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    len = 3;
    cp = p[0] & 0x0f;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    len = 4;
    cp = p[0] & 0x07;
  } else {
    return 0;
  }
  if (len > avail) {
    return 0;
  }
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return len;
}

int utf8_check(const char *s, size_t *out_chars) {
  const unsigned char *p = (const unsigned char *)s;
  size_t avail = strlen(s);
  size_t chars = 0;

  if (out_chars != NULL) {
    *out_chars = 0;
  }
  while (avail > 0) {
    size_t n = utf8_seq_len(p, avail);
    if (n == 0) {
      return 0;
    }
    p += n;
    avail -= n;
    chars++;
  }
  if (out_chars != NULL) {
    *out_chars = chars;
  }
  return 1;
}

char *utf8_sanitize(const char *s, size_t max_bytes) {
  static const char kReplacement[] = "\xef\xbf\xbd";
  const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
  size_t avail = strlen((const char *)p);
  STRBUF sb;

  strbuf_init(&sb);
  while (avail > 0) {
    size_t n = utf8_seq_len(p, avail);
    const char *piece = (const char *)p;
    size_t piece_len = n;
    if (n == 0) {
      piece = kReplacement;
      piece_len = 3;
      n = 1;
    }
    if (sb.len + piece_len > max_bytes) {
      break;
    }
    strbuf_append(&sb, piece, piece_len);
    p += n;
    avail -= n;
  }
  return strbuf_take(&sb);
}

void ascii_lower(char *s) {
  for (; *s != '\0'; s++) {
    if (*s >= 'A' && *s <= 'Z') {
      *s = (char)(*s - 'A' + 'a');
    }
  }
}

char *trim_message_id(const char *s) {
  const char *start = s != NULL ? s : "";
  const char *end;

  while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n') {
    start++;
  }
  end = start + strlen(start);
  while (end > start &&
         (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n')) {
    end--;
  }
  if (end - start >= 2 && *start == '<' && end[-1] == '>') {
    start++;
    end--;
  }
  return strndup(start, (size_t)(end - start));
}

Google__Protobuf__Timestamp *timestamp_from_unix_us(int64_t us) {
  Google__Protobuf__Timestamp *ts = malloc(sizeof(*ts));
  int64_t secs;
  int64_t rem;

  if (ts == NULL) {
    return NULL;
  }
  google__protobuf__timestamp__init(ts);
  /* Floor division: nanos must be in [0, 1e9) also before 1970. */
  secs = us / 1000000;
  rem = us % 1000000;
  if (rem < 0) {
    rem += 1000000;
    secs--;
  }
  ts->seconds = secs;
  ts->nanos = (int32_t)(rem * 1000);
  return ts;
}

/* kMinSeconds and kMaxSeconds are 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the
 * range google.protobuf.Timestamp allows. */
static const int64_t kMinSeconds = INT64_C(-62135596800);
static const int64_t kMaxSeconds = INT64_C(253402300799);

int timestamp_to_param(const Google__Protobuf__Timestamp *ts, const char *field, char *out,
                       size_t out_len, STATUS *err) {
  int64_t secs = ts->seconds;
  int64_t micros;
  time_t t;
  struct tm tm;

  if (ts->nanos < 0 || ts->nanos > 999999999 || secs < kMinSeconds || secs > kMaxSeconds) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s is not a valid time (seconds %lld, nanos %d)", field,
                      (long long)ts->seconds, (int)ts->nanos);
  }
  micros = (ts->nanos + 999) / 1000;
  if (micros == 1000000) {
    micros = 0;
    secs++;
  }
  t = (time_t)secs;
  if (gmtime_r(&t, &tm) == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s is not a valid time", field);
  }
  snprintf(out, out_len, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)micros);
  return 1;
}

void format_utc_time(int64_t t, char *out, size_t out_len) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) == NULL) {
    snprintf(out, out_len, "%" PRId64, t);
    return;
  }
  strftime(out, out_len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *text_array_literal(const char *const *items, size_t n, size_t max_bytes) {
  STRBUF b;
  strbuf_init(&b);
  strbuf_puts(&b, "{");
  for (size_t i = 0; i < n; i++) {
    char *a = utf8_sanitize(items[i], max_bytes);
    if (a == NULL) {
      strbuf_cleanup(&b);
      return NULL;
    }
    ascii_lower(a);
    strbuf_append_array_element(&b, a);
    free(a);
  }
  strbuf_puts(&b, "}");
  char *s = strbuf_take(&b);
  strbuf_cleanup(&b);
  return s;
}
