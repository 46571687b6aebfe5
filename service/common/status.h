/* status.h: an error as the caller will see it: a gRPC status code and a message a
 * person can act on. Shared by the front's modules (no gRPC or crypto dependency). */
#ifndef SMIMED_COMMON_STATUS_H
#define SMIMED_COMMON_STATUS_H

#include <stdarg.h>

/* STATUS_* mirror grpc_status_code, so that modules need not include gRPC. */
enum {
  STATUS_OK = 0,
  STATUS_CANCELLED = 1,
  STATUS_UNKNOWN = 2,
  STATUS_INVALID_ARGUMENT = 3,
  STATUS_DEADLINE_EXCEEDED = 4,
  STATUS_NOT_FOUND = 5,
  STATUS_ALREADY_EXISTS = 6,
  STATUS_PERMISSION_DENIED = 7,
  STATUS_RESOURCE_EXHAUSTED = 8,
  STATUS_FAILED_PRECONDITION = 9,
  STATUS_ABORTED = 10,
  STATUS_OUT_OF_RANGE = 11,
  STATUS_UNIMPLEMENTED = 12,
  STATUS_INTERNAL = 13,
  STATUS_UNAVAILABLE = 14,
  STATUS_DATA_LOSS = 15,
  STATUS_UNAUTHENTICATED = 16,
};

/* STATUS is one error. Functions that can fail take a STATUS *err and fill it when they
 * return 0 (or NULL); they leave it alone on success. */
typedef struct status_st {
  int code;
  char message[1024];
} STATUS;

/* status_set sets |err| (if not NULL) to |code| and a printf-style message. Returns 0,
 * so that a failing function can `return status_set(err, ...);`. */
int status_set(STATUS *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* status_clear sets |err| to STATUS_OK with an empty message. */
void status_clear(STATUS *err);

/* status_code_name returns "INVALID_ARGUMENT" etc. for |code|. */
const char *status_code_name(int code);

#endif /* SMIMED_COMMON_STATUS_H */
