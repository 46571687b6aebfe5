/* frame_test: frame.c against a socketpair: round trips, and each way a peer can go
 * wrong (oversized length, truncated frame, silence, close, garbage). */
#include "service/ipc/frame.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smime/ipc/ipc.pb-c.h"
#include "tests/ctest/check.h"


static void make_pair(int sv[2]) {
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void close_pair(int sv[2]) {
  close(sv[0]);
  close(sv[1]);
}

static long elapsed_ms(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void test_message_round_trip(void) {
  int sv[2];
  make_pair(sv);
  Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.request_id = 0x0102030405060708ull;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  CHECK(frame_write_message(sv[0], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                            &req.base, 1000) == FRAME_OK);
  ProtobufCMessage *msg = NULL;
  CHECK(frame_read_message(sv[1], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                           &smime__ipc__engine_request__descriptor, &msg,
                           1000) == FRAME_OK);
  Smime__Ipc__EngineRequest *got = (Smime__Ipc__EngineRequest *)msg;
  CHECK(got->request_id == 0x0102030405060708ull);
  CHECK(got->body_case == SMIME__IPC__ENGINE_REQUEST__BODY_HELLO);
  protobuf_c_message_free_unpacked(msg, NULL);

  /* An empty message packs to an empty body: still a valid frame. */
  Smime__Ipc__EngineRequest empty = SMIME__IPC__ENGINE_REQUEST__INIT;
  CHECK(frame_write_message(sv[0], 7, &empty.base, 1000) == FRAME_OK);
  FRAME f;
  CHECK(frame_read(sv[1], &f, 1000) == FRAME_OK);
  CHECK(f.type == 7);
  CHECK(f.len == 0);
  CHECK(f.body != NULL);
  frame_cleanup(&f);
  CHECK(f.body == NULL);
  frame_cleanup(NULL);
  close_pair(sv);
}

/* writer_arg is what writer sends from its thread: |body| as a raw frame of type 42
 * (no |msg|), |msg| as an engine request frame (no |body|), or |msg| as a frame of
 * type 5 followed by |body| as a bulk frame of type 6. */
struct writer_arg {
  int fd;
  const ProtobufCMessage *msg;
  const uint8_t *body;
  size_t len;
  int rc;
};

static void *writer(void *p) {
  struct writer_arg *w = p;
  if (w->msg == NULL) {
    w->rc = frame_write_raw(w->fd, 42, w->body, w->len, 10000);
  } else if (w->body == NULL) {
    w->rc = frame_write_message(w->fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                                w->msg, 10000);
  } else {
    w->rc = frame_write_message_bulk(w->fd, 5, w->msg, 6, w->body, w->len, 10000);
  }
  return NULL;
}

/* read_while_writing sends |w| from a thread of its own while this one reads a frame
 * of |fd| into |f|: large frames need both ends moving. The send must succeed. */
static void read_while_writing(struct writer_arg *w, int fd, FRAME *f) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, writer, w) == 0);
  CHECK(frame_read(fd, f, 10000) == FRAME_OK);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(w->rc == FRAME_OK);
}

/* test_large_round_trip moves 8 MiB, far over the socket buffer: partial sends and
 * recvs must be continued, from two threads at once. */
static void test_large_round_trip(void) {
  int sv[2];
  make_pair(sv);
  size_t len = 8u * 1024 * 1024;
  uint8_t *body = malloc(len);
  CHECK(body != NULL);
  for (size_t i = 0; i < len; i++) {
    body[i] = (uint8_t)(i * 31 + 7);
  }
  struct writer_arg w = {.fd = sv[0], .msg = NULL, .body = body, .len = len, .rc = 1};
  FRAME f;
  read_while_writing(&w, sv[1], &f);
  CHECK(f.type == 42);
  CHECK(f.len == len);
  CHECK(memcmp(f.body, body, len) == 0);
  frame_cleanup(&f);
  free(body);
  close_pair(sv);
}

