/* mime_codec.c: see mime_codec.h. */
#include "service/mime/mime_codec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* codec_alloc mallocs |len| + 1 bytes (room for the NUL every result carries),
 * reporting out-of-memory and absurd sizes through |err|. */
static uint8_t *codec_alloc(size_t len, STATUS *err) {
  if (len >= SIZE_MAX / 4) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", len);
    return NULL;
  }
  uint8_t *p = malloc(len + 1);
  if (p == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory (%zu bytes)", len + 1);
  }
  return p;
}

/* B64_SPACE and B64_PAD mark the non-alphabet bytes the decoder accepts in kB64; any
 * other negative entry is invalid. */
#define B64_INVALID (-1)
#define B64_SPACE (-2)
#define B64_PAD (-3)

/* kB64 maps every byte to its 6-bit value or a mark: one table lookup per byte, which
 * made decoding several times faster than a chain of range tests (a signed and
 * encrypted message is decoded once per layer, on every DecryptVerify). Space is the
 * layout base64 bodies carry: line ends, blanks, and the form feed and vertical tab
 * that some gateways insert. X: invalid, S: space, P: "=". */
#define X B64_INVALID
#define S B64_SPACE
#define P B64_PAD
static const int8_t kB64[256] = {
    /* 0x00 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  S,  S,  S,  S,  S,  X,  X,
    /* 0x10 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0x20 */  S,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X, 62,  X,  X,  X, 63,
    /* 0x30 */ 52, 53, 54, 55, 56, 57, 58, 59, 60, 61,  X,  X,  X,  P,  X,  X,
    /* 0x40 */  X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    /* 0x50 */ 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,  X,  X,  X,  X,  X,
    /* 0x60 */  X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    /* 0x70 */ 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,  X,  X,  X,  X,  X,
    /* 0x80 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0x90 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xa0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xb0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xc0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xd0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xe0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    /* 0xf0 */  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X
#undef S
#undef P

int mime_base64_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                       STATUS *err) {
  *out = NULL;
  *out_len = 0;
  uint8_t *buf = codec_alloc(len / 4 * 3 + 3, err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = 0;
  uint32_t acc = 0;
  int q = 0;     /* characters in the current quantum */
  int pad = 0;   /* "=" seen in the current quantum */
  for (size_t i = 0; i < len; i++) {
    uint8_t c = in[i];
    int v = kB64[c];
    if (v == B64_SPACE) {
      continue;
    }
    if (v == B64_PAD) {
      if (pad == 0 && q < 2) {
        status_set(err, STATUS_INVALID_ARGUMENT,
                   "invalid base64: misplaced '=' at offset %zu", i);
        goto err;
      }
      if (pad == 0) {
        /* The quantum is complete as far as data goes: flush its bytes. */
        if (q == 2) {
          buf[n++] = (uint8_t)(acc >> 4);
        } else if (q == 3) {
          buf[n++] = (uint8_t)(acc >> 10);
          buf[n++] = (uint8_t)(acc >> 2);
        }
      }
      pad++;
      if (q + pad == 4) {
        q = 0;
        pad = 0;
        acc = 0;
      }
      continue;
    }
    if (v < 0) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "invalid base64: byte 0x%02x at offset %zu", c, i);
      goto err;
    }
    if (pad != 0) {
      /* "AB=" then data: the sender left out one "=", and a new block begins. */
      q = 0;
      pad = 0;
      acc = 0;
    }
    acc = (acc << 6) | (uint32_t)v;
    q++;
    if (q == 4) {
      buf[n++] = (uint8_t)(acc >> 16);
      buf[n++] = (uint8_t)(acc >> 8);
      buf[n++] = (uint8_t)acc;
      q = 0;
      acc = 0;
    }
  }
  if (pad == 0) {
    if (q == 1) {
      status_set(err, STATUS_INVALID_ARGUMENT,
                 "invalid base64: truncated (one character left over at the end)");
      goto err;
    }
    if (q == 2) {
      buf[n++] = (uint8_t)(acc >> 4);
    } else if (q == 3) {
      buf[n++] = (uint8_t)(acc >> 10);
      buf[n++] = (uint8_t)(acc >> 2);
    }
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;

err:
  free(buf);
  return 0;
}

static const char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* g_base64_pairs[v] is the encoding of the 12 bits |v|: two characters per lookup. */
static uint8_t g_base64_pairs[4096][2];
static pthread_once_t g_base64_pairs_once = PTHREAD_ONCE_INIT;

