/* frame_fuzzer.c: libFuzzer target for the IPC frame decoder (service/ipc/frame.c) as
 * every worker runs it on what arrives on its socket: the bytes are written to a
 * socketpair and read back as EngineRequest and KeystoreRequest frames until the end. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service/ipc/frame.h"
#include "smime/ipc/ipc.pb-c.h"

/* read_all decodes frames from |fd| until an error or the end of the input. */
static void read_all(int fd, uint8_t type, const ProtobufCMessageDescriptor *desc) {
  for (;;) {
    ProtobufCMessage *msg = NULL;
    if (frame_read_message(fd, type, desc, &msg, 1000) != FRAME_OK) {
      return;
    }
    protobuf_c_message_free_unpacked(msg, NULL);
  }
}

static void feed(const uint8_t *data, size_t len, uint8_t type,
                 const ProtobufCMessageDescriptor *desc) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return;
  }
  /* Inputs are capped (-max_len) below the socket buffer, so one write never blocks. */
  ssize_t n = write(sv[0], data, len);
  (void)n;
  close(sv[0]);
  read_all(sv[1], type, desc);
  close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  if (len > 65536) {
    return 0;
  }
  feed(data, len, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
       &smime__ipc__engine_request__descriptor);
  feed(data, len, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_REQUEST,
       &smime__ipc__keystore_request__descriptor);
  return 0;
}
