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

int frame_write_message(int fd, uint8_t type, const ProtobufCMessage *msg,
                        int timeout_ms) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  if (len > FRAME_MAX_BODY) {
    return FRAME_TOO_LARGE;
  }
  /* frame_write_message packs behind the header in one buffer: one send per frame. */
  uint8_t *buf = malloc(FRAME_HEADER_LEN + len);
  if (buf == NULL) {
    return FRAME_NOMEM;
  }
  put_header(buf, type, len);
  protobuf_c_message_pack(msg, buf + FRAME_HEADER_LEN);
  int rc = write_all(fd, buf, FRAME_HEADER_LEN + len, deadline_from(timeout_ms));
  explicit_bzero(buf, FRAME_HEADER_LEN + len);
  free(buf);
  return rc;
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
  *out_msg = NULL;
  FRAME f;
  ProtobufCMessage *msg = NULL;
  int rc = frame_read(fd, &f, timeout_ms);
  if (rc != FRAME_OK) {
    return rc;
  }
  if (f.type != type) {
    rc = FRAME_BAD_TYPE;
    goto out;
  }
  msg = protobuf_c_message_unpack(desc, NULL, f.len, f.body);
  if (msg == NULL) {
    rc = FRAME_BAD_BODY;
    goto out;
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
