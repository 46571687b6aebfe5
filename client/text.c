/* text.c: see text.h. */
#include "client/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(STRBUF *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->failed = 0;
}

void strbuf_cleanup(STRBUF *b) {
  free(b->data);
  strbuf_init(b);
}

/* strbuf_reserve makes room for |n| more bytes plus the NUL. */
static int strbuf_reserve(STRBUF *b, size_t n) {
  if (b->failed) {
    return 0;
  }
  if (n > SIZE_MAX / 2 - b->len) {
    b->failed = 1;
    return 0;
  }
  size_t need = b->len + n + 1;
  if (need <= b->cap) {
    return 1;
  }
  size_t cap = b->cap == 0 ? 256 : b->cap;
  while (cap < need) {
    cap *= 2;
  }
  char *data = realloc(b->data, cap);
  if (data == NULL) {
    b->failed = 1;
    return 0;
  }
  b->data = data;
  b->cap = cap;
  return 1;
}

int strbuf_append(STRBUF *b, const void *p, size_t n) {
  if (!strbuf_reserve(b, n)) {
    return 0;
  }
  if (n > 0) {
    memcpy(b->data + b->len, p, n);
  }
  b->len += n;
  b->data[b->len] = '\0';
  return 1;
}

int strbuf_puts(STRBUF *b, const char *s) {
  return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(STRBUF *b, char c) {
  return strbuf_append(b, &c, 1);
}

int strbuf_repeat(STRBUF *b, char c, size_t n) {
  if (!strbuf_reserve(b, n)) {
    return 0;
  }
  memset(b->data + b->len, c, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 1;
}

int strbuf_printf(STRBUF *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return 0;
  }
  if (!strbuf_reserve(b, (size_t)n)) {
    return 0;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 1;
}

char *strbuf_finish(STRBUF *b) {
  if (!strbuf_reserve(b, 0)) {
    strbuf_cleanup(b);
    return NULL;
  }
  b->data[b->len] = '\0';
  char *ret = b->data;
  strbuf_init(b);
  return ret;
}

size_t utf8_char_len(const uint8_t *p, size_t n) {
  if (n == 0) {
    return 0;
  }
  uint8_t c = p[0];
  if (c < 0x80) {
    return 1;
  }
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) {
      lo = 0xa0;  // overlong below U+0800
    } else if (c == 0xed) {
      hi = 0x9f;  // surrogates U+D800..U+DFFF
    }
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) {
      lo = 0x90;  // overlong below U+10000
    } else if (c == 0xf4) {
      hi = 0x8f;  // above U+10FFFF
    }
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) {
    return 0;
  }
  for (size_t i = 2; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) {
      return 0;
    }
  }
  return len;
}

int utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t l = utf8_char_len(p + i, n - i);
    if (l == 0) {
      return 0;
    }
    i += l;
  }
  return 1;
}

/* text_columns counts the columns |n| bytes of UTF-8 take: one per code point. */
static size_t text_columns(const char *s, size_t n) {
  size_t cols = 0;
  for (size_t i = 0; i < n; i++) {
    if (((uint8_t)s[i] & 0xc0) != 0x80) {
      cols++;
    }
  }
  return cols;
}

int text_wrap(STRBUF *b, const char *text, size_t col, size_t indent, size_t width) {
  if (col < indent || col == 0) {
    strbuf_repeat(b, ' ', indent - col);
  } else {
    strbuf_putc(b, '\n');
    strbuf_repeat(b, ' ', indent);
  }
  col = indent;
  int line_empty = 1;  // nothing written yet on the current line
  const char *p = text;
  while (*p != '\0') {
    // A blank line (two line breaks with only blanks between) ends a paragraph.
    if (*p == '\n') {
      const char *q = p + 1;
      while (*q == ' ' || *q == '\t') {
        q++;
      }
      if (*q == '\n' && !line_empty && q[strspn(q, " \t\r\n")] != '\0') {
        strbuf_puts(b, "\n\n");
        strbuf_repeat(b, ' ', indent);
        col = indent;
        line_empty = 1;
        p = q + 1;
        continue;
      }
    }
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      p++;
      continue;
    }
    size_t n = strcspn(p, " \t\r\n");
    size_t cols = text_columns(p, n);
    if (!line_empty && col + 1 + cols > width) {
      strbuf_putc(b, '\n');
      strbuf_repeat(b, ' ', indent);
      col = indent;
      line_empty = 1;
    }
    if (!line_empty) {
      strbuf_putc(b, ' ');
      col++;
    }
    strbuf_append(b, p, n);
    col += cols;
    line_empty = 0;
    p += n;
  }
  return strbuf_putc(b, '\n');
}
