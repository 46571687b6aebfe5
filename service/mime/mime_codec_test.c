/* mime_codec_test.c: base64 and quoted-printable vectors (RFC 4648 section 10, RFC
 * 2045 section 6.7), malformed input, line lengths, CRLF and charsets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_codec.h"
#include "service/mime/mime_test_util.h"

/* b64d decodes |in| and checks the result is |want| (NULL: must fail with a message
 * containing |error|). */
static void b64d(const char *in, const char *want, const char *error) {
  uint8_t *out = (uint8_t *)"x";
  size_t len = 7;
  STATUS err;
  status_clear(&err);
  int ok = mime_base64_decode((const uint8_t *)in, strlen(in), &out, &len, &err);
  if (want == NULL) {
    CHECK_MSG(!ok, "'%s' decoded", in);
    CHECK(out == NULL && len == 0);
    CHECK(err.code == STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, error) != NULL, "'%s': %s", in, err.message);
    return;
  }
  CHECK_MSG(ok, "'%s': %s", in, err.message);
  CHECK_MSG(len == strlen(want) && memcmp(out, want, len) == 0, "'%s' -> '%s'", in, out);
  CHECK(out[len] == '\0');
  free(out);
}

static void test_base64(void) {
  static const char *const vec[][2] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
    uint8_t *out;
    size_t len;
    STATUS err;
    CHECK(mime_base64_encode((const uint8_t *)vec[i][0], strlen(vec[i][0]), 0, &out, &len, &err));
    CHECK(len == strlen(vec[i][1]) && memcmp(out, vec[i][1], len) == 0);
    free(out);
    b64d(vec[i][1], vec[i][0], NULL);
  }
  /* Layout tolerance. */
  b64d("Zm9v\r\nYmFy\r\n", "foobar", NULL);
  b64d("  Zm 9v\tYm\nE=\n\n", "fooba", NULL);
  b64d("Zm9vYg", "foob", NULL);
  b64d("Zm9vYmE", "fooba", NULL);
  b64d("Zg==Zg==", "ff", NULL);
  b64d("Zg=Zg==", "ff", NULL);
  b64d("Zg==\r\n\r\n", "f", NULL);
  /* Garbage is an error that names the byte and where. */
  b64d("Zm9v!", NULL, "byte 0x21 at offset 4");
  b64d("Zm9v-_", NULL, "byte 0x2d at offset 4");
  b64d("Zm9v\x80", NULL, "byte 0x80");
  b64d("Zm9vY", NULL, "truncated");
  b64d("=Zg", NULL, "misplaced '='");
  b64d("Z=", NULL, "misplaced '='");
  b64d("Zg===", NULL, "misplaced '=' at offset 4");
  {
    uint8_t *out;
    size_t len;
    STATUS err;
    CHECK(!mime_base64_decode((const uint8_t *)"Zm9v\0Zg==", 9, &out, &len, &err));
    CHECK(strstr(err.message, "byte 0x00 at offset 4") != NULL);
  }

  /* MIME lines: 76 characters and CRLF, the last line too. */
  uint8_t data[300];
  for (size_t i = 0; i < sizeof(data); i++) {
    data[i] = (uint8_t)(i * 7 + 3);
  }
  for (size_t n = 0; n <= sizeof(data); n++) {
    uint8_t *enc;
    size_t enc_len;
    STATUS err;
    CHECK(mime_base64_encode(data, n, 76, &enc, &enc_len, &err));
    CHECK(enc_len == mime_base64_encoded_len(n, 76));
    CHECK(mime_base64_encoded_len(n, 0) == (n + 2) / 3 * 4);
    size_t col = 0;
    for (size_t i = 0; i < enc_len; i++) {
      if (enc[i] == '\r') {
        CHECK(enc[i + 1] == '\n');
        CHECK(col == 76 || i + 2 == enc_len);
        col = 0;
        i++;
        continue;
      }
      col++;
      CHECK(col <= 76);
    }
    CHECK(n == 0 ? enc_len == 0 : (enc[enc_len - 2] == '\r' && enc[enc_len - 1] == '\n'));
    uint8_t *dec;
    size_t dec_len;
    CHECK(mime_base64_decode(enc, enc_len, &dec, &dec_len, &err));
    CHECK(dec_len == n && memcmp(dec, data, n) == 0);
    free(enc);
    free(dec);
  }
}

/* qpd decodes |in| and checks the result is |want|. */
static void qpd(const char *in, const char *want) {
  uint8_t *out;
  size_t len;
  STATUS err;
  CHECK(mime_qp_decode((const uint8_t *)in, strlen(in), &out, &len, &err));
  CHECK_MSG(len == strlen(want) && memcmp(out, want, len) == 0, "'%s' -> '%s'", in, out);
  free(out);
}

