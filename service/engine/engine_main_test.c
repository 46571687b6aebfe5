/* engine_main_test: smime-engine (path in argv[1]) over a socketpair: it answers a
 * hello with the request's id, exits 0 at end of stream, and exits 1 on each kind of
 * protocol violation without answering. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/ipc/frame.h"
#include "smime/ipc/ipc.pb-c.h"
#include "tests/ctest/check.h"


extern char **environ;

static const char *g_engine;

/* start_engine runs the engine with its end of a socketpair as fd 3. */
static pid_t start_engine(int *out_fd) {
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  /* start_engine moves the child's end off fd 3, so that dup2 really copies it. */
  int child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  CHECK(child >= 0);
  posix_spawn_file_actions_t fa;
  CHECK(posix_spawn_file_actions_init(&fa) == 0);
  CHECK(posix_spawn_file_actions_adddup2(&fa, child, 3) == 0);
  char *argv[] = {(char *)g_engine, "--fd", "3", NULL};
  pid_t pid;
  CHECK(posix_spawn(&pid, g_engine, &fa, NULL, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  close(child);
  close(sv[1]);
  *out_fd = sv[0];
  return pid;
}

static int exit_status(pid_t pid) {
  int st = 0;
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static void send_hello(int fd, uint8_t type, uint64_t id) {
  Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.request_id = id;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  CHECK(frame_write_message(fd, type, &req.base, 5000) == FRAME_OK);
}

/* expect_violation sends |frame| (|len| bytes, header included) and expects the
 * engine to close the connection without an answer and exit 1. */
static void expect_violation(const uint8_t *frame, size_t len) {
  int fd;
  pid_t pid = start_engine(&fd);
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
  pid_t pid = start_engine(&fd);
  for (uint64_t id = 41; id <= 42; id++) {
    send_hello(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST, id);
    ProtobufCMessage *msg = NULL;
    CHECK(frame_read_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE,
                             &smime__ipc__engine_response__descriptor, &msg,
                             5000) == FRAME_OK);
    Smime__Ipc__EngineResponse *resp = (Smime__Ipc__EngineResponse *)msg;
    CHECK(resp->request_id == id);
    CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO);
    CHECK(strstr(resp->hello->crypto_version, "BoringSSL") != NULL);
    CHECK(resp->hello->pid == (uint32_t)pid);
    protobuf_c_message_free_unpacked(msg, NULL);
  }
  CHECK(shutdown(fd, SHUT_WR) == 0);
  CHECK(exit_status(pid) == 0);
  close(fd);

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
