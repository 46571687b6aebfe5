/* mime_build.c: see mime_build.h. */
#include "service/mime/mime_build.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "service/mime/mime_codec.h"

/* MIME_MAX_LINE is RFC 5322's limit on a line, CRLF excluded. */
#define MIME_MAX_LINE 998

/* BUF is a growing output buffer; |failed| makes every later append a no-op, so that
 * callers check once at the end. */
typedef struct buf_st {
  uint8_t *data;
  size_t len;
  size_t cap;
  int failed;
} BUF;

/* buf_room makes room for |n| more bytes (and a NUL): doubling the capacity, or with
 * |exact| to that size and no more (for the one large piece of a buffer, whose size is
 * known). */
static int buf_room(BUF *b, size_t n, int exact) {
  if (b->failed) {
    return 0;
  }
  if (n >= SIZE_MAX / 4 || b->len >= SIZE_MAX / 4) {
    b->failed = 1;
    return 0;
  }
  if (b->len + n + 1 <= b->cap) {
    return 1;
  }
  size_t cap = b->len + n + 1;
  if (!exact) {
    cap = b->cap == 0 ? 4096 : b->cap;
    while (cap < b->len + n + 1) {
      cap *= 2;
    }
  }
  uint8_t *d = realloc(b->data, cap);
  if (d == NULL) {
    b->failed = 1;
    return 0;
  }
  b->data = d;
  b->cap = cap;
  return 1;
}

/* buf_reserve makes room for |n| more bytes (and a NUL). */
static int buf_reserve(BUF *b, size_t n) { return buf_room(b, n, 0); }

