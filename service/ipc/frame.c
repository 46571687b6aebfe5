/* frame.c: see frame.h. */
#include "service/ipc/frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* now_ms is the monotonic clock in milliseconds: deadlines must not move with the
 * wall clock. */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline_from converts a relative |timeout_ms| into an absolute deadline; -1 stands
 * for no deadline. */
static int64_t deadline_from(int timeout_ms) {
  if (timeout_ms < 0) {
    return -1;
  }
  return now_ms() + timeout_ms;
}

/* timeout_left is the relative timeout left until |deadline| (-1: none), for the
 * second frame of a pair sent or read by one deadline. */
static int timeout_left(int64_t deadline) {
  if (deadline < 0) {
    return -1;
  }
  int64_t ms = deadline - now_ms();
  return ms < 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* wait_fd waits until |fd| reports any of |events| (or an error or hangup, which the
 * next recv/send will turn into a precise result) or |deadline| passes. One deadline
 * covers the whole frame, so a peer that trickles bytes cannot stretch it. */
static int wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int wait = -1;
    if (deadline >= 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) {
        return FRAME_TIMEOUT;
      }
      wait = left > 0x7fffffff ? 0x7fffffff : (int)left;
    }
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, wait);
    if (n > 0) {
      return FRAME_OK;
    }
    if (n == 0) {
      if (deadline >= 0 && now_ms() >= deadline) {
        return FRAME_TIMEOUT;
      }
      continue;
    }
    if (errno != EINTR) {
      return FRAME_IO;
    }
  }
}

/* write_all sends all |len| bytes of |buf|. MSG_DONTWAIT lets the deadline apply to a
 * peer that stops reading; MSG_NOSIGNAL turns a dead peer into EPIPE, not SIGPIPE. */
static int write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(fd, POLLOUT, deadline);
      if (rc != FRAME_OK) {
        return rc;
      }
      continue;
    }
    return FRAME_IO;
  }
  return FRAME_OK;
}

/* read_all reads exactly |len| bytes into |buf|. On end of stream it returns FRAME_EOF
 * and sets |*got| to the bytes that did arrive, so that the caller can tell a clean end
 * (nothing of the frame read) from a truncated frame. */
static int read_all(int fd, uint8_t *buf, size_t len, int64_t deadline, size_t *got) {
  size_t done = 0;
  int rc = FRAME_OK;
  while (done < len) {
    ssize_t n = recv(fd, buf + done, len - done, MSG_DONTWAIT);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n == 0) {
      rc = FRAME_EOF;
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      rc = wait_fd(fd, POLLIN, deadline);
      if (rc != FRAME_OK) {
        break;
      }
      continue;
    }
    if (errno == ECONNRESET) {
      /* read_all treats a reset like a close: the peer is gone either way. */
      rc = FRAME_EOF;
      break;
    }
    rc = FRAME_IO;
    break;
  }
  *got = done;
  return rc;
}

static void put_header(uint8_t *h, uint8_t type, size_t len) {
  h[0] = (uint8_t)(len >> 24);
  h[1] = (uint8_t)(len >> 16);
  h[2] = (uint8_t)(len >> 8);
  h[3] = (uint8_t)len;
  h[4] = type;
}

int frame_write_raw(int fd, uint8_t type, const uint8_t *body, size_t len,
                    int timeout_ms) {
  if (len > FRAME_MAX_BODY) {
    return FRAME_TOO_LARGE;
  }
  int64_t deadline = deadline_from(timeout_ms);
  uint8_t header[FRAME_HEADER_LEN];
  put_header(header, type, len);
  int rc = write_all(fd, header, sizeof(header), deadline);
  if (rc != FRAME_OK) {
    return rc;
  }
  return write_all(fd, body, len, deadline);
}