/* test_streamed_pack: frame_write_message packs straight to the socket, gathering
 * small pieces and sending large bytes fields from the message itself; the frame must
 * hold exactly what protobuf_c_message_pack writes, whatever the sizes of the pieces
 * around the gathering buffer's limits (a 4 MiB message among small fields, and
 * fields of 16 KiB - 1, 16 KiB and 32 KiB + 1). */
static void test_streamed_pack(void) {
  static const size_t kSizes[] = {0, 1, 16383, 16384, 32769, 4u * 1024 * 1024};
  for (size_t i = 0; i < sizeof(kSizes) / sizeof(kSizes[0]); i++) {
    for (size_t j = 0; j < sizeof(kSizes) / sizeof(kSizes[0]); j++) {
      int sv[2];
      make_pair(sv);
      uint8_t *a = malloc(kSizes[i] + 1);
      uint8_t *b = malloc(kSizes[j] + 1);
      CHECK(a != NULL && b != NULL);
      for (size_t k = 0; k < kSizes[i]; k++) {
        a[k] = (uint8_t)(k * 7 + i);
      }
      for (size_t k = 0; k < kSizes[j]; k++) {
        b[k] = (uint8_t)(k * 13 + j);
      }
      Smime__Ipc__EngineSignFinishRequest sf = SMIME__IPC__ENGINE_SIGN_FINISH_REQUEST__INIT;
      sf.message.data = a;
      sf.message.len = kSizes[i];
      sf.state.data = b;
      sf.state.len = kSizes[j];
      sf.signature.data = (uint8_t *)"sig";
      sf.signature.len = 3;
      sf.md = 2;
      Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
      req.request_id = 77;
      req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_FINISH;
      req.sign_finish = &sf;
      size_t len = protobuf_c_message_get_packed_size(&req.base);
      uint8_t *want = malloc(len + 1);
      CHECK(want != NULL);
      CHECK(protobuf_c_message_pack(&req.base, want) == len);

      struct writer_arg w = {.fd = sv[0], .msg = &req.base, .body = NULL, .len = 0, .rc = 1};
      FRAME f;
      read_while_writing(&w, sv[1], &f);
      CHECK(f.type == SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST);
      CHECK(f.len == len);
      CHECK(memcmp(f.body, want, len) == 0);
      frame_cleanup(&f);
      free(want);
      free(a);
      free(b);
      close_pair(sv);
    }
  }
}

/* test_bulk: a message and its bulk frame arrive together through
 * frame_read_message_bulk (the bulk's body handed over as read); a plain frame of the
 * message type still reads with no bulk; a frame of the bulk-carrying type without
 * its second frame is truncated, and one followed by a frame of another type is
 * refused. */