static void fill_base64_pairs(void) {
  for (unsigned v = 0; v < 4096; v++) {
    g_base64_pairs[v][0] = (uint8_t)kBase64Alphabet[v >> 6];
    g_base64_pairs[v][1] = (uint8_t)kBase64Alphabet[v & 63];
  }
}

size_t mime_base64_encoded_len(size_t len, size_t line_len) {
  line_len -= line_len % 4;
  if (len >= SIZE_MAX / 4) {
    return 0;
  }
  size_t chars = (len + 2) / 3 * 4;
  size_t lines = line_len == 0 ? 0 : (chars + line_len - 1) / line_len;
  return chars + 2 * lines;
}

size_t mime_base64_encode_to(const uint8_t *in, size_t len, size_t line_len, uint8_t *buf) {
  const char *alphabet = kBase64Alphabet;
  line_len -= line_len % 4;
  size_t n = 0;
  size_t col = 0;
  size_t whole = len - len % 3;
  /* Whole groups of three bytes, two characters per lookup and no test per character;
   * the line break every |line_len| characters is counted in groups. */
  pthread_once(&g_base64_pairs_once, fill_base64_pairs);
  for (size_t i = 0; i < whole; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    memcpy(buf + n, g_base64_pairs[v >> 12], 2);
    memcpy(buf + n + 2, g_base64_pairs[v & 4095], 2);
    n += 4;
    col += 4;
    if (col == line_len) {
      buf[n++] = '\r';
      buf[n++] = '\n';
      col = 0;
    }
  }
  if (whole < len) {
    uint32_t v = (uint32_t)in[whole] << 16;
    if (len - whole > 1) {
      v |= (uint32_t)in[whole + 1] << 8;
    }
    buf[n++] = (uint8_t)alphabet[v >> 18];
    buf[n++] = (uint8_t)alphabet[(v >> 12) & 63];
    buf[n++] = len - whole > 1 ? (uint8_t)alphabet[(v >> 6) & 63] : '=';
    buf[n++] = '=';
    col += 4;
  }
  /* The last line ends with CRLF too, unless it was just ended. */
  if (line_len != 0 && col != 0) {
    buf[n++] = '\r';
    buf[n++] = '\n';
  }
  return n;
}

int mime_base64_encode(const uint8_t *in, size_t len, size_t line_len, uint8_t **out,
                       size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  if (len >= SIZE_MAX / 4) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", len);
  }
  uint8_t *buf = codec_alloc(mime_base64_encoded_len(len, line_len), err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = mime_base64_encode_to(in, len, line_len, buf);
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;
}

/* hex_value maps a hex digit of either case to its value; -1 for anything else. */
static int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

