/* text.h: a growable string buffer, UTF-8 checks and word wrapping, shared by
 * smimectl's modules (JSON output, flag parsing, help text). */
#ifndef SMIMED_CLIENT_TEXT_H
#define SMIMED_CLIENT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* STRBUF is a NUL-terminated string that grows as it is appended to. A failed
 * allocation makes it sticky-failed: later appends do nothing and strbuf_finish returns
 * NULL, so that a long sequence of appends needs one check at the end. Use it on the
 * stack: strbuf_init, appends, then strbuf_finish or strbuf_cleanup. */
typedef struct strbuf_st {
  char *data;
  size_t len;
  size_t cap;
  int failed;
} STRBUF;

/* strbuf_init makes |b| an empty buffer. It does not allocate. */
void strbuf_init(STRBUF *b);

/* strbuf_cleanup frees what |b| holds and makes it empty again. */
void strbuf_cleanup(STRBUF *b);

/* strbuf_append appends |n| bytes from |p|. Returns 1, or 0 if |b| has failed. */
int strbuf_append(STRBUF *b, const void *p, size_t n);

/* strbuf_puts appends the string |s|. */
int strbuf_puts(STRBUF *b, const char *s);

/* strbuf_putc appends one byte. */
int strbuf_putc(STRBUF *b, char c);

/* strbuf_repeat appends |n| copies of |c| (indentation). */
int strbuf_repeat(STRBUF *b, char c, size_t n);

/* strbuf_printf appends printf-style formatted text. */
int strbuf_printf(STRBUF *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strbuf_finish returns the text (caller frees; "" if nothing was appended) and leaves
 * |b| empty, or NULL (and cleans up) if any append failed. */
char *strbuf_finish(STRBUF *b);

/* utf8_char_len returns the length (1 to 4) of the well-formed UTF-8 sequence at the
 * start of |p| (|n| bytes available), or 0 if it is not one: overlong forms, surrogates
 * and code points above U+10FFFF are rejected, as RFC 3629 requires. */
size_t utf8_char_len(const uint8_t *p, size_t n);

/* utf8_valid returns 1 if all |n| bytes of |p| are well-formed UTF-8. */
int utf8_valid(const uint8_t *p, size_t n);

/* text_wrap appends |text| reflowed to lines of at most |width| columns. The current
 * line of |b| is at column |col| (the caller may have written a flag name there): it is
 * padded with spaces up to |indent|, or, if it already reaches |indent|, the text starts
 * on the next line. Later lines start with |indent| spaces. A word longer than a line
 * gets a line of its own. Blank lines in |text| are kept as paragraph breaks; other
 * line breaks become spaces, so that proto comments written for 80 columns read well at
 * any indent. Ends with a newline. Returns 1, or 0 if |b| has failed. */
int text_wrap(STRBUF *b, const char *text, size_t col, size_t indent, size_t width);

#endif /* SMIMED_CLIENT_TEXT_H */
