/* frame.h: the framing of the IPC between smimed and its workers (smime-engine,
 * smime-keystore) over a stream socket (a socketpair end):
 *
 *   u32 body length (big-endian) | u8 frame type (smime.ipc.FrameType) | body
 *
 * The body is one protobuf-c message (or raw bytes). Linked by all three processes, so
 * it depends on protobuf-c only: no crypto, no gRPC.
 *
 * Convention of this module: every function returns FRAME_OK (0) or a negative FRAME_*
 * code, so that the caller can tell a clean end of stream from a truncated frame, an
 * oversized length, a timeout and an I/O error; frame_error_string names each.
 * Writes use send(MSG_NOSIGNAL), so a dead peer never raises SIGPIPE: |fd| must be a
 * socket. Every function retries on EINTR and loops until the whole frame is moved. */
#ifndef SMIMED_IPC_FRAME_H
#define SMIMED_IPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* FRAME_MAX_BODY is the largest body accepted or sent (64 MiB). A reader that sees a
 * larger length gives up before allocating anything: the peer is broken or hostile. */
#define FRAME_MAX_BODY (64u * 1024u * 1024u)

/* FRAME_HEADER_LEN: the u32 length and the u8 type. */
#define FRAME_HEADER_LEN 5

/* FRAME_OK and the FRAME_* errors, the results of every function below. */
enum {
  FRAME_OK = 0,
  FRAME_EOF = -1,        /* the peer closed the stream cleanly, between frames */
  FRAME_TRUNCATED = -2,  /* the peer closed the stream in the middle of a frame */
  FRAME_TOO_LARGE = -3,  /* a length over FRAME_MAX_BODY (read or write) */
  FRAME_TIMEOUT = -4,    /* the deadline passed before the whole frame moved */
  FRAME_IO = -5,         /* a system call failed; errno says why */
  FRAME_NOMEM = -6,      /* no memory for a body within the cap */
  FRAME_BAD_TYPE = -7,   /* frame_read_message: the frame is not of the expected type */
  FRAME_BAD_BODY = -8,   /* frame_read_message: the body does not decode */
};

/* FRAME is one frame read from a stream. |body| is malloc'ed (never NULL after a
 * successful read, even for an empty body) and owned by the FRAME. */
typedef struct frame_st {
  uint8_t type;
  uint8_t *body;
  size_t len;
} FRAME;

/* frame_write_raw writes one frame of |type| with |len| bytes of |body|, waiting at most
 * |timeout_ms| (negative: no limit) for the peer to take it. */
int frame_write_raw(int fd, uint8_t type, const uint8_t *body, size_t len,
                    int timeout_ms);

/* frame_write_message packs |msg| and writes it as one frame of |type|, straight to
 * the socket: small pieces are gathered (a small frame is one send), bytes fields of
 * 16 KiB or more are sent from the message itself, never copied. */
int frame_write_message(int fd, uint8_t type, const ProtobufCMessage *msg,
                        int timeout_ms);

/* frame_read reads one frame into |*out| (cleared on entry, set only on FRAME_OK),
 * waiting at most |timeout_ms| (negative: no limit) for all of it. The length is
 * checked against FRAME_MAX_BODY before any allocation. */
int frame_read(int fd, FRAME *out, int timeout_ms);

/* frame_read_message reads one frame, checks that its type is |type| and unpacks its
 * body as |desc| into |*out_msg| (NULL on entry, set only on FRAME_OK; free it with
 * protobuf_c_message_free_unpacked(msg, NULL)). */
int frame_read_message(int fd, uint8_t type, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out_msg, int timeout_ms);

/* frame_write_message_bulk writes |msg| as one frame of |type| and |len| bytes of
 * |bulk| as the body of a second frame of |bulk_type|, both by one deadline: a large
 * field left out of |msg| travels without being packed, and its reader gets it in a
 * buffer of its own (frame_read_message_bulk). */
int frame_write_message_bulk(int fd, uint8_t type, const ProtobufCMessage *msg,
                             uint8_t bulk_type, const uint8_t *bulk, size_t len,
                             int timeout_ms);

/* frame_read_message_bulk is frame_read_message that also accepts a frame of
 * |with_bulk_type| (its body decoded as |desc| too), which must be followed by a frame
 * of |bulk_type|: that frame is returned in |*out_bulk| (cleared on entry; its body is
 * NULL when no bulk came), for the caller to put into the message. */
int frame_read_message_bulk(int fd, uint8_t type, uint8_t with_bulk_type, uint8_t bulk_type,
                            const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out_msg,
                            FRAME *out_bulk, int timeout_ms);

/* frame_cleanup frees |f|'s body and zeroes it. Accepts NULL. Bodies may carry key
 * material (the keystore's answers), so the bytes are wiped before free. */
void frame_cleanup(FRAME *f);

/* frame_error_string describes a FRAME_* result ("timed out", ...). */
const char *frame_error_string(int rc);

#endif /* SMIMED_IPC_FRAME_H */