static void test_bulk(void) {
  int sv[2];
  make_pair(sv);
  size_t len = 3u * 1024 * 1024;
  uint8_t *body = malloc(len);
  CHECK(body != NULL);
  for (size_t i = 0; i < len; i++) {
    body[i] = (uint8_t)(i * 11 + 5);
  }
  Smime__Ipc__EngineResponse resp = SMIME__IPC__ENGINE_RESPONSE__INIT;
  resp.request_id = 9;
  struct writer_arg w = {.fd = sv[0], .msg = &resp.base, .body = body, .len = len, .rc = 1};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, writer, &w) == 0);
  ProtobufCMessage *msg = NULL;
  FRAME bulk;
  CHECK(frame_read_message_bulk(sv[1], 2, 5, 6, &smime__ipc__engine_response__descriptor, &msg,
                                &bulk, 10000) == FRAME_OK);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(w.rc == FRAME_OK);
  CHECK(((Smime__Ipc__EngineResponse *)msg)->request_id == 9);
  CHECK(bulk.type == 6 && bulk.len == len && memcmp(bulk.body, body, len) == 0);
  frame_cleanup(&bulk);
  protobuf_c_message_free_unpacked(msg, NULL);

  /* The plain type: no bulk. */
  CHECK(frame_write_message(sv[0], 2, &resp.base, 1000) == FRAME_OK);
  CHECK(frame_read_message_bulk(sv[1], 2, 5, 6, &smime__ipc__engine_response__descriptor, &msg,
                                &bulk, 1000) == FRAME_OK);
  CHECK(msg != NULL && bulk.body == NULL && bulk.len == 0);
  protobuf_c_message_free_unpacked(msg, NULL);

  /* A bulk-carrying frame followed by a frame of another type. */
  CHECK(frame_write_message(sv[0], 5, &resp.base, 1000) == FRAME_OK);
  CHECK(frame_write_raw(sv[0], 7, body, 10, 1000) == FRAME_OK);
  CHECK(frame_read_message_bulk(sv[1], 2, 5, 6, &smime__ipc__engine_response__descriptor, &msg,
                                &bulk, 1000) == FRAME_BAD_TYPE);
  CHECK(msg == NULL && bulk.body == NULL);

  /* A bulk-carrying frame where a plain reader expects the plain type only. */
  CHECK(frame_write_message(sv[0], 5, &resp.base, 1000) == FRAME_OK);
  CHECK(frame_read_message(sv[1], 2, &smime__ipc__engine_response__descriptor, &msg, 1000) ==
        FRAME_BAD_TYPE);

  /* A bulk-carrying frame and then the end of the stream. */
  CHECK(frame_write_message(sv[0], 5, &resp.base, 1000) == FRAME_OK);
  close(sv[0]);
  CHECK(frame_read_message_bulk(sv[1], 2, 5, 6, &smime__ipc__engine_response__descriptor, &msg,
                                &bulk, 1000) == FRAME_TRUNCATED);
  CHECK(msg == NULL && bulk.body == NULL);
  close(sv[1]);
  free(body);
}

/* vm_size_bytes is this process's address space size, from /proc/self/status. */
static unsigned long long vm_size_bytes(void) {
  FILE *fp = fopen("/proc/self/status", "r");
  CHECK(fp != NULL);
  char line[256];
  unsigned long long kb = 0;
  while (fgets(line, sizeof(line), fp) != NULL) {
    if (sscanf(line, "VmSize: %llu kB", &kb) == 1) {
      break;
    }
  }
  fclose(fp);
  CHECK(kb > 0);
  return kb * 1024;
}

static void write_header(int fd, uint32_t len, uint8_t type) {
  uint8_t h[5] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                  (uint8_t)len, type};
  CHECK(write(fd, h, sizeof(h)) == (ssize_t)sizeof(h));
}

/* test_oversized: a length over the cap is refused at once, with the connection still
 * open (so no attempt to read the body), and without allocating: the address space is
 * capped at 16 MiB over its current size, so an attempt to allocate the body would
 * come back as FRAME_NOMEM instead. */
static void test_oversized(void) {
  static const uint32_t lengths[] = {FRAME_MAX_BODY + 1, 0xffffffffu};
  for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
    int sv[2];
    make_pair(sv);
    write_header(sv[0], lengths[i], 1);
    CHECK(write(sv[0], "rest", 4) == 4);
    struct rlimit saved;
    CHECK(getrlimit(RLIMIT_AS, &saved) == 0);
    struct rlimit low = saved;
    low.rlim_cur = vm_size_bytes() + 16u * 1024 * 1024;
    CHECK(setrlimit(RLIMIT_AS, &low) == 0);
    FRAME f;
    int rc = frame_read(sv[1], &f, 1000);
    CHECK(setrlimit(RLIMIT_AS, &saved) == 0);
    CHECK(rc == FRAME_TOO_LARGE);
    CHECK(f.body == NULL);
    /* The bytes after the header were not consumed. */
    char rest[4];
    CHECK(read(sv[1], rest, 4) == 4);
    CHECK(memcmp(rest, "rest", 4) == 0);
    close_pair(sv);
  }
  /* The writer refuses too. */
  int sv[2];
  make_pair(sv);
  CHECK(frame_write_raw(sv[0], 1, NULL, FRAME_MAX_BODY + 1, 1000) == FRAME_TOO_LARGE);
  close_pair(sv);
}

