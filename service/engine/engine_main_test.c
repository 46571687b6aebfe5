/* engine_main_test: smime-engine (path in argv[1]) over a socketpair: it answers a
 * hello with the request's id, exits 0 at end of stream, and exits 1 on each kind of
 * protocol violation without answering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/engine/testing_engine.h"
#include "service/ipc/frame.h"
#include "smime/ipc/ipc.pb-c.h"
#include "tests/ctest/check.h"

static const char *g_engine;

static int exit_status(pid_t pid) {
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* expect_violation sends |frame| (|len| bytes, header included) and expects the
 * engine to close the connection without an answer and exit 1. */
static void expect_violation(const uint8_t *frame, size_t len) {
  int fd;
  pid_t pid = testing_engine_start(g_engine, NULL, &fd);
  CHECK(write(fd, frame, len) == (ssize_t)len);
  FRAME f;
  CHECK(frame_read(fd, &f, 5000) == FRAME_EOF);
  CHECK(exit_status(pid) == 1);
  close(fd);
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  g_engine = argv[1];

  /* Two hellos, then end of stream. */
  int fd;
  pid_t pid = testing_engine_start(g_engine, NULL, &fd);
  for (uint64_t id = 41; id <= 42; id++) {
    Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
    Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
    req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
    req.hello = &hello;
    Smime__Ipc__EngineResponse *resp = testing_engine_call(fd, id, &req);
    CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO);
    CHECK(strstr(resp->hello->crypto_version, "BoringSSL") != NULL);
    CHECK(resp->hello->pid == (uint32_t)pid);
    smime__ipc__engine_response__free_unpacked(resp, NULL);
  }
  testing_engine_stop(pid, fd);

  /* A keystore frame type. */
  static const uint8_t bad_type[] = {0, 0, 0, 4, 3, 0x08, 0x07, 0x12, 0x00};
  expect_violation(bad_type, sizeof(bad_type));
  /* A request without a body. */
  static const uint8_t no_body[] = {0, 0, 0, 2, 1, 0x08, 0x07};
  expect_violation(no_body, sizeof(no_body));
  /* A body that does not decode. */
  static const uint8_t garbage[] = {0, 0, 0, 3, 1, 0xff, 0xff, 0xff};
  expect_violation(garbage, sizeof(garbage));
  /* A length over the cap. */
  static const uint8_t oversized[] = {0x7f, 0xff, 0xff, 0xff, 1};
  expect_violation(oversized, sizeof(oversized));
  printf("engine_main_test: all passed\n");
  return 0;
}
