/* mime_parse_test.c: header fields, Content-Type parameters (RFC 2045, RFC 2231),
 * RFC 2047 display, multipart byte ranges with CRLF and LF, nesting, limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_parse.h"
#include "service/mime/mime_test_util.h"

/* parse parses a C string (the tree points into it). */
static MIME_TREE *parse(const char *msg) {
  STATUS err;
  status_clear(&err);
  MIME_TREE *t = mime_parse((const uint8_t *)msg, strlen(msg), NULL, &err);
  CHECK_MSG(t != NULL, "%s", err.message);
  return t;
}

/* span_is says whether |s| holds exactly the string |want|. */
static int span_is(MIME_SPAN s, const char *want) {
  return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static void test_headers(void) {
  const char *msg =
      "From alice@example.com Mon Jan  1 00:00:00 2024\n"
      "Received: from a\r\n"
      "\tby b;\r\n"
      "  Mon, 1 Jan 2024\r\n"
      "SUBJECT :  hello   world  \r\n"
      "X-Empty:\r\n"
      "received: second\r\n"
      "X-Nul: a\0b\r\n"
      "\r\n"
      "body\r\n";
  size_t len = strlen(msg) + strlen(msg + strlen(msg) + 1) + 1;
  STATUS err;
  MIME_TREE *t = mime_parse((const uint8_t *)msg, len, NULL, &err);
  CHECK(t != NULL);
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(e->flags & MIME_F_MBOX_FROM);
  CHECK(e->num_headers == 5);
  CHECK(strcmp(e->headers[0].name, "Received") == 0);
  CHECK(strcmp(e->headers[0].value, "from a\tby b;  Mon, 1 Jan 2024") == 0);
  CHECK(span_is(e->headers[0].raw, "Received: from a\r\n\tby b;\r\n  Mon, 1 Jan 2024\r\n"));
  CHECK(strcmp(e->headers[1].name, "SUBJECT") == 0);
  CHECK(strcmp(mime_entity_header(e, "subject"), "hello   world") == 0);
  CHECK(strcmp(mime_entity_header(e, "x-empty"), "") == 0);
  CHECK(strcmp(mime_entity_header(e, "x-nul"), "a b") == 0);
  CHECK(mime_entity_header(e, "to") == NULL);
  size_t pos = 0;
  CHECK(strcmp(mime_entity_find_header(e, "RECEIVED", &pos)->value + 0, "from a\tby b;  Mon, 1 Jan 2024") == 0);
  CHECK(strcmp(mime_entity_find_header(e, "RECEIVED", &pos)->value, "second") == 0);
  CHECK(mime_entity_find_header(e, "RECEIVED", &pos) == NULL);
  CHECK(e->header.off == 0);
  CHECK(e->body.len == 6 && memcmp(e->body.ptr, "body\r\n", 6) == 0);
  CHECK(e->body.off + e->body.len == len);
  CHECK(mime_entity_is(e, "text", "plain") && (e->flags & MIME_F_DEFAULT_TYPE));
  CHECK(strcmp(mime_entity_param(e, "charset"), "us-ascii") == 0);
  mime_tree_free(t);

  /* A line that is no header field starts the body (no empty line). */
  t = parse("A: 1\nnot a header\nmore\n");
  e = mime_tree_root(t);
  CHECK(e->num_headers == 1 && (e->flags & MIME_F_NO_BLANK_LINE));
  CHECK(span_is(e->header, "A: 1\n"));
  CHECK(span_is(e->body, "not a header\nmore\n"));
  mime_tree_free(t);

  /* Headers only, no line end at the end. */
  t = parse("A: 1\n B");
  e = mime_tree_root(t);
  CHECK(e->num_headers == 1 && strcmp(e->headers[0].value, "1 B") == 0);
  CHECK(e->body.len == 0 && e->body.off == 7);
  mime_tree_free(t);

  /* Empty input, and a body without headers. */
  t = parse("");
  CHECK(mime_tree_root(t)->num_headers == 0 && mime_tree_root(t)->body.len == 0);
  mime_tree_free(t);
  t = parse("\r\nonly body");
  CHECK(span_is(mime_tree_root(t)->body, "only body"));
  mime_tree_free(t);
}

static void test_content_type(void) {
  MIME_TREE *t = parse(
      "Content-Type: (comment) Text/HTML (more) ; CharSet=\"UTF-8\" ;format=flowed\r\n"
      "  ; name=\"a \\\"quoted\\\" name.txt\"\r\n"
      "Content-Transfer-Encoding: Quoted-Printable (yes)\r\n"
      "Content-Disposition: ATTACHMENT; filename=report.pdf;\r\n"
      "  size=100\r\n\r\nx");
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(mime_entity_is(e, "text", "html"));
  CHECK(!(e->flags & MIME_F_DEFAULT_TYPE));
  CHECK(strcmp(mime_entity_param(e, "charset"), "UTF-8") == 0);
  CHECK(strcmp(mime_entity_param(e, "format"), "flowed") == 0);
  CHECK(strcmp(mime_entity_param(e, "name"), "a \"quoted\" name.txt") == 0);
  CHECK(e->num_params == 3 && strcmp(e->params[0].name, "charset") == 0);
  CHECK(e->cte == MIME_CTE_QUOTED_PRINTABLE && strcmp(e->cte_name, "quoted-printable") == 0);
  CHECK(strcmp(e->disposition, "attachment") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "filename"), "report.pdf") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "size"), "100") == 0);
  char *fn = mime_entity_filename(e);
  CHECK(strcmp(fn, "report.pdf") == 0);
  free(fn);
  mime_tree_free(t);

  /* Lenient parameters: no ";", unquoted blanks and tspecials, a value-less name. */
  t = parse("Content-Type: multipart/mixed boundary=----=_Part_1_2.3 ; name=my file.pdf;"
            " junk; x=\"unterminated\n\nbody");
  e = mime_tree_root(t);
  CHECK(mime_entity_is(e, "multipart", "mixed"));
  CHECK(strcmp(mime_entity_param(e, "boundary"), "----=_Part_1_2.3") == 0);
  CHECK(strcmp(mime_entity_param(e, "name"), "my file.pdf") == 0);
  CHECK(strcmp(mime_entity_param(e, "x"), "unterminated") == 0);
  CHECK(mime_entity_param(e, "junk") == NULL);
  mime_tree_free(t);

  /* Invalid types fall back to text/plain; us-ascii (RFC 2045 section 5.2). */
  static const char *const bad[] = {
      "Content-Type: text\n\nx", "Content-Type: /plain\n\nx", "Content-Type: text/\n\nx",
      "Content-Type: \n\nx", "Content-Type: ;charset=utf-8\n\nx",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    t = parse(bad[i]);
    e = mime_tree_root(t);
    CHECK(mime_entity_is(e, "text", "plain") && (e->flags & MIME_F_DEFAULT_TYPE));
    CHECK(strcmp(mime_entity_param(e, "charset"), "us-ascii") == 0);
    mime_tree_free(t);
  }

  /* Unknown transfer encodings are kept by name; decoding them is refused. */
  t = parse("Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n");
  e = mime_tree_root(t);
  CHECK(e->cte == MIME_CTE_UNKNOWN && strcmp(e->cte_name, "x-uuencode") == 0);
  uint8_t *out;
  size_t out_len;
  STATUS err;
  CHECK(!mime_entity_decode(e, &out, &out_len, &err));
  CHECK(err.code == STATUS_INVALID_ARGUMENT && strstr(err.message, "x-uuencode") != NULL);
  mime_tree_free(t);
}