/* check_qp_output: every line at most 76 characters of printable ASCII. */
static void check_qp_output(const uint8_t *p, size_t n) {
  size_t col = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == '\r') {
      CHECK(i + 1 < n && p[i + 1] == '\n');
      CHECK(col == 0 || (p[i - 1] != ' ' && p[i - 1] != '\t'));
      col = 0;
      i++;
      continue;
    }
    CHECK(p[i] != '\n');
    CHECK((p[i] >= 32 && p[i] <= 126) || p[i] == '\t');
    if (col == 0) {
      CHECK(p[i] != '.');
      CHECK(!(n - i >= 5 && memcmp(p + i, "From ", 5) == 0));
    }
    col++;
    CHECK_MSG(col <= 76, "line too long at %zu", i);
  }
}

static void test_qp(void) {
  /* RFC 2045 section 6.7 rule 5 example (soft line breaks). */
  qpd("Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.",
      "Now's the time for all folk to come to the aid of their country.");
  qpd("a=3Db=3db", "a=b=b");
  qpd("caf=C3=A9\r\n", "caf\xc3\xa9\r\n");
  qpd("soft=\nbreak\n", "softbreak\n");
  qpd("trailing   \r\nblanks\t\r\n", "trailing\r\nblanks\r\n");
  qpd("bad =ZZ and =4", "bad =ZZ and =4");
  qpd("end=", "end");
  qpd("=\r\n", "");
  qpd("", "");
  qpd("x= \r\ny", "xy");

  /* Encoding: text with everything that needs care. */
  const char *text =
      "From the start.\r\n.\r\nA line with trailing blanks  \r\n"
      "caf\xc3\xa9 = 100%\r\n"
      "A very long line that goes on and on and on well past the seventy-six character "
      "limit of quoted-printable output, with a ------ run of dashes placed so that a soft "
      "break may fall just before it -----------------------------------------------\r\n"
      "tab\tend\t\r\nbare\rcr and bare\nlf\r\nno final newline";
  uint8_t *enc;
  size_t enc_len;
  STATUS err;
  CHECK(mime_qp_encode((const uint8_t *)text, strlen(text), 1, &enc, &enc_len, &err));
  check_qp_output(enc, enc_len);
  CHECK(test_contains(enc, enc_len, "=46rom the start."));
  CHECK(test_contains(enc, enc_len, "\r\n=2E\r\n"));
  CHECK(test_contains(enc, enc_len, "blanks =20\r\n"));
  CHECK(test_contains(enc, enc_len, "caf=C3=A9 =3D 100%"));
  CHECK(test_contains(enc, enc_len, "bare=0Dcr"));
  uint8_t *dec;
  size_t dec_len;
  CHECK(mime_qp_decode(enc, enc_len, &dec, &dec_len, &err));
  /* Text mode writes hard breaks as CRLF: the bare LF comes back as CRLF. */
  CHECK(dec_len == strlen(text) + 1);
  const char *lf = strstr(text, "bare\nlf");
  size_t at = (size_t)(lf - text) + 4;
  CHECK(memcmp(dec, text, at) == 0);
  CHECK(memcmp(dec + at, "\r\n", 2) == 0);
  CHECK(memcmp(dec + at + 2, text + at + 1, strlen(text) - at - 1) == 0);
  /* No line made by a soft break starts with "-". */
  for (size_t i = 0; i + 3 < enc_len; i++) {
    if (enc[i] == '=' && enc[i + 1] == '\r' && enc[i + 2] == '\n') {
      CHECK(enc[i + 3] != '-');
    }
  }
  free(enc);
  free(dec);

  /* Binary mode: every byte value round-trips, lines stay short. */
  uint8_t all[512];
  for (size_t i = 0; i < sizeof(all); i++) {
    all[i] = (uint8_t)(i % 256);
  }
  CHECK(mime_qp_encode(all, sizeof(all), 0, &enc, &enc_len, &err));
  check_qp_output(enc, enc_len);
  CHECK(mime_qp_decode(enc, enc_len, &dec, &dec_len, &err));
  CHECK(dec_len == sizeof(all) && memcmp(dec, all, sizeof(all)) == 0);
  free(enc);
  free(dec);

  /* Exactly 76 characters fit on a line without a soft break. */
  char line[77];
  memset(line, 'a', 76);
  line[76] = '\0';
  CHECK(mime_qp_encode((const uint8_t *)line, 76, 1, &enc, &enc_len, &err));
  CHECK(enc_len == 76);
  free(enc);
  CHECK(mime_qp_encode((const uint8_t *)"", 0, 1, &enc, &enc_len, &err));
  CHECK(enc_len == 0);
  free(enc);
}

