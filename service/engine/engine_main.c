/* engine_main.c: smime-engine, the worker that parses untrusted input (DESIGN.md
 * section 2). Usage: smime-engine [--fd N] (default 3, where the pool puts its end of
 * the socketpair).
 *
 * The loop reads one EngineRequest frame, runs the handler for its oneof case and
 * answers one EngineResponse with the same request_id. The engine is stateless and
 * trusts its peer only as far as the framing: any protocol violation (bad frame type,
 * undecodable or oversized body, a request with no body) ends the process with status
 * 1, and the front restarts it. End of stream ends it with status 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "service/common/log.h"
#include "service/common/status.h"
#include "service/engine/engine_ops.h"
#include "service/ipc/arena.h"
#include "service/ipc/frame.h"
#include "smime/ipc/ipc.pb-c.h"

/* kEngineOps is the dispatch table: one line per request oneof case. */
static const struct engine_op {
  Smime__Ipc__EngineRequest__BodyCase body;
  const char *name;
  ENGINE_HANDLER handler;
} kEngineOps[] = {
    {SMIME__IPC__ENGINE_REQUEST__BODY_HELLO, "hello", engine_op_hello},
    {SMIME__IPC__ENGINE_REQUEST__BODY_PARSE_CERTIFICATES, "parse_certificates",
     engine_op_parse_certificates},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ANALYZE_MESSAGE, "analyze_message", engine_op_analyze_message},
    {SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_PREPARE, "sign_prepare", engine_op_sign_prepare},
    {SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_FINISH, "sign_finish", engine_op_sign_finish},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ENCRYPT, "encrypt", engine_op_encrypt},
    {SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER, "open_layer", engine_op_open_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER, "verify_layer", engine_op_verify_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_DECRYPT_LAYER, "decrypt_layer", engine_op_decrypt_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ASSEMBLE_OPENED, "assemble_opened",
     engine_op_assemble_opened},
};

static const struct engine_op *find_op(Smime__Ipc__EngineRequest__BodyCase body) {
  for (size_t i = 0; i < sizeof(kEngineOps) / sizeof(kEngineOps[0]); i++) {
    if (kEngineOps[i].body == body) {
      return &kEngineOps[i];
    }
  }
  return NULL;
}

/* parse_fd reads a non-negative decimal fd number. */
static int parse_fd(const char *s, int *out_fd) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535) {
    return 0;
  }
  *out_fd = (int)v;
  return 1;
}

static void usage(void) {
  fprintf(stderr, "usage: smime-engine [--fd N]\n"
                  "Serves smimed's engine requests on the socket N (default 3).\n");
}

/* answer_error turns a handler's failure into the response's Error body. */
static int answer_error(ARENA *arena, const STATUS *st,
                        Smime__Ipc__EngineResponse *resp) {
  Smime__Ipc__Error *e = arena_alloc(arena, sizeof(Smime__Ipc__Error));
  if (e == NULL) {
    return 0;
  }
  smime__ipc__error__init(e);
  e->code = st->code != STATUS_OK ? (uint32_t)st->code : STATUS_INTERNAL;
  e->message = arena_strdup(arena, st->message[0] != '\0' ? st->message
                                                          : "engine operation failed");
  if (e->message == NULL) {
    return 0;
  }
  resp->body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR;
  resp->error = e;
  return 1;
}

/* serve_one reads, runs and answers one request. Returns 1 to go on, 0 at a clean end
 * of stream; exits on a protocol violation. */
static int serve_one(int fd) {
  ProtobufCMessage *msg = NULL;
  int rc = frame_read_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                              &smime__ipc__engine_request__descriptor, &msg, -1);
  if (rc == FRAME_EOF) {
    return 0;
  }
  if (rc != FRAME_OK) {
    log_error("reading a request: %s%s%s; exiting", frame_error_string(rc),
              rc == FRAME_IO ? ": " : "", rc == FRAME_IO ? strerror(errno) : "");
    exit(1);
  }
  Smime__Ipc__EngineRequest *req = (Smime__Ipc__EngineRequest *)msg;
  if (req->body_case == SMIME__IPC__ENGINE_REQUEST__BODY__NOT_SET) {
    log_error("request %llu has no body (or one this engine does not know); exiting",
              (unsigned long long)req->request_id);
    exit(1);
  }
  const struct engine_op *op = find_op(req->body_case);

  ARENA *arena = arena_new();
  if (arena == NULL) {
    log_error("out of memory; exiting");
    exit(1);
  }
  Smime__Ipc__EngineResponse resp = SMIME__IPC__ENGINE_RESPONSE__INIT;
  STATUS st;
  status_clear(&st);
  int ok;
  if (op == NULL) {
    ok = status_set(&st, STATUS_UNIMPLEMENTED,
                    "the engine has no handler for request body %d",
                    (int)req->body_case);
  } else {
    ok = op->handler(arena, req, &resp, &st);
  }
  if (!ok) {
    /* serve_one answers a failed operation with only its Error, whatever the handler
     * left half-built. */
    smime__ipc__engine_response__init(&resp);
    if (!answer_error(arena, &st, &resp)) {
      log_error("out of memory; exiting");
      exit(1);
    }
  }
  ERR_clear_error();
  resp.request_id = req->request_id;
  rc = frame_write_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE,
                           &resp.base, -1);
  arena_free(arena);
  protobuf_c_message_free_unpacked(msg, NULL);
  if (rc != FRAME_OK) {
    log_error("writing a response: %s%s%s; exiting", frame_error_string(rc),
              rc == FRAME_IO ? ": " : "", rc == FRAME_IO ? strerror(errno) : "");
    exit(1);
  }
  return 1;
}

int main(int argc, char **argv) {
  log_set_program("smime-engine");
  int fd = 3;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
      if (!parse_fd(argv[++i], &fd)) {
        usage();
        return 2;
      }
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (fcntl(fd, F_GETFD) < 0) {
    log_error("fd %d is not open: smime-engine is started by smimed, with its socket "
              "as fd %d", fd, fd);
    return 2;
  }
  /* main keeps the socket out of anything this process might exec (nothing, today). */
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  while (serve_one(fd)) {
  }
  return 0;
}
