/* testing_engine.c: see testing_engine.h. */
#include "service/engine/testing_engine.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/ipc/bulk.h"
#include "service/ipc/frame.h"
#include "tests/ctest/check.h"

extern char **environ;

pid_t testing_engine_start(const char *path, const char *const *args, int *out_fd) {
  int sv[2];
  char *argv[16] = {(char *)path, "--fd", "3"};
  size_t n = 3;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  /* The child's end moves off fd 3, so that dup2 really copies it. */
  int child = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  CHECK(child >= 0);
  for (size_t i = 0; args != NULL && args[i] != NULL; i++) {
    CHECK(n + 1 < sizeof(argv) / sizeof(argv[0]));
    argv[n++] = (char *)args[i];
  }
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  CHECK(posix_spawn_file_actions_init(&fa) == 0);
  CHECK(posix_spawn_file_actions_adddup2(&fa, child, 3) == 0);
  pid_t pid;
  CHECK(posix_spawn(&pid, path, &fa, NULL, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  close(child);
  close(sv[1]);
  *out_fd = sv[0];
  return pid;
}

void testing_engine_stop(pid_t pid, int fd) {
  int st = 0;
  CHECK(shutdown(fd, SHUT_WR) == 0);
  CHECK(waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(fd);
}

Smime__Ipc__EngineResponse *testing_engine_call(int fd, uint64_t id,
                                                Smime__Ipc__EngineRequest *req) {
  req->request_id = id;
  CHECK(frame_write_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                            &req->base, 10000) == FRAME_OK);
  ProtobufCMessage *msg = NULL;
  FRAME bulk;
  CHECK(frame_read_message_bulk(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE,
                                SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE_BULK,
                                SMIME__IPC__FRAME_TYPE__FRAME_TYPE_BULK,
                                &smime__ipc__engine_response__descriptor, &msg, &bulk,
                                10000) == FRAME_OK);
  Smime__Ipc__EngineResponse *resp = (Smime__Ipc__EngineResponse *)msg;
  CHECK(resp->request_id == id);
  if (bulk.body != NULL) {
    /* A large message came in a bulk frame: only from BULK_MIN on, into an empty
     * field (as the worker pool checks). */
    ProtobufCBinaryData *field = engine_response_bulk_field(resp);
    CHECK(field != NULL && field->len == 0 && bulk.len >= BULK_MIN);
    field->data = bulk.body;
    field->len = bulk.len;
  }
  return resp;
}

void testing_expect_error(Smime__Ipc__EngineResponse *resp, uint32_t code, const char *part) {
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR);
  if (resp->error->code != code || strstr(resp->error->message, part) == NULL) {
    fprintf(stderr, "got %u [%s], want %u [...%s...]\n", resp->error->code,
            resp->error->message, code, part);
  }
  CHECK(resp->error->code == code);
  CHECK(strstr(resp->error->message, part) != NULL);
  smime__ipc__engine_response__free_unpacked(resp, NULL);
}

void testing_make_pki(const char *script, char *dir, size_t dir_len) {
  const char *tmp = getenv("TEST_TMPDIR");
  char cmd[8400];
  snprintf(dir, dir_len, "%s/pki.XXXXXX", tmp != NULL ? tmp : "/tmp");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(cmd, sizeof(cmd), "OPENSSL_CONF=/dev/null bash '%s' '%s' >/dev/null", script, dir);
  CHECK(system(cmd) == 0);
}

void testing_remove_dir(const char *dir) {
  char cmd[4200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

uint8_t *testing_read_file(const char *dir, const char *name, size_t *out_len) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  CHECK_MSG(f != NULL, "%s", path);
  CHECK(fseek(f, 0, SEEK_END) == 0);
  long len = ftell(f);
  CHECK(len > 0);
  CHECK(fseek(f, 0, SEEK_SET) == 0);
  uint8_t *buf = malloc((size_t)len);
  CHECK(buf != NULL);
  CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
  fclose(f);
  *out_len = (size_t)len;
  return buf;
}