static void test_truncated(void) {
  int sv[2];
  /* Inside the body. */
  make_pair(sv);
  write_header(sv[0], 100, 1);
  CHECK(write(sv[0], "0123456789", 10) == 10);
  close(sv[0]);
  FRAME f;
  CHECK(frame_read(sv[1], &f, 1000) == FRAME_TRUNCATED);
  CHECK(f.body == NULL);
  close(sv[1]);
  /* Inside the header. */
  make_pair(sv);
  CHECK(write(sv[0], "\0\0\0", 3) == 3);
  close(sv[0]);
  CHECK(frame_read(sv[1], &f, 1000) == FRAME_TRUNCATED);
  close(sv[1]);
}

static void test_timeout(void) {
  int sv[2];
  make_pair(sv);
  FRAME f;
  struct timespec start;
  /* Nothing at all. */
  clock_gettime(CLOCK_MONOTONIC, &start);
  CHECK(frame_read(sv[1], &f, 150) == FRAME_TIMEOUT);
  long ms = elapsed_ms(&start);
  CHECK(ms >= 140 && ms < 2000);
  /* Half a frame, then silence: the deadline covers the whole frame. */
  write_header(sv[0], 10, 1);
  CHECK(write(sv[0], "abc", 3) == 3);
  clock_gettime(CLOCK_MONOTONIC, &start);
  CHECK(frame_read(sv[1], &f, 150) == FRAME_TIMEOUT);
  ms = elapsed_ms(&start);
  CHECK(ms >= 140 && ms < 2000);
  close_pair(sv);
  /* A peer that does not read: the writer gives up at its deadline. */
  make_pair(sv);
  size_t len = 8u * 1024 * 1024;
  uint8_t *body = calloc(1, len);
  CHECK(body != NULL);
  clock_gettime(CLOCK_MONOTONIC, &start);
  CHECK(frame_write_raw(sv[0], 1, body, len, 150) == FRAME_TIMEOUT);
  ms = elapsed_ms(&start);
  CHECK(ms >= 140 && ms < 2000);
  free(body);
  close_pair(sv);
}

static void test_eof(void) {
  int sv[2];
  make_pair(sv);
  close(sv[0]);
  FRAME f;
  CHECK(frame_read(sv[1], &f, 1000) == FRAME_EOF);
  CHECK(f.body == NULL);
  /* Writing to a closed peer fails with EPIPE, and raises no SIGPIPE (which would
   * kill this test). */
  errno = 0;
  CHECK(frame_write_raw(sv[1], 1, (const uint8_t *)"x", 1, 1000) == FRAME_IO);
  CHECK(errno == EPIPE);
  close(sv[1]);
}

static void test_bad_type_and_body(void) {
  int sv[2];
  make_pair(sv);
  ProtobufCMessage *msg = NULL;
  CHECK(frame_write_raw(sv[0], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_REQUEST,
                        (const uint8_t *)"", 0, 1000) == FRAME_OK);
  CHECK(frame_read_message(sv[1], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                           &smime__ipc__engine_request__descriptor, &msg,
                           1000) == FRAME_BAD_TYPE);
  CHECK(msg == NULL);
  static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(frame_write_raw(sv[0], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                        garbage, sizeof(garbage), 1000) == FRAME_OK);
  CHECK(frame_read_message(sv[1], SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                           &smime__ipc__engine_request__descriptor, &msg,
                           1000) == FRAME_BAD_BODY);
  CHECK(msg == NULL);
  CHECK(strcmp(frame_error_string(FRAME_TIMEOUT), "timed out") == 0);
  close_pair(sv);
}

int main(void) {
  test_message_round_trip();
  test_large_round_trip();
  test_streamed_pack();
  test_bulk();
  test_oversized();
  test_truncated();
  test_timeout();
  test_eof();
  test_bad_type_and_body();
  printf("frame_test: all passed\n");
  return 0;
}
