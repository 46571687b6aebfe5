/* db_util.h: small helpers shared by the stores: a growable string, UTF-8 checks, and
 * the conversions between protobuf Timestamps and PostgreSQL values. Internal to
 * service/db. */
#ifndef SMIMED_DB_DB_UTIL_H
#define SMIMED_DB_DB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "service/common/status.h"

/* STRBUF is a growable NUL-terminated string. An allocation failure is remembered
 * (|failed|) and later appends do nothing, so callers check once at the end. */
typedef struct strbuf_st {
  char *data;
  size_t len;
  size_t cap;
  int failed;
} STRBUF;

/* strbuf_init makes |sb| empty. */
void strbuf_init(STRBUF *sb);

/* strbuf_cleanup frees |sb|'s memory. */
void strbuf_cleanup(STRBUF *sb);

void strbuf_append(STRBUF *sb, const char *s, size_t n);
void strbuf_puts(STRBUF *sb, const char *s);
void strbuf_printf(STRBUF *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strbuf_take returns the string (malloc'd; "" if empty) and empties |sb|, or NULL if an
 * allocation failed. */
char *strbuf_take(STRBUF *sb);

/* strbuf_append_array_element appends |s| to a PostgreSQL array literal under
 * construction ("{...}"), double-quoted and escaped, preceded by a comma unless it is
 * the first. The literal is passed as a query parameter, never spliced into SQL. */
void strbuf_append_array_element(STRBUF *sb, const char *s);

/* text_array_literal writes |n| strings as a PostgreSQL array literal ("{...}", each
 * element quoted by strbuf_append_array_element), each made valid UTF-8 and cut to
 * |max_bytes| (utf8_sanitize) and ASCII-lowercased (addresses, fingerprints). NULL
 * when out of memory. */
char *text_array_literal(const char *const *items, size_t n, size_t max_bytes);

/* utf8_check reports whether |s| is valid UTF-8 (no overlongs, no surrogates) and sets
 * |*out_chars| (if not NULL) to its number of code points. */
int utf8_check(const char *s, size_t *out_chars);

/* utf8_sanitize returns a malloc'd copy of |s| (NULL counts as "") in which each
 * invalid UTF-8 byte is replaced by U+FFFD, cut at a character boundary to at most
 * |max_bytes| bytes. Returns NULL only when out of memory. For audit text, which must
 * be stored whatever a mail contained. */
char *utf8_sanitize(const char *s, size_t max_bytes);

/* ascii_lower lowercases the ASCII letters of |s| in place: the same folding whatever
 * the database's locale. */
void ascii_lower(char *s);

/* trim_message_id returns a malloc'd copy of |s| without surrounding white space and
 * one pair of angle brackets: Message-IDs are stored and compared bare. */
char *trim_message_id(const char *s);

/* format_utc_time writes Unix time |t| as "2021-01-01T00:00:00Z" (the number itself
 * when gmtime cannot represent it), for messages. */
void format_utc_time(int64_t t, char *out, size_t out_len);

/* PG_EPOCH_OFFSET_US is 2000-01-01T00:00:00Z (PostgreSQL's epoch) in microseconds
 * since the Unix epoch. */
#define PG_EPOCH_OFFSET_US INT64_C(946684800000000)

/* timestamp_from_unix_us returns a new Timestamp (malloc'd, for free_unpacked with the
 * default allocator) for |us| microseconds since the Unix epoch, or NULL when out of
 * memory. */
Google__Protobuf__Timestamp *timestamp_from_unix_us(int64_t us);

/* timestamp_to_param writes |ts| into |out| as a timestamptz literal in UTC for a query
 * parameter, rounding nanoseconds up to whole microseconds (so ">= t" and "< t" keep
 * their meaning at PostgreSQL's resolution). Fails with INVALID_ARGUMENT naming |field|
 * when |ts| is outside 0001-01-01 .. 9999-12-31 or its nanos are out of range. */
int timestamp_to_param(const Google__Protobuf__Timestamp *ts, const char *field, char *out,
                       size_t out_len, STATUS *err);

#endif /* SMIMED_DB_DB_UTIL_H */