static void test_rfc2231(void) {
  /* The examples of RFC 2231 sections 3-4, and what mail clients send. */
  MIME_TREE *t = parse(
      "Content-Type: message/external-body; access-type=URL;\n"
      " URL*0=\"ftp://\";\n"
      " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"\n"
      "Content-Disposition: attachment;\n"
      " title*2=\"isn't it!\";\n"
      " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\n"
      " title*0*=us-ascii'en'This%20is%20even%20more%20;\n"
      " filename=\"plain.txt\"; filename*=UTF-8''%E2%82%AC%20rates.pdf;\n"
      " latin*=iso-8859-1''Andr%E9; odd*=nocharset; gap*0=a; gap*2=c; rep*0=x; rep*0=y;"
      " rep*1=z\n\nx");
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(strcmp(mime_entity_param(e, "url"),
               "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar") == 0);
  CHECK(strcmp(mime_entity_param(e, "access-type"), "URL") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "title"),
               "This is even more ***fun*** isn't it!") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "filename"), "\xe2\x82\xac rates.pdf") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "latin"), "Andr\xc3\xa9") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "odd"), "nocharset") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "gap"), "a") == 0);
  CHECK(strcmp(mime_entity_disp_param(e, "rep"), "xz") == 0);
  for (size_t i = 0; i < e->num_disp_params; i++) {
    if (strcmp(e->disp_params[i].name, "filename") == 0) {
      CHECK(strcmp(e->disp_params[i].charset, "utf-8") == 0);
    }
  }
  /* Parameters keep the order of their first appearance. */
  CHECK(strcmp(e->disp_params[0].name, "title") == 0);
  CHECK(strcmp(e->disp_params[1].name, "filename") == 0);
  mime_tree_free(t);
}

