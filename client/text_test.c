/* text_test.c: STRBUF, UTF-8 checks and wrapping. */
#include "client/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ctest/check.h"

static int wrapped_is(const char *text, size_t col, size_t indent, size_t width,
                      const char *want) {
  STRBUF b;
  strbuf_init(&b);
  strbuf_repeat(&b, 'x', col);
  CHECK(text_wrap(&b, text, col, indent, width));
  char *got = strbuf_finish(&b);
  int ok = strcmp(got, want) == 0;
  if (!ok) {
    fprintf(stderr, "got:\n%s|\nwant:\n%s|\n", got, want);
  }
  free(got);
  return ok;
}

int main(void) {
  STRBUF b;
  strbuf_init(&b);
  char *s = strbuf_finish(&b);
  CHECK(s != NULL && strcmp(s, "") == 0);
  free(s);
  strbuf_init(&b);
  CHECK(strbuf_puts(&b, "ab"));
  CHECK(strbuf_putc(&b, 'c'));
  CHECK(strbuf_printf(&b, "%d-%s", 42, "x"));
  CHECK(strbuf_repeat(&b, ' ', 2));
  CHECK(strbuf_append(&b, "\0z", 2));
  CHECK(b.len == 11);
  for (int i = 0; i < 1000; i++) {
    CHECK(strbuf_puts(&b, "0123456789"));
  }
  CHECK(b.len == 10011);
  s = strbuf_finish(&b);
  CHECK(memcmp(s, "abc42-x  \0z0123", 15) == 0);
  CHECK(b.data == NULL && b.len == 0);
  free(s);
  strbuf_init(&b);
  strbuf_puts(&b, "x");
  strbuf_cleanup(&b);
  CHECK(b.data == NULL);
  strbuf_cleanup(&b);

  CHECK(utf8_char_len((const uint8_t *)"a", 1) == 1);
  CHECK(utf8_char_len((const uint8_t *)"\xc3\xa4", 2) == 2);
  CHECK(utf8_char_len((const uint8_t *)"\xc3", 1) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xc1\xbf", 2) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xe0\x9f\xbf", 3) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xe0\xa0\x80", 3) == 3);
  CHECK(utf8_char_len((const uint8_t *)"\xed\x9f\xbf", 3) == 3);
  CHECK(utf8_char_len((const uint8_t *)"\xed\xa0\x80", 3) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xf0\x8f\xbf\xbf", 4) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xf4\x8f\xbf\xbf", 4) == 4);
  CHECK(utf8_char_len((const uint8_t *)"\xf4\x90\x80\x80", 4) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xf5\x80\x80\x80", 4) == 0);
  CHECK(utf8_char_len((const uint8_t *)"\xe2\x82\x41", 3) == 0);
  CHECK(utf8_char_len((const uint8_t *)"", 0) == 0);
  CHECK(utf8_valid((const uint8_t *)"h\xc3\xa4llo \xf0\x9f\x98\x80", 11));
  CHECK(!utf8_valid((const uint8_t *)"h\xc3llo", 5));

  CHECK(wrapped_is("one two three four", 0, 0, 10, "one two\nthree four\n"));
  CHECK(wrapped_is("one two three", 0, 2, 10, "  one two\n  three\n"));
  // After a flag name: padded to the column, or on the next line if it reaches it.
  CHECK(wrapped_is("aa bb cc", 3, 5, 10, "xxx  aa bb\n     cc\n"));
  CHECK(wrapped_is("aa", 5, 5, 10, "xxxxx\n     aa\n"));
  // Line breaks in comments are reflowed; blank lines kept as paragraphs.
  CHECK(wrapped_is("a\nb\n\nc\n", 0, 1, 80, " a b\n\n c\n"));
  // A word longer than the line stands alone.
  CHECK(wrapped_is("a verylongword b", 0, 0, 6, "a\nverylongword\nb\n"));
  // Columns count characters, not bytes.
  CHECK(wrapped_is("\xc3\xa4\xc3\xa4\xc3\xa4 \xc3\xa4", 0, 0, 5,
                   "\xc3\xa4\xc3\xa4\xc3\xa4 \xc3\xa4\n"));
  CHECK(wrapped_is("", 0, 0, 10, "\n"));
  printf("text_test: ok\n");
  return 0;
}