static void test_crlf_and_charsets(void) {
  uint8_t *out;
  size_t len;
  STATUS err;
  const char *in = "a\nb\r\nc\r\n\nd\r";
  CHECK(!mime_crlf_canonical((const uint8_t *)in, strlen(in)));
  CHECK(mime_crlf((const uint8_t *)in, strlen(in), &out, &len, &err));
  CHECK(len == strlen("a\r\nb\r\nc\r\n\r\nd\r"));
  CHECK(memcmp(out, "a\r\nb\r\nc\r\n\r\nd\r", len) == 0);
  CHECK(mime_crlf_canonical(out, len));
  free(out);
  CHECK(mime_crlf_canonical((const uint8_t *)"\n", 0));
  CHECK(!mime_crlf_canonical((const uint8_t *)"\n", 1));

  CHECK(mime_charset_known("ISO-8859-1") && mime_charset_known("utf8") &&
        mime_charset_known("Windows-1252") && !mime_charset_known("koi8-r") &&
        !mime_charset_known(NULL));
  CHECK(mime_charset_to_utf8("iso-8859-1", (const uint8_t *)"Andr\xe9", 5, &out, &len, &err));
  CHECK(len == 6 && memcmp(out, "Andr\xc3\xa9", 6) == 0);
  free(out);
  CHECK(mime_charset_to_utf8("windows-1252", (const uint8_t *)"\x80\x93", 2, &out, &len, &err));
  CHECK(len == 6 && memcmp(out, "\xe2\x82\xac\xe2\x80\x9c", 6) == 0);
  free(out);
  CHECK(mime_charset_to_utf8("ISO-8859-15", (const uint8_t *)"\xa4", 1, &out, &len, &err));
  CHECK(len == 3 && memcmp(out, "\xe2\x82\xac", 3) == 0);
  free(out);
  status_clear(&err);
  CHECK(!mime_charset_to_utf8("koi8-r", (const uint8_t *)"x", 1, &out, &len, &err));
  CHECK(out == NULL && err.code == STATUS_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "koi8-r") != NULL);
}

/* ref_7bit_safe is mime_7bit_safe written one byte at a time, as it was before it
 * learnt to skip plain words: the two must agree on every input. */
static int ref_7bit_safe(const uint8_t *p, size_t n, size_t max_line, int strict) {
  size_t line_start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && p[i] != '\n') {
      if (p[i] == 0 || p[i] > 127 || (p[i] == '\r' && !(i + 1 < n && p[i + 1] == '\n'))) {
        return 0;
      }
      continue;
    }
    size_t end = i;
    if (end > line_start && p[end - 1] == '\r') {
      end--;
    }
    if (end - line_start > max_line ||
        (strict && end > line_start && (p[end - 1] == ' ' || p[end - 1] == '\t')) ||
        (strict && end - line_start >= 5 && memcmp(p + line_start, "From ", 5) == 0)) {
      return 0;
    }
    line_start = i + 1;
  }
  return 1;
}

/* test_7bit_safe compares mime_7bit_safe with the reference on 200,000 random inputs
 * drawn from the bytes that matter (line ends, CR, NUL, 8-bit, blanks, "From "), with
 * long runs of plain letters so that the word-at-a-time path is taken, and short line
 * limits so that the length check is exercised. */
static void test_7bit_safe(void) {
  static const uint8_t alphabet[] = {'a', 'a', 'a', 'a', ' ', '\t', '\r', '\n', '\n',
                                     0,   0x80, 0xff, 'F', 'r', 'o', 'm', '\r'};
  uint8_t buf[96];
  uint32_t seed = 12345;
  int agreed_safe = 0;
  for (int round = 0; round < 200000; round++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = (seed >> 8) % sizeof(buf);
    size_t max_line = 4 + (seed >> 20) % 40;
    int rare = (seed >> 28) & 3; /* 0: specials often; else mostly plain letters */
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      uint32_t r = seed >> 16;
      buf[i] = rare == 0 || r % 16 == 0 ? alphabet[r % sizeof(alphabet)] : 'b';
    }
    if (round % 7 == 0 && n >= 6) {
      memcpy(buf, "From x", 6);
    }
    for (int strict = 0; strict <= 1; strict++) {
      int want = ref_7bit_safe(buf, n, max_line, strict);
      CHECK_MSG(mime_7bit_safe(buf, n, max_line, strict) == want,
                "round %d, %zu bytes, max_line %zu, strict %d", round, n, max_line, strict);
      agreed_safe += want;
    }
  }
  CHECK(agreed_safe > 1000); /* both verdicts were exercised */
  const char *crlf = "plain text\r\nsecond line\r\n";
  CHECK(mime_7bit_safe((const uint8_t *)crlf, strlen(crlf), 998, 1));
  CHECK(!mime_7bit_safe((const uint8_t *)"ends in CR\r", 11, 998, 0));
  CHECK(!mime_7bit_safe((const uint8_t *)"bare\rCR inside\n", 16, 998, 0));
}

int main(void) {
  test_base64();
  test_7bit_safe();
  test_qp();
  test_crlf_and_charsets();
  printf("PASS\n");
  return 0;
}