/* buf_add appends |n| bytes. */
static void buf_add(BUF *b, const void *p, size_t n) {
  if (n == 0 || !buf_reserve(b, n)) {
    return;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* buf_str appends a C string. */
static void buf_str(BUF *b, const char *s) {
  buf_add(b, s, strlen(s));
}

/* buf_crlf appends |n| bytes with every bare LF made CRLF. memchr finds the line ends
 * (a large body is mostly long runs without one). */
static void buf_crlf(BUF *b, const uint8_t *p, size_t n) {
  size_t start = 0;
  const uint8_t *lf;
  while (start < n && (lf = memchr(p + start, '\n', n - start)) != NULL) {
    size_t i = (size_t)(lf - p);
    if (i == 0 || p[i - 1] != '\r') {
      buf_add(b, p + start, i - start);
      buf_add(b, "\r\n", 2);
      start = i + 1;
    } else {
      buf_add(b, p + start, i + 1 - start);
      start = i + 1;
    }
  }
  buf_add(b, p + start, n - start);
}

/* buf_header appends raw header field bytes: line ends made CRLF, and a NUL or a CR
 * that ends no line made a space (what the parser already read them as), since no
 * transport carries those in a header. */
static void buf_header(BUF *b, const uint8_t *p, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (c == '\n' && (i == 0 || p[i - 1] != '\r')) {
      buf_add(b, p + start, i - start);
      buf_add(b, "\r\n", 2);
      start = i + 1;
    } else if (c == '\0' || (c == '\r' && (i + 1 >= n || p[i + 1] != '\n'))) {
      buf_add(b, p + start, i - start);
      buf_add(b, " ", 1);
      start = i + 1;
    }
  }
  buf_add(b, p + start, n - start);
}

/* buf_finish hands the buffer to |*out| (NUL-terminated), or reports failure. */
static int buf_finish(BUF *b, uint8_t **out, size_t *out_len, STATUS *err) {
  if (!b->failed && buf_reserve(b, 0)) {
    b->data[b->len] = '\0';
    *out = b->data;
    *out_len = b->len;
    return 1;
  }
  free(b->data);
  b->data = NULL;
  return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory building MIME");
}

/* is_content_field says whether header field |name| belongs to the MIME entity
 * (Content-*) rather than to the message. */
static int is_content_field(const char *name) {
  return strncasecmp(name, "content-", 8) == 0;
}

/* emit_headers appends the header fields of |e| (CRLF), replacing the first
 * Content-Transfer-Encoding by |new_cte| (dropping later ones) or adding it when
 * there is none; |new_cte| NULL keeps them. |content_only| keeps only Content-*
 * fields. Then the empty line. */
static void emit_headers(BUF *b, const MIME_ENTITY *e, const char *new_cte,
                         int content_only) {
  int done = 0;
  for (size_t i = 0; i < e->num_headers; i++) {
    const MIME_HEADER *h = &e->headers[i];
    if (content_only && !is_content_field(h->name)) {
      continue;
    }
    if (new_cte != NULL && strcasecmp(h->name, "content-transfer-encoding") == 0) {
      if (!done) {
        buf_str(b, "Content-Transfer-Encoding: ");
        buf_str(b, new_cte);
        buf_str(b, "\r\n");
        done = 1;
      }
      continue;
    }
    buf_header(b, h->raw.ptr, h->raw.len);
    if (h->raw.len == 0 || h->raw.ptr[h->raw.len - 1] != '\n') {
      buf_str(b, "\r\n"); /* the last field of a message without a body */
    }
  }
  if (new_cte != NULL && !done) {
    buf_str(b, "Content-Transfer-Encoding: ");
    buf_str(b, new_cte);
    buf_str(b, "\r\n");
  }
  buf_str(b, "\r\n");
}

/* reencode appends |n| bytes encoded for transport: quoted-printable for text (CRLF
 * as hard breaks), else base64. Sets |*cte|. */
static int reencode(BUF *b, const uint8_t *p, size_t n, int text, const char **cte,
                    STATUS *err) {
  uint8_t *enc = NULL;
  size_t enc_len = 0;
  if (text) {
    if (!mime_qp_encode(p, n, 1, &enc, &enc_len, err)) {
      return 0;
    }
    *cte = "quoted-printable";
  } else {
    if (!mime_base64_encode(p, n, 76, &enc, &enc_len, err)) {
      return 0;
    }
    *cte = "base64";
  }
  buf_add(b, enc, enc_len);
  free(enc);
  return 1;
}

/* emit_entity is defined below; multiparts recurse through it. */
static int emit_entity(BUF *b, const MIME_ENTITY *e, STATUS *err);

/* emit_leaf appends a single-part entity, re-encoding its body when needed. */
static int emit_leaf(BUF *b, const MIME_ENTITY *e, STATUS *err) {
  char path[128];
  const uint8_t *body = e->body.ptr;
  size_t n = e->body.len;
  /* direct: the body needs only its line ends made CRLF, written straight after the
   * header fields (for a large body, one copy less alive). */
  int direct = 0;
  int text = strcmp(e->type, "text") == 0;
  BUF body_buf = {NULL, 0, 0, 0};
  const char *cte = NULL;
  uint8_t *decoded = NULL;
  size_t decoded_len = 0;
  int ret = 0;
  switch (e->cte) {
    case MIME_CTE_BASE64:
    case MIME_CTE_QUOTED_PRINTABLE:
      if (mime_7bit_safe(body, n, MIME_MAX_LINE, 0)) {
        direct = 1;
        break;
      }
      if (!mime_entity_decode(e, &decoded, &decoded_len, err)) {
        goto out;
      }
      if (!reencode(&body_buf, decoded, decoded_len,
                    text && e->cte == MIME_CTE_QUOTED_PRINTABLE, &cte, err)) {
        goto out;
      }
      break;
    case MIME_CTE_7BIT:
    case MIME_CTE_8BIT:
      if (mime_7bit_safe(body, n, MIME_MAX_LINE, 1)) {
        direct = 1;
        if (e->cte == MIME_CTE_8BIT) {
          /* An MTA downgrading 8BITMIME goes by the label: say 7bit. */
          cte = "7bit";
        }
        break;
      }
      /* Line-oriented data: canonicalize the line ends, then encode. */
      if (!mime_crlf(body, n, &decoded, &decoded_len, err) ||
          !reencode(&body_buf, decoded, decoded_len, text, &cte, err)) {
        goto out;
      }
      break;
    case MIME_CTE_BINARY:
      if (!reencode(&body_buf, body, n, 0, &cte, err)) {
        goto out;
      }
      break;
    default:
      if (!mime_7bit_safe(body, n, MIME_MAX_LINE, 0)) {
        status_set(err, STATUS_INVALID_ARGUMENT,
                   "MIME part %s (%s/%s): cannot make Content-Transfer-Encoding '%s' "
                   "with 8-bit data safe for signing",
                   mime_entity_path(e, path, sizeof(path)), e->type, e->subtype,
                   e->cte_name);
        goto out;
      }
      direct = 1;
      break;
  }
  if (body_buf.failed) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory building MIME");
    goto out;
  }
  emit_headers(b, e, cte, 0);
  if (direct) {
    buf_crlf(b, body, n);
  } else {
    buf_add(b, body_buf.data, body_buf.len);
  }
  ret = 1;

out:
  free(body_buf.data);
  free(decoded);
  return ret;
}

