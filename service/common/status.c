/* status.c: see status.h. */
#include "service/common/status.h"

#include <stdio.h>
#include <string.h>

int status_set(STATUS *err, int code, const char *fmt, ...) {
  if (err == NULL) {
    return 0;
  }
  va_list ap;
  va_start(ap, fmt);
  err->code = code;
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return 0;
}

void status_clear(STATUS *err) {
  if (err != NULL) {
    err->code = STATUS_OK;
    err->message[0] = '\0';
  }
}

const char *status_code_name(int code) {
  static const char *const names[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0])) {
    return "UNKNOWN";
  }
  return names[code];
}