int mime_qp_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                   STATUS *err) {
  *out = NULL;
  *out_len = 0;
  uint8_t *buf = codec_alloc(len, err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = 0;
  size_t pos = 0;
  while (pos < len) {
    /* One line: [pos, end) is its content, [end, next) its line end. */
    const uint8_t *lf = memchr(in + pos, '\n', len - pos);
    size_t next = lf == NULL ? len : (size_t)(lf - in) + 1;
    size_t end = lf == NULL ? len : (size_t)(lf - in);
    if (end > pos && lf != NULL && in[end - 1] == '\r') {
      end--;
    }
    size_t content_end = end;
    while (content_end > pos &&
           (in[content_end - 1] == ' ' || in[content_end - 1] == '\t')) {
      content_end--;
    }
    int soft = content_end > pos && in[content_end - 1] == '=';
    if (soft) {
      /* A "=" that ends the line is a soft break, unless it ends an "=XX" escape,
       * which cannot be: an escape ends in a hex digit. */
      content_end--;
    }
    for (size_t i = pos; i < content_end; i++) {
      if (in[i] == '=' && i + 2 < content_end && hex_value(in[i + 1]) >= 0 &&
          hex_value(in[i + 2]) >= 0) {
        buf[n++] = (uint8_t)(hex_value(in[i + 1]) << 4 | hex_value(in[i + 2]));
        i += 2;
        continue;
      }
      buf[n++] = in[i];
    }
    if (!soft) {
      for (size_t i = end; i < next; i++) {
        buf[n++] = in[i];
      }
    }
    pos = next;
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;
}

/* qp_literal says whether |c| may appear as itself in quoted-printable output (the
 * caller handles whitespace at the end of a line and at line starts). */
static int qp_literal(uint8_t c) {
  return (c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t';
}

int mime_qp_encode(const uint8_t *in, size_t len, int text, uint8_t **out,
                   size_t *out_len, STATUS *err) {
  static const char hex[] = "0123456789ABCDEF";
  *out = NULL;
  *out_len = 0;
  /* Worst case: every byte as "=XX", plus a soft break ("=" CRLF) every 25 bytes, plus
   * CRLF for every LF. */
  if (len >= SIZE_MAX / 8) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", len);
  }
  uint8_t *buf = codec_alloc(len * 3 + (len / 25 + 1) * 3 + len * 2 + 8, err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = 0;
  size_t col = 0;     /* characters on the current output line */
  int soft_start = 0; /* the current output line began with a soft break */
  size_t i = 0;
  while (i < len) {
    uint8_t c = in[i];
    if (text && (c == '\n' || (c == '\r' && i + 1 < len && in[i + 1] == '\n'))) {
      buf[n++] = '\r';
      buf[n++] = '\n';
      i += c == '\r' ? 2 : 1;
      col = 0;
      soft_start = 0;
      continue;
    }
    /* Is |c| the last byte of its line (before a hard break or the end)? */
    int last = i + 1 == len ||
               (text && (in[i + 1] == '\n' ||
                         (in[i + 1] == '\r' && i + 2 < len && in[i + 2] == '\n')));
    int encode;
    for (int pass = 0;; pass++) {
      encode = !qp_literal(c);
      if ((c == ' ' || c == '\t') && last) {
        encode = 1;
      }
      if (col == 0) {
        if (c == '.') {
          encode = 1;
        } else if (c == 'F' && len - i >= 5 && memcmp(in + i, "From ", 5) == 0) {
          encode = 1;
        } else if (c == '-' && soft_start) {
          encode = 1;
        }
      }
      size_t width = encode ? 3 : 1;
      /* A line holds 76 characters; one that continues needs room for its "=". */
      size_t room = last ? 76 : 75;
      if (col + width <= room || pass > 0) {
        break;
      }
      buf[n++] = '=';
      buf[n++] = '\r';
      buf[n++] = '\n';
      col = 0;
      soft_start = 1;
    }
    if (encode) {
      buf[n++] = '=';
      buf[n++] = (uint8_t)hex[c >> 4];
      buf[n++] = (uint8_t)hex[c & 15];
      col += 3;
    } else {
      buf[n++] = c;
      col++;
    }
    i++;
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;
}

int mime_crlf_canonical(const uint8_t *in, size_t len) {
  const uint8_t *p = in;
  const uint8_t *end = in + len;
  while (p < end) {
    const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf == NULL) {
      return 1;
    }
    if (lf == in || lf[-1] != '\r') {
      return 0;
    }
    p = lf + 1;
  }
  return 1;
}

int mime_crlf(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
              STATUS *err) {
  *out = NULL;
  *out_len = 0;
  size_t bare = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
      bare++;
    }
  }
  if (len >= SIZE_MAX / 4) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", len);
  }
  uint8_t *buf = codec_alloc(len + bare, err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
      buf[n++] = '\r';
    }
    buf[n++] = in[i];
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;
}

/* CHARSET_* are the conversions mime_charset_to_utf8 knows. */
enum {
  CHARSET_UNKNOWN = 0,
  CHARSET_UTF8,
  CHARSET_LATIN1,
  CHARSET_LATIN9,
  CHARSET_CP1252,
};

/* charset_lookup maps a charset name (case-insensitive, with its common aliases) to a
 * CHARSET_* value. */
static int charset_lookup(const char *name) {
  static const struct {
    const char *name;
    int id;
  } names[] = {
      {"utf-8", CHARSET_UTF8},          {"utf8", CHARSET_UTF8},
      {"us-ascii", CHARSET_UTF8},       {"ascii", CHARSET_UTF8},
      {"ansi_x3.4-1968", CHARSET_UTF8}, {"iso-8859-1", CHARSET_LATIN1},
      {"iso8859-1", CHARSET_LATIN1},    {"iso_8859-1", CHARSET_LATIN1},
      {"latin1", CHARSET_LATIN1},       {"latin-1", CHARSET_LATIN1},
      {"l1", CHARSET_LATIN1},           {"iso-8859-15", CHARSET_LATIN9},
      {"iso8859-15", CHARSET_LATIN9},   {"iso_8859-15", CHARSET_LATIN9},
      {"latin-9", CHARSET_LATIN9},      {"latin9", CHARSET_LATIN9},
      {"windows-1252", CHARSET_CP1252}, {"cp1252", CHARSET_CP1252},
      {"x-cp1252", CHARSET_CP1252},
  };
  if (name == NULL) {
    return CHARSET_UNKNOWN;
  }
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcasecmp(name, names[i].name) == 0) {
      return names[i].id;
    }
  }
  return CHARSET_UNKNOWN;
}