/* container_cte is the transfer encoding a multipart or message/rfc822 entity must
 * declare after its parts are made 7-bit: 8bit and binary become 7bit. */
static const char *container_cte(const MIME_ENTITY *e) {
  return e->cte == MIME_CTE_8BIT || e->cte == MIME_CTE_BINARY ? "7bit" : NULL;
}

/* emit_multipart appends a multipart rebuilt part by part. */
static int emit_multipart(BUF *b, const MIME_ENTITY *e, STATUS *err) {
  char path[128];
  const char *boundary = mime_entity_param(e, "boundary");
  if (e->num_children == 0 || boundary == NULL) {
    if (!mime_7bit_safe(e->body.ptr, e->body.len, MIME_MAX_LINE, 0)) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "MIME part %s (%s/%s) has no parts and 8-bit data",
                        mime_entity_path(e, path, sizeof(path)), e->type, e->subtype);
    }
    emit_headers(b, e, container_cte(e), 0);
    buf_crlf(b, e->body.ptr, e->body.len);
    return 1;
  }
  emit_headers(b, e, container_cte(e), 0);
  if (e->preamble.len > 0 && mime_7bit_safe(e->preamble.ptr, e->preamble.len, MIME_MAX_LINE, 0)) {
    buf_crlf(b, e->preamble.ptr, e->preamble.len);
    buf_str(b, "\r\n");
  }
  for (size_t i = 0; i < e->num_children; i++) {
    buf_str(b, "--");
    buf_str(b, boundary);
    buf_str(b, "\r\n");
    if (!emit_entity(b, &e->children[i], err)) {
      return 0;
    }
    buf_str(b, "\r\n");
  }
  buf_str(b, "--");
  buf_str(b, boundary);
  buf_str(b, "--\r\n");
  if (e->epilogue.len > 0 && mime_7bit_safe(e->epilogue.ptr, e->epilogue.len, MIME_MAX_LINE, 0)) {
    buf_crlf(b, e->epilogue.ptr, e->epilogue.len);
  }
  return 1;
}

/* emit_entity appends |e| in signable form: multiparts part by part, message/rfc822
 * around its message, anything else as a leaf. */
static int emit_entity(BUF *b, const MIME_ENTITY *e, STATUS *err) {
  if (strcmp(e->type, "multipart") == 0 && !(e->flags & MIME_F_ENCODED_MULTIPART)) {
    return emit_multipart(b, e, err);
  }
  if (e->num_children == 1 && strcmp(e->type, "message") == 0) {
    emit_headers(b, e, container_cte(e), 0);
    return emit_entity(b, &e->children[0], err);
  }
  return emit_leaf(b, e, err);
}

int mime_build_signable(const uint8_t *entity, size_t len, const MIME_LIMITS *lim,
                        uint8_t **out, size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  BUF b = {NULL, 0, 0, 0};
  MIME_TREE *t = mime_parse(entity, len, lim, err);
  if (t == NULL) {
    return 0;
  }
  int ok = emit_entity(&b, mime_tree_root(t), err);
  mime_tree_free(t);
  if (!ok) {
    free(b.data);
    return 0;
  }
  return buf_finish(&b, out, out_len, err);
}

/* valid_utf8 says whether |n| bytes are well-formed UTF-8 (no overlongs, no
 * surrogates). */
static int valid_utf8(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      k = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i <= k) {
      return 0;
    }
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xC0) != 0x80) {
        return 0;
      }
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return 0;
    }
    i += k + 1;
  }
  return 1;
}

