/* log.c: see log.h. One fprintf per line, so lines from threads do not interleave. */
#include "service/common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *g_program = "smimed";

void log_set_program(const char *name) { g_program = name; }

static void log_line(const char *level, const char *fmt, va_list ap) {
  char when[32];
  char text[2048];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  vsnprintf(text, sizeof(text), fmt, ap);
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