/* FRAME_SINK is the ProtobufCBuffer that frame_write_message packs into: small pieces
 * gather in |buf| and go out together; a piece of kSinkDirect bytes or more (a
 * message's bytes field) is sent from where it lies, so that a large body is never
 * copied into a temporary. */
#define FRAME_SINK_SIZE (32 * 1024)
static const size_t kSinkDirect = FRAME_SINK_SIZE / 2;

typedef struct frame_sink_st {
  ProtobufCBuffer base;
  int fd;
  int64_t deadline;
  int rc;      /* the first failure; once set, nothing more is sent */
  size_t sent; /* bytes passed to the sink (header included) */
  size_t used;
  uint8_t buf[FRAME_SINK_SIZE];
} FRAME_SINK;

/* sink_flush sends what |k| gathered. */
static void sink_flush(FRAME_SINK *k) {
  if (k->rc == FRAME_OK && k->used > 0) {
    k->rc = write_all(k->fd, k->buf, k->used, k->deadline);
  }
  explicit_bzero(k->buf, k->used);
  k->used = 0;
}

static void sink_append(ProtobufCBuffer *base, size_t len, const uint8_t *data) {
  FRAME_SINK *k = (FRAME_SINK *)base;
  k->sent += len;
  if (k->rc != FRAME_OK) {
    return;
  }
  if (len >= kSinkDirect) {
    /* What was gathered goes first: the frame keeps the order of the pieces. */
    sink_flush(k);
    if (k->rc == FRAME_OK) {
      k->rc = write_all(k->fd, data, len, k->deadline);
    }
    return;
  }
  if (len > sizeof(k->buf) - k->used) {
    sink_flush(k);
  }
  memcpy(k->buf + k->used, data, len);
  k->used += len;
}

int frame_write_message(int fd, uint8_t type, const ProtobufCMessage *msg,
                        int timeout_ms) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  if (len > FRAME_MAX_BODY) {
    return FRAME_TOO_LARGE;
  }
  /* frame_write_message packs straight to the socket: small frames still go out in one
   * send, and the bytes of a large message are not copied (a 25 MiB message was packed
   * into a second 25 MiB buffer first). The staging buffer is wiped: bodies may carry
   * key material (the keystore's answers). */
  FRAME_SINK *k = malloc(sizeof(*k));
  if (k == NULL) {
    return FRAME_NOMEM;
  }
  k->base.append = sink_append;
  k->fd = fd;
  k->deadline = deadline_from(timeout_ms);
  k->rc = FRAME_OK;
  k->sent = FRAME_HEADER_LEN;
  k->used = FRAME_HEADER_LEN;
  put_header(k->buf, type, len);
  size_t packed = protobuf_c_message_pack_to_buffer(msg, &k->base);
  sink_flush(k);
  int rc = k->rc;
  if (rc == FRAME_OK && (packed != len || k->sent != FRAME_HEADER_LEN + len)) {
    /* The message changed between sizing and packing: the frame is corrupt. */
    errno = EINVAL;
    rc = FRAME_IO;
  }
  free(k);
  return rc;
}

int frame_write_message_bulk(int fd, uint8_t type, const ProtobufCMessage *msg,
                             uint8_t bulk_type, const uint8_t *bulk, size_t len,
                             int timeout_ms) {
  if (len > FRAME_MAX_BODY) {
    return FRAME_TOO_LARGE;
  }
  int64_t deadline = deadline_from(timeout_ms);
  int rc = frame_write_message(fd, type, msg, timeout_ms);
  if (rc != FRAME_OK) {
    return rc;
  }
  return frame_write_raw(fd, bulk_type, bulk, len, timeout_left(deadline));
}