/* has_8bit says whether any of |n| bytes is over 127. */
static int has_8bit(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] > 127) {
      return 1;
    }
  }
  return 0;
}

MIME_SPLIT *mime_split_new(const uint8_t *msg, size_t len, const MIME_LIMITS *lim,
                           STATUS *err) {
  BUF outer = {NULL, 0, 0, 0};
  BUF content = {NULL, 0, 0, 0};
  MIME_SPLIT *s = NULL;
  MIME_TREE *t = mime_parse(msg, len, lim, err);
  if (t == NULL) {
    return NULL;
  }
  const MIME_ENTITY *root = mime_tree_root(t);
  int has_type = mime_entity_header(root, "content-type") != NULL;
  if (!has_type) {
    int utf8 = has_8bit(root->body.ptr, root->body.len) &&
               valid_utf8(root->body.ptr, root->body.len);
    buf_str(&content, utf8 ? "Content-Type: text/plain; charset=utf-8\r\n"
                           : "Content-Type: text/plain; charset=us-ascii\r\n");
  }
  for (size_t i = 0; i < root->num_headers; i++) {
    const MIME_HEADER *h = &root->headers[i];
    BUF *dst;
    if (is_content_field(h->name)) {
      dst = &content;
    } else if (strcasecmp(h->name, "mime-version") == 0) {
      continue;
    } else {
      dst = &outer;
    }
    buf_header(dst, h->raw.ptr, h->raw.len);
    if (h->raw.len == 0 || h->raw.ptr[h->raw.len - 1] != '\n') {
      buf_str(dst, "\r\n");
    }
  }
  buf_str(&content, "\r\n");
  buf_add(&content, root->body.ptr, root->body.len);
  mime_tree_free(t);
  s = calloc(1, sizeof(MIME_SPLIT));
  if (s == NULL) {
    free(outer.data);
    free(content.data);
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory building MIME");
    return NULL;
  }
  /* buf_finish frees its buffer when it fails. */
  if (!buf_finish(&outer, &s->outer, &s->outer_len, err)) {
    free(content.data);
    mime_split_free(s);
    return NULL;
  }
  if (!buf_finish(&content, &s->content, &s->content_len, err)) {
    mime_split_free(s);
    return NULL;
  }
  return s;
}

void mime_split_free(MIME_SPLIT *s) {
  if (s == NULL) {
    return;
  }
  free(s->outer);
  free(s->content);
  free(s);
}

/* is_bchar says whether |c| may be in a boundary (RFC 2046 bchars; space excluded,
 * to keep it simple to quote and compare). */
static int is_bchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         strchr("'()+_,-./:=?", c) != NULL;
}

/* random_boundary writes a fresh boundary into |out| (at least 48 bytes). */
static int random_boundary(char *out, size_t size, STATUS *err) {
  uint8_t r[16];
  size_t got = 0;
  while (got < sizeof(r)) {
    ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
    if (n <= 0) {
      break;
    }
    got += (size_t)n;
  }
  if (got < sizeof(r)) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    got = 0;
    while (fd >= 0 && got < sizeof(r)) {
      ssize_t n = read(fd, r + got, sizeof(r) - got);
      if (n <= 0) {
        break;
      }
      got += (size_t)n;
    }
    if (fd >= 0) {
      close(fd);
    }
    if (got < sizeof(r)) {
      return status_set(err, STATUS_INTERNAL, "no randomness for a MIME boundary");
    }
  }
  static const char hex[] = "0123456789abcdef";
  int w = snprintf(out, size, "----=_smimed_");
  for (size_t i = 0; i < sizeof(r) && (size_t)w + 2 < size; i++) {
    out[w++] = hex[r[i] >> 4];
    out[w++] = hex[r[i] & 15];
  }
  out[w] = '\0';
  return 1;
}

