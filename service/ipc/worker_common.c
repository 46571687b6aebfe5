/* worker_common.c: see worker_common.h. */
#include "service/ipc/worker_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "service/common/log.h"

int worker_parse_fd(const char *s, int *out_fd) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535) {
    return 0;
  }
  *out_fd = (int)v;
  return 1;
}

int worker_claim_socket(int fd, const char *program) {
  if (fcntl(fd, F_GETFD) < 0) {
    log_error("fd %d is not open: %s is started by smimed, with its socket as fd %d", fd,
              program, fd);
    return 0;
  }
  /* Nothing is exec'd today; should that change, the socket stays ours. */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return 1;
}

Smime__Ipc__Error *worker_error_new(ARENA *arena, const STATUS *st, const char *fallback) {
  Smime__Ipc__Error *e = arena_alloc(arena, sizeof(Smime__Ipc__Error));
  if (e == NULL) {
    return NULL;
  }
  smime__ipc__error__init(e);
  e->code = st->code != STATUS_OK ? (uint32_t)st->code : STATUS_INTERNAL;
  e->message = arena_strdup(arena, st->message[0] != '\0' ? st->message : fallback);
  return e->message != NULL ? e : NULL;
}
