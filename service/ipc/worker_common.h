/* worker_common.h: what the two worker processes (smime-engine, smime-keystore) share
 * around their request loops: the --fd argument, the check of the inherited socket,
 * and the Error body that answers a failed request. */
#ifndef SMIMED_IPC_WORKER_COMMON_H
#define SMIMED_IPC_WORKER_COMMON_H

#include "service/common/status.h"
#include "service/ipc/arena.h"
#include "smime/ipc/ipc.pb-c.h"

/* worker_parse_fd reads a non-negative decimal descriptor number (at most 65535). */
int worker_parse_fd(const char *s, int *out_fd);

/* worker_claim_socket checks that |fd| (the socket smimed passed) is open and keeps it
 * out of anything the worker might exec. Logs why not, naming |program|, and returns 0
 * when it is not open. */
int worker_claim_socket(int fd, const char *program);

/* worker_error_new is the Error body answering a failed request: |st|'s code (INTERNAL
 * if it has none) and message (|fallback| if empty), in |arena|. NULL when out of
 * memory. */
Smime__Ipc__Error *worker_error_new(ARENA *arena, const STATUS *st, const char *fallback);

#endif /* SMIMED_IPC_WORKER_COMMON_H */