int mime_build_signed(const uint8_t *content, size_t content_len, const uint8_t *sig,
                      size_t sig_len, const char *micalg, const char *boundary,
                      uint8_t **out, size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  char bnd[80];
  if (!mime_crlf_canonical(content, content_len)) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "multipart/signed content must have CRLF line ends "
                      "(sign what mime_build_signable returns)");
  }
  size_t mlen = micalg == NULL ? 0 : strlen(micalg);
  if (mlen == 0 || mlen > 32) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "invalid micalg");
  }
  for (size_t i = 0; i < mlen; i++) {
    char c = micalg[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "invalid micalg '%s' (lowercase, like sha-256)", micalg);
    }
  }
  if (sig_len == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "empty signature");
  }
  if (boundary != NULL) {
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > 70) {
      return status_set(err, STATUS_INVALID_ARGUMENT, "boundary must have 1-70 characters");
    }
    for (size_t i = 0; i < blen; i++) {
      if (!is_bchar(boundary[i])) {
        return status_set(err, STATUS_INVALID_ARGUMENT,
                          "boundary has a character RFC 2046 does not allow");
      }
    }
    if (memmem(content, content_len, boundary, blen) != NULL) {
      return status_set(err, STATUS_INVALID_ARGUMENT, "boundary occurs in the content");
    }
    snprintf(bnd, sizeof(bnd), "%s", boundary);
  } else {
    for (int tries = 0;; tries++) {
      if (tries == 8) {
        return status_set(err, STATUS_INTERNAL, "could not pick a MIME boundary");
      }
      if (!random_boundary(bnd, sizeof(bnd), err)) {
        return 0;
      }
      if (memmem(content, content_len, bnd, strlen(bnd)) == NULL) {
        break;
      }
    }
  }
  uint8_t *b64 = NULL;
  size_t b64_len = 0;
  if (!mime_base64_encode(sig, sig_len, 76, &b64, &b64_len, err)) {
    return 0;
  }
  BUF b = {NULL, 0, 0, 0};
  buf_str(&b, "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg=");
  buf_str(&b, micalg);
  buf_str(&b, "; boundary=\"");
  buf_str(&b, bnd);
  buf_str(&b, "\"\r\n\r\nThis is a cryptographically signed message in MIME format.\r\n\r\n--");
  buf_str(&b, bnd);
  buf_str(&b, "\r\n");
  buf_add(&b, content, content_len);
  buf_str(&b, "\r\n--");
  buf_str(&b, bnd);
  buf_str(&b,
          "\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
          "Content-Transfer-Encoding: base64\r\n"
          "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n"
          "Content-Description: S/MIME Cryptographic Signature\r\n\r\n");
  buf_add(&b, b64, b64_len);
  buf_str(&b, "--");
  buf_str(&b, bnd);
  buf_str(&b, "--\r\n");
  free(b64);
  return buf_finish(&b, out, out_len, err);
}

/* add_pkcs7 appends to |b| the application/pkcs7-mime entity of mime_build_pkcs7,
 * its base64 written in place. */
static int add_pkcs7(BUF *b, const uint8_t *der, size_t der_len, MIME_CMS_TYPE type,
                     STATUS *err) {
  const char *desc;
  const char *name = "smime.p7m";
  switch (type) {
    case MIME_CMS_SIGNED_DATA:
      desc = "S/MIME Signed Message";
      break;
    case MIME_CMS_ENVELOPED_DATA:
    case MIME_CMS_AUTH_ENVELOPED_DATA:
      desc = "S/MIME Encrypted Message";
      break;
    case MIME_CMS_COMPRESSED_DATA:
      desc = "S/MIME Compressed Message";
      break;
    case MIME_CMS_CERTS_ONLY:
      desc = "S/MIME Certificates";
      name = "smime.p7c";
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "no application/pkcs7-mime smime-type for CMS type %s",
                        mime_cms_type_name(type));
  }
  if (der_len == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "empty CMS object");
  }
  size_t b64_len = mime_base64_encoded_len(der_len, 76);
  if (b64_len == 0) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", der_len);
  }
  buf_str(b, "Content-Type: application/pkcs7-mime; smime-type=");
  buf_str(b, mime_cms_type_name(type));
  buf_str(b, ";\r\n name=\"");
  buf_str(b, name);
  buf_str(b, "\"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"");
  buf_str(b, name);
  buf_str(b, "\"\r\nContent-Description: ");
  buf_str(b, desc);
  buf_str(b, "\r\n\r\n");
  if (buf_room(b, b64_len, 1)) {
    b->len += mime_base64_encode_to(der, der_len, 76, b->data + b->len);
  }
  return 1;
}