int mime_charset_known(const char *charset) {
  return charset_lookup(charset) != CHARSET_UNKNOWN;
}

/* charset_code_point maps byte |c| of a single-byte charset to its Unicode code
 * point. */
static uint32_t charset_code_point(int id, uint8_t c) {
  /* cp1252_high is Windows-1252 0x80-0x9F; undefined bytes map to themselves, as
   * browsers do. */
  static const uint16_t cp1252_high[32] = {
      0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
      0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
      0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
      0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
  };
  if (id == CHARSET_CP1252 && c >= 0x80 && c <= 0x9F) {
    return cp1252_high[c - 0x80];
  }
  if (id == CHARSET_LATIN9) {
    switch (c) {
      case 0xA4:
        return 0x20AC;
      case 0xA6:
        return 0x0160;
      case 0xA8:
        return 0x0161;
      case 0xB4:
        return 0x017D;
      case 0xB8:
        return 0x017E;
      case 0xBC:
        return 0x0152;
      case 0xBD:
        return 0x0153;
      case 0xBE:
        return 0x0178;
      default:
        break;
    }
  }
  return c;
}

int mime_charset_to_utf8(const char *charset, const uint8_t *in, size_t len,
                         uint8_t **out, size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  int id = charset_lookup(charset);
  if (id == CHARSET_UNKNOWN) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "unsupported charset '%s'",
                      charset == NULL ? "" : charset);
  }
  if (len >= SIZE_MAX / 4) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "data too large (%zu bytes)", len);
  }
  uint8_t *buf = codec_alloc(id == CHARSET_UTF8 ? len : len * 3, err);
  if (buf == NULL) {
    return 0;
  }
  size_t n = 0;
  if (id == CHARSET_UTF8) {
    if (len > 0) {
      memcpy(buf, in, len);
    }
    n = len;
  } else {
    for (size_t i = 0; i < len; i++) {
      uint32_t cp = charset_code_point(id, in[i]);
      if (cp < 0x80) {
        buf[n++] = (uint8_t)cp;
      } else if (cp < 0x800) {
        buf[n++] = (uint8_t)(0xC0 | (cp >> 6));
        buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
      } else {
        buf[n++] = (uint8_t)(0xE0 | (cp >> 12));
        buf[n++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        buf[n++] = (uint8_t)(0x80 | (cp & 0x3F));
      }
    }
  }
  buf[n] = '\0';
  *out = buf;
  *out_len = n;
  return 1;
}

/* plain_word says whether none of the 8 bytes at |p| is NUL, CR or above 127: the
 * bytes mime_7bit_safe needs to look at one by one (word-at-a-time tests, "Bit Twiddling
 * Hacks": a byte b is zero iff (b - 1) & ~b has its high bit set). */
static int plain_word(const uint8_t *p) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t w;
  memcpy(&w, p, sizeof(w));
  uint64_t cr = w ^ (ones * '\r');
  return ((w | ((w - ones) & ~w) | ((cr - ones) & ~cr)) & highs) == 0;
}

int mime_7bit_safe(const uint8_t *p, size_t n, size_t max_line, int strict) {
  size_t line_start = 0;
  while (line_start <= n) {
    const uint8_t *lf = line_start < n ? memchr(p + line_start, '\n', n - line_start) : NULL;
    size_t eol = lf != NULL ? (size_t)(lf - p) : n;
    size_t i = line_start;
    while (i + 8 <= eol && plain_word(p + i)) {
      i += 8;
    }
    for (; i < eol; i++) {
      uint8_t c = p[i];
      if (c == 0 || c > 127 || (c == '\r' && i + 1 != eol)) {
        return 0;
      }
    }
    size_t end = eol;
    if (end > line_start && p[end - 1] == '\r') {
      if (lf == NULL) {
        return 0; /* a CR ending the data ends no line */
      }
      end--;
    }
    if (end - line_start > max_line) {
      return 0;
    }
    if (strict && end > line_start && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
      return 0;
    }
    if (strict && end - line_start >= 5 && memcmp(p + line_start, "From ", 5) == 0) {
      return 0;
    }
    line_start = eol + 1;
  }
  return 1;
}
