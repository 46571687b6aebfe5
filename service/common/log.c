/* log.c: see log.h. One fprintf per line, so lines from threads do not interleave. */
#include "service/common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *g_program = "smimed";

void log_set_program(const char *name) { g_program = name; }

/* json_format says whether lines are JSON objects: SMIMED_LOG_FORMAT=json in the
 * environment (smimed --log-format json sets it, and its workers inherit it). */
static int json_format(void) {
  static int cached = -1;
  if (cached < 0) {
    const char *f = getenv("SMIMED_LOG_FORMAT");
    cached = f != NULL && strcmp(f, "json") == 0;
  }
  return cached;
}

/* json_escape writes |s| as the inside of a JSON string into |out|. */
static void json_escape(const char *s, char *out, size_t out_len) {
  size_t j = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && j + 7 < out_len; p++) {
    if (*p == '"' || *p == '\\') {
      out[j++] = '\\';
      out[j++] = (char)*p;
    } else if (*p < 0x20) {
      j += (size_t)snprintf(out + j, out_len - j, "\\u%04x", *p);
    } else {
      out[j++] = (char)*p;
    }
  }
  out[j] = '\0';
}

static void log_line(const char *level, const char *fmt, va_list ap) {
  char when[32];
  char text[2048];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  vsnprintf(text, sizeof(text), fmt, ap);
  if (json_format()) {
    char escaped[sizeof(text) * 6 + 1];
    json_escape(text, escaped, sizeof(escaped));
    fprintf(stderr, "{\"time\":\"%s\",\"program\":\"%s\",\"pid\":%d,\"level\":\"%s\","
                    "\"message\":\"%s\"}\n",
            when, g_program, (int)getpid(), level, escaped);
    return;
  }
  fprintf(stderr, "%s %s[%d] %s: %s\n", when, g_program, (int)getpid(), level, text);
}

void log_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_line("info", fmt, ap);
  va_end(ap);
}

void log_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_line("warning", fmt, ap);
  va_end(ap);
}

void log_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_line("error", fmt, ap);
  va_end(ap);
}