int mime_build_pkcs7(const uint8_t *der, size_t der_len, MIME_CMS_TYPE type,
                     uint8_t **out, size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  BUF b = {NULL, 0, 0, 0};
  if (!add_pkcs7(&b, der, der_len, type, err)) {
    free(b.data);
    return 0;
  }
  return buf_finish(&b, out, out_len, err);
}

/* check_outer refuses outer header bytes that would change the message structure. */
static int check_outer(const uint8_t *outer, size_t len, STATUS *err) {
  size_t pos = 0;
  while (pos < len) {
    const uint8_t *lf = memchr(outer + pos, '\n', len - pos);
    size_t end = lf == NULL ? len : (size_t)(lf - outer);
    size_t ce = end > pos && outer[end - 1] == '\r' ? end - 1 : end;
    if (ce == pos && lf != NULL) {
      return status_set(err, STATUS_INVALID_ARGUMENT, "outer header has an empty line");
    }
    if (outer[pos] != ' ' && outer[pos] != '\t') {
      if ((ce - pos >= 8 && strncasecmp((const char *)outer + pos, "content-", 8) == 0) ||
          (ce - pos >= 13 && strncasecmp((const char *)outer + pos, "mime-version:", 13) == 0)) {
        return status_set(err, STATUS_INVALID_ARGUMENT,
                          "outer header has a Content-* or MIME-Version field");
      }
    }
    pos = lf == NULL ? len : end + 1;
  }
  return 1;
}

/* start_message checks |outer| and appends it to |b| (line ends made CRLF) with
 * "MIME-Version: 1.0": what every outgoing message starts with. */
static int start_message(BUF *b, const uint8_t *outer, size_t outer_len, STATUS *err) {
  if (!check_outer(outer, outer_len, err)) {
    return 0;
  }
  buf_crlf(b, outer, outer_len);
  if (outer_len > 0 && outer[outer_len - 1] != '\n') {
    buf_str(b, "\r\n");
  }
  buf_str(b, "MIME-Version: 1.0\r\n");
  return 1;
}

int mime_build_message(const uint8_t *outer, size_t outer_len, const uint8_t *entity,
                       size_t entity_len, uint8_t **out, size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  BUF b = {NULL, 0, 0, 0};
  if (!start_message(&b, outer, outer_len, err)) {
    return 0;
  }
  buf_add(&b, entity, entity_len);
  return buf_finish(&b, out, out_len, err);
}

int mime_build_pkcs7_message(const uint8_t *outer, size_t outer_len, const uint8_t *der,
                             size_t der_len, MIME_CMS_TYPE type, uint8_t **out,
                             size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  BUF b = {NULL, 0, 0, 0};
  if (!start_message(&b, outer, outer_len, err) || !add_pkcs7(&b, der, der_len, type, err)) {
    free(b.data);
    return 0;
  }
  return buf_finish(&b, out, out_len, err);
}

int mime_build_replace_content(const uint8_t *msg, size_t msg_len,
                               const uint8_t *entity, size_t entity_len,
                               const MIME_LIMITS *lim, uint8_t **out, size_t *out_len,
                               STATUS *err) {
  *out = NULL;
  *out_len = 0;
  MIME_SPLIT *s = mime_split_new(msg, msg_len, lim, err);
  if (s == NULL) {
    return 0;
  }
  MIME_TREE *t = mime_parse(entity, entity_len, lim, err);
  if (t == NULL) {
    mime_split_free(s);
    return 0;
  }
  const MIME_ENTITY *e = mime_tree_root(t);
  BUF b = {NULL, 0, 0, 0};
  buf_add(&b, s->outer, s->outer_len);
  buf_str(&b, "MIME-Version: 1.0\r\n");
  emit_headers(&b, e, NULL, 1);
  buf_add(&b, e->body.ptr, e->body.len);
  mime_tree_free(t);
  mime_split_free(s);
  return buf_finish(&b, out, out_len, err);
}