static void test_rfc2047(void) {
  static const char *const cases[][2] = {
      {"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
       "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>"},
      {"=?UTF-8?B?w6k=?=", "\xc3\xa9"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=  \t  =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
      {"=?utf-8?q?caf=C3=A9?= au lait", "caf\xc3\xa9 au lait"},
      {"=?UTF-8*en?Q?x?=", "x"},
      {"a =?koi8-r?Q?x?= b", "a =?koi8-r?Q?x?= b"},
      {"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
      {"=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="},
      {"=?UTF-8?Q?no end", "=?UTF-8?Q?no end"},
      {"=?", "=?"},
      {"=?UTF-8?Q?a?= plain =?UTF-8?Q?b?=", "a plain b"},
      {"=?windows-1252?Q?=80?=", "\xe2\x82\xac"},
      {"=?UTF-8?Q?=00?=", " "},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *d = mime_header_display(cases[i][0]);
    CHECK(d != NULL);
    CHECK_MSG(strcmp(d, cases[i][1]) == 0, "'%s' -> '%s'", cases[i][0], d);
    free(d);
  }
  MIME_TREE *t = parse("Content-Type: application/pdf; name=\"=?UTF-8?B?w6kucGRm?=\"\n\nx");
  char *fn = mime_entity_filename(mime_tree_root(t));
  CHECK(strcmp(fn, "\xc3\xa9.pdf") == 0);
  free(fn);
  mime_tree_free(t);
  t = parse("Content-Type: application/pdf\n\nx");
  CHECK(mime_entity_filename(mime_tree_root(t)) == NULL);
  mime_tree_free(t);
}

/* A multipart/signed-like message, with parts whose exact bytes matter. */
static const char kPart1[] =
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line one\r\n"
    "--simple boundary is not a delimiter here\r\n"
    "--simple boundaryX\r\n"
    "\r\n";
static const char kPart2[] = "Content-Type: application/pkcs7-signature\r\n\r\nMIA=";

static void test_multipart_spans(void) {
  char msg[2048];
  snprintf(msg, sizeof(msg),
           "Content-Type: multipart/signed; boundary=\"simple boundary\"\r\n"
           "\r\n"
           "preamble\r\n"
           "--simple boundary  \t\r\n"
           "%s\r\n"
           "--simple boundary\r\n"
           "%s\r\n"
           "--simple boundary--  trailing junk\r\n"
           "epilogue\r\n",
           kPart1, kPart2);
  MIME_TREE *t = parse(msg);
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(e->num_children == 2);
  CHECK(span_is(e->children[0].whole, kPart1));
  CHECK(span_is(e->children[1].whole, kPart2));
  CHECK(span_is(e->preamble, "preamble"));
  CHECK(span_is(e->epilogue, "epilogue\r\n"));
  CHECK(!(e->flags & MIME_F_UNTERMINATED));
  CHECK(span_is(e->children[0].body, "line one\r\n--simple boundary is not a delimiter here\r\n"
                                     "--simple boundaryX\r\n\r\n"));
  CHECK(e->children[0].whole.off == (size_t)(strstr(msg, kPart1) - msg));
  CHECK(e->children[1].parent == e && e->children[1].index == 1 && e->children[1].depth == 1);
  char path[32];
  CHECK(strcmp(mime_entity_path(&e->children[1], path, sizeof(path)), "2") == 0);
  CHECK(strcmp(mime_entity_path(e, path, sizeof(path)), "0") == 0);
  CHECK(mime_tree_num_entities(t) == 3);
  mime_tree_free(t);

  /* The same with bare LF: the LF before a delimiter belongs to it. */
  t = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\nA: 1\n\none\n\n--b\n\ntwo\n--b--");
  e = mime_tree_root(t);
  CHECK(e->num_children == 2);
  CHECK(span_is(e->children[0].whole, "A: 1\n\none\n"));
  CHECK(span_is(e->children[1].whole, "\ntwo"));
  CHECK(span_is(e->children[1].body, "two"));
  CHECK(e->preamble.len == 0 && e->epilogue.len == 0);
  mime_tree_free(t);

  /* Empty parts, consecutive delimiters, and a missing close delimiter. */
  t = parse("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\n--b\nX: y\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 3);
  CHECK(e->children[0].whole.len == 0);
  CHECK(e->children[1].whole.len == 0);
  CHECK(span_is(e->children[2].whole, "X: y\n"));
  CHECK(e->flags & MIME_F_UNTERMINATED);
  mime_tree_free(t);

  /* No delimiter at all; no boundary parameter. */
  t = parse("Content-Type: multipart/mixed; boundary=b\n\nno parts here\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 0 && (e->flags & MIME_F_UNTERMINATED));
  CHECK(span_is(e->preamble, "no parts here\n"));
  mime_tree_free(t);
  t = parse("Content-Type: multipart/mixed\n\n--b\nx\n--b--\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 0 && (e->flags & MIME_F_NO_BOUNDARY));
  mime_tree_free(t);

  /* Boundaries that are prefixes of each other. */
  t = parse("Content-Type: multipart/mixed; boundary=abc\n\n"
            "--abc\nContent-Type: multipart/alternative; boundary=abcd\n\n"
            "--abcd\n\ninner one\n--abcd\n\ninner two\n--abcd--\n"
            "--abc\n\nouter two\n--abc--\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 2);
  CHECK(e->children[0].num_children == 2);
  CHECK(span_is(e->children[0].children[1].body, "inner two"));
  CHECK(span_is(e->children[1].body, "outer two"));
  mime_tree_free(t);
  /* The other way round: the outer boundary ends an unclosed inner multipart. */
  t = parse("Content-Type: multipart/mixed; boundary=abcd\n\n"
            "--abcd\nContent-Type: multipart/alternative; boundary=abc\n\n"
            "--abc\n\ninner\n"
            "--abcd\n\nouter two\n--abcd--\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 2);
  CHECK(e->children[0].num_children == 1 && (e->children[0].flags & MIME_F_UNTERMINATED));
  CHECK(span_is(e->children[0].children[0].body, "inner"));
  mime_tree_free(t);

  /* multipart/digest parts default to message/rfc822, which is parsed. */
  t = parse("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nhi\n--d--\n");
  e = mime_tree_root(t);
  CHECK(mime_entity_is(&e->children[0], "message", "rfc822"));
  CHECK(e->children[0].num_children == 1);
  CHECK(strcmp(mime_entity_header(&e->children[0].children[0], "subject"), "s") == 0);
  CHECK(span_is(e->children[0].children[0].body, "hi"));
  char p2[32];
  CHECK(strcmp(mime_entity_path(&e->children[0].children[0], p2, sizeof(p2)), "1.1") == 0);
  mime_tree_free(t);

  /* Encoded multiparts (forbidden) stay leaves. */
  t = parse("Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n"
            "LS1iCgp4Ci0tYi0tCg==\n");
  e = mime_tree_root(t);
  CHECK(e->num_children == 0 && (e->flags & MIME_F_ENCODED_MULTIPART));
  uint8_t *out;
  size_t out_len;
  STATUS err;
  CHECK(mime_entity_decode(e, &out, &out_len, &err));
  CHECK(out_len == 13 && memcmp(out, "--b\n\nx\n--b--\n", 13) == 0);
  free(out);
  mime_tree_free(t);
}

static void test_decode(void) {
  MIME_TREE *t = parse("Content-Type: multipart/mixed; boundary=b\n\n"
                       "--b\nContent-Transfer-Encoding: base64\n\naGVs\nbG8=\n"
                       "--b\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9=\n!\n"
                       "--b\nContent-Transfer-Encoding: 8bit\n\nraw\xff\n"
                       "--b\nContent-Transfer-Encoding: base64\n\naGVs*bG8=\n"
                       "--b--\n");
  const MIME_ENTITY *e = mime_tree_root(t);
  CHECK(e->num_children == 4);
  uint8_t *out;
  size_t len;
  STATUS err;
  CHECK(mime_entity_decode(&e->children[0], &out, &len, &err));
  CHECK(len == 5 && memcmp(out, "hello", 5) == 0);
  free(out);
  CHECK(mime_entity_decode(&e->children[1], &out, &len, &err));
  CHECK(len == 6 && memcmp(out, "caf\xc3\xa9!", 6) == 0);
  free(out);
  CHECK(mime_entity_decode(&e->children[2], &out, &len, &err));
  CHECK(len == 4 && memcmp(out, "raw\xff", 4) == 0);
  free(out);
  status_clear(&err);
  out = (uint8_t *)"x";
  CHECK(!mime_entity_decode(&e->children[3], &out, &len, &err));
  CHECK(out == NULL);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, "MIME part 4") != NULL &&
                strstr(err.message, "byte 0x2a at offset 4") != NULL,
            "%s", err.message);
  mime_tree_free(t);
}

/* nested builds |levels| multiparts one inside the other. */
static char *nested(int levels) {
  size_t cap = (size_t)levels * 128 + 64;
  char *m = malloc(cap);
  CHECK(m != NULL);
  size_t n = 0;
  for (int i = 0; i < levels; i++) {
    n += (size_t)snprintf(m + n, cap - n,
                          "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
  }
  n += (size_t)snprintf(m + n, cap - n, "\nleaf\n");
  for (int i = levels - 1; i >= 0; i--) {
    n += (size_t)snprintf(m + n, cap - n, "--b%d--\n", i);
  }
  return m;
}

static void test_limits(void) {
  STATUS err;
  /* Depth: the default allows entities down to depth 8. */
  char *m = nested(8);
  MIME_TREE *t = mime_parse((const uint8_t *)m, strlen(m), NULL, &err);
  CHECK(t != NULL);
  mime_tree_free(t);
  free(m);
  m = nested(9);
  status_clear(&err);
  CHECK(mime_parse((const uint8_t *)m, strlen(m), NULL, &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED);
  CHECK_MSG(strstr(err.message, "nested deeper than 8 levels") != NULL, "%s", err.message);
  MIME_LIMITS lim = {.max_depth = 20};
  t = mime_parse((const uint8_t *)m, strlen(m), &lim, &err);
  CHECK(t != NULL);
  mime_tree_free(t);
  free(m);

  /* Parts. */
  const char *three = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n1\n--b\n\n2\n--b\n\n3\n--b--\n";
  MIME_LIMITS parts = {.max_parts = 3};
  status_clear(&err);
  CHECK(mime_parse((const uint8_t *)three, strlen(three), &parts, &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED && strstr(err.message, "more than 3 MIME parts"));
  /* A named limit says its name (the engine names its flags). */
  parts.parts_name = "--max-mime-parts";
  CHECK(mime_parse((const uint8_t *)three, strlen(three), &parts, &err) == NULL);
  CHECK_MSG(strstr(err.message, "more than 3 MIME parts (--max-mime-parts)") != NULL, "%s",
            err.message);
  parts.max_parts = 4;
  t = mime_parse((const uint8_t *)three, strlen(three), &parts, &err);
  CHECK(t != NULL && mime_tree_num_entities(t) == 4);
  mime_tree_free(t);

  /* Header block size and field count. */
  const char *hdr = "A: 0123456789\nB: 0123456789\n\nbody";
  MIME_LIMITS hb = {.max_header_bytes = 20};
  status_clear(&err);
  CHECK(mime_parse((const uint8_t *)hdr, strlen(hdr), &hb, &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED && strstr(err.message, "larger than 20 bytes"));
  hb.max_header_bytes = 28;
  t = mime_parse((const uint8_t *)hdr, strlen(hdr), &hb, &err);
  CHECK(t != NULL);
  mime_tree_free(t);
  MIME_LIMITS hf = {.max_header_fields = 1};
  status_clear(&err);
  CHECK(mime_parse((const uint8_t *)hdr, strlen(hdr), &hf, &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED && strstr(err.message, "more than 1 header fields"));

  /* A long body line after the headers is not a header: no limit applies. */
  size_t big = 3 * 1024 * 1024;
  char *body = malloc(big + 16);
  CHECK(body != NULL);
  memcpy(body, "A: 1\n\n", 6);
  memset(body + 6, 'x', big);
  t = mime_parse((const uint8_t *)body, big + 6, NULL, &err);
  CHECK(t != NULL && mime_tree_root(t)->body.len == big);
  mime_tree_free(t);
  free(body);
}

static void test_take(void) {
  const char *s = "Subject: taken\n\nbody";
  uint8_t *copy = malloc(strlen(s));
  CHECK(copy != NULL);
  memcpy(copy, s, strlen(s));
  STATUS err;
  MIME_TREE *t = mime_parse_take(copy, strlen(s), NULL, &err);
  CHECK(t != NULL);
  size_t len;
  CHECK(mime_tree_data(t, &len) == copy && len == strlen(s));
  CHECK(strcmp(mime_entity_header(mime_tree_root(t), "subject"), "taken") == 0);
  mime_tree_free(t);
  mime_tree_free(NULL);
  /* On failure the buffer is freed too (checked by the sanitizer build). */
  char *m = nested(12);
  size_t mlen = strlen(m);
  CHECK(mime_parse_take((uint8_t *)m, mlen, NULL, &err) == NULL);
}

int main(void) {
  test_headers();
  test_content_type();
  test_rfc2231();
  test_rfc2047();
  test_multipart_spans();
  test_decode();
  test_limits();
  test_take();
  printf("PASS\n");
  return 0;
}