int frame_read(int fd, FRAME *out, int timeout_ms) {
  memset(out, 0, sizeof(*out));
  int64_t deadline = deadline_from(timeout_ms);
  uint8_t header[FRAME_HEADER_LEN];
  uint8_t *body = NULL;
  size_t got = 0;
  size_t len = 0;
  int rc = read_all(fd, header, sizeof(header), deadline, &got);
  if (rc == FRAME_EOF && got > 0) {
    rc = FRAME_TRUNCATED;
  }
  if (rc != FRAME_OK) {
    goto err;
  }
  len = ((size_t)header[0] << 24) | ((size_t)header[1] << 16) |
        ((size_t)header[2] << 8) | (size_t)header[3];
  if (len > FRAME_MAX_BODY) {
    rc = FRAME_TOO_LARGE;
    goto err;
  }
  body = malloc(len > 0 ? len : 1);
  if (body == NULL) {
    rc = FRAME_NOMEM;
    goto err;
  }
  rc = read_all(fd, body, len, deadline, &got);
  if (rc == FRAME_EOF) {
    rc = FRAME_TRUNCATED;
  }
  if (rc != FRAME_OK) {
    goto err;
  }
  out->type = header[4];
  out->body = body;
  out->len = len;
  return FRAME_OK;

err:
  if (body != NULL) {
    explicit_bzero(body, len);
    free(body);
  }
  return rc;
}

int frame_read_message(int fd, uint8_t type, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out_msg, int timeout_ms) {
  FRAME bulk;
  /* Type 0 is never sent: no frame takes the bulk branch. */
  return frame_read_message_bulk(fd, type, 0, 0, desc, out_msg, &bulk, timeout_ms);
}

int frame_read_message_bulk(int fd, uint8_t type, uint8_t with_bulk_type, uint8_t bulk_type,
                            const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out_msg,
                            FRAME *out_bulk, int timeout_ms) {
  *out_msg = NULL;
  memset(out_bulk, 0, sizeof(*out_bulk));
  int64_t deadline = deadline_from(timeout_ms);
  FRAME f;
  ProtobufCMessage *msg = NULL;
  int rc = frame_read(fd, &f, timeout_ms);
  if (rc != FRAME_OK) {
    return rc;
  }
  int with_bulk = with_bulk_type != 0 && f.type == with_bulk_type;
  if (f.type != type && !with_bulk) {
    rc = FRAME_BAD_TYPE;
    goto out;
  }
  msg = protobuf_c_message_unpack(desc, NULL, f.len, f.body);
  if (msg == NULL) {
    rc = FRAME_BAD_BODY;
    goto out;
  }
  if (with_bulk) {
    rc = frame_read(fd, out_bulk, timeout_left(deadline));
    if (rc == FRAME_EOF) {
      rc = FRAME_TRUNCATED; /* the first frame promised a second */
    }
    if (rc == FRAME_OK && out_bulk->type != bulk_type) {
      frame_cleanup(out_bulk);
      rc = FRAME_BAD_TYPE;
    }
    if (rc != FRAME_OK) {
      protobuf_c_message_free_unpacked(msg, NULL);
      goto out;
    }
  }
  *out_msg = msg;
  rc = FRAME_OK;

out:
  frame_cleanup(&f);
  return rc;
}

void frame_cleanup(FRAME *f) {
  if (f == NULL) {
    return;
  }
  if (f->body != NULL) {
    explicit_bzero(f->body, f->len);
    free(f->body);
  }
  memset(f, 0, sizeof(*f));
}

const char *frame_error_string(int rc) {
  switch (rc) {
    case FRAME_OK:
      return "ok";
    case FRAME_EOF:
      return "connection closed by peer";
    case FRAME_TRUNCATED:
      return "connection closed in the middle of a frame";
    case FRAME_TOO_LARGE:
      return "frame larger than the 64 MiB limit";
    case FRAME_TIMEOUT:
      return "timed out";
    case FRAME_IO:
      return "I/O error";
    case FRAME_NOMEM:
      return "out of memory";
    case FRAME_BAD_TYPE:
      return "unexpected frame type";
    case FRAME_BAD_BODY:
      return "frame body does not decode";
    default:
      return "unknown frame error";
  }
}
