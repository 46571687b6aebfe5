/* mime_malformed_test.c: the adversarial corpus (testdata/malformed, made by
 * gen_malformed.py): every input gives its expected error or a sane parse over which
 * every API of the package runs without crashing; plus generated inputs that check the
 * work stays linear in the input size. Built with AddressSanitizer and
 * UndefinedBehaviorSanitizer (see BUILD), so leaks and undefined behaviour fail it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_address.h"
#include "service/mime/mime_build.h"
#include "service/mime/mime_codec.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/mime/mime_test_util.h"

#define MALFORMED "service/mime/testdata/malformed/"

/* check_error: a failure must say something, with one of the two codes malformed
 * input may cause. */
static void check_error(const char *file, const char *what, const STATUS *err) {
  CHECK_MSG(err->code == STATUS_INVALID_ARGUMENT || err->code == STATUS_RESOURCE_EXHAUSTED,
            "%s: %s: code %d", file, what, err->code);
  CHECK_MSG(err->message[0] != '\0', "%s: %s: empty error message", file, what);
}

/* exercise_entity runs every read-only API over |e| and its descendants. */
static void exercise_entity(const char *file, const MIME_ENTITY *e) {
  STATUS err;
  CHECK(e->type != NULL && e->subtype != NULL && e->cte_name != NULL);
  CHECK(e->whole.off + e->whole.len >= e->body.off + e->body.len);
  CHECK(e->header.off >= e->whole.off && e->body.off >= e->header.off + e->header.len);
  for (size_t i = 0; i < e->num_headers; i++) {
    char *d = mime_header_display(e->headers[i].value);
    CHECK(d != NULL);
    free(d);
    const char *n = e->headers[i].name;
    if (mime_name_eq(n, "from") || mime_name_eq(n, "to") || mime_name_eq(n, "cc") ||
        mime_name_eq(n, "sender")) {
      MIME_ADDRESS_LIST *l = mime_address_list_new();
      CHECK(l != NULL);
      CHECK(mime_address_parse(l, e->headers[i].value, &err));
      for (size_t k = 0; k < l->num; k++) {
        CHECK(strchr(l->addrs[k].addr, '@') != NULL);
      }
      mime_address_list_free(l);
    }
    if (mime_name_eq(n, "message-id")) {
      free(mime_message_id(e->headers[i].value));
    }
  }
  for (size_t i = 0; i < e->num_params; i++) {
    CHECK(e->params[i].name != NULL && e->params[i].value != NULL);
  }
  free(mime_entity_filename(e));
  char path[64];
  mime_entity_path(e, path, sizeof(path));
  uint8_t *body = NULL;
  size_t len = 0;
  status_clear(&err);
  if (mime_entity_decode(e, &body, &len, &err)) {
    mime_smime_sniff(body, len);
    free(body);
  } else {
    check_error(file, "decode", &err);
    CHECK(body == NULL && len == 0);
  }
  MIME_CMS_TYPE declared;
  switch (mime_smime_classify(e, &declared)) {
    case MIME_SMIME_SIGNED: {
      status_clear(&err);
      MIME_SIGNED *s = mime_signed_new(e, &err);
      if (s == NULL) {
        check_error(file, "signed", &err);
      } else {
        CHECK(s->signature_len > 0 && s->canonical_len >= s->content_len);
        CHECK(mime_crlf_canonical(s->canonical, s->canonical_len));
      }
      mime_signed_free(s);
      break;
    }
    case MIME_SMIME_PKCS7: {
      status_clear(&err);
      MIME_PKCS7 *p = mime_pkcs7_new(e, &err);
      if (p == NULL) {
        check_error(file, "pkcs7", &err);
      } else {
        CHECK(p->der_len > 0);
      }
      mime_pkcs7_free(p);
      break;
    }
    default:
      break;
  }
  for (size_t i = 0; i < e->num_children; i++) {
    CHECK(e->children[i].parent == e && e->children[i].depth == e->depth + 1);
    exercise_entity(file, &e->children[i]);
  }
}

/* check_smime checks the third column of expected.tsv on the root. */
static void check_smime(const char *file, const MIME_ENTITY *root, const char *want) {
  if (strcmp(want, "-") == 0) {
    return;
  }
  STATUS err;
  status_clear(&err);
  MIME_SMIME_KIND kind = mime_smime_classify(root, NULL);
  if (strcmp(want, "none") == 0) {
    CHECK_MSG(kind == MIME_SMIME_NONE, "%s: kind %d", file, (int)kind);
    return;
  }
  int is_signed = strncmp(want, "signed", 6) == 0;
  CHECK_MSG(kind == (is_signed ? MIME_SMIME_SIGNED : MIME_SMIME_PKCS7), "%s: kind %d", file,
            (int)kind);
  void *obj = is_signed ? (void *)mime_signed_new(root, &err) : (void *)mime_pkcs7_new(root, &err);
  const char *colon = strchr(want, ':');
  if (colon == NULL) {
    CHECK_MSG(obj != NULL, "%s: %s", file, err.message);
  } else {
    CHECK_MSG(obj == NULL, "%s: expected an error", file);
    CHECK(err.code == STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, colon + 1) != NULL, "%s: '%s' lacks '%s'", file, err.message,
              colon + 1);
  }
  if (is_signed) {
    mime_signed_free(obj);
  } else {
    mime_pkcs7_free(obj);
  }
}

/* transport_safe: CRLF only and no NUL. (8-bit bytes and long lines may remain in
 * header fields, which mime_build_signable keeps; bodies are checked in
 * mime_build_test.) */
static int transport_safe(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] == 0) {
      return 0;
    }
    if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
      return 0;
    }
    if (p[i] == '\r' && (i + 1 >= n || p[i + 1] != '\n')) {
      return 0;
    }
  }
  return 1;
}

/* exercise_build runs the builders over the input. */
static void exercise_build(const char *file, const uint8_t *msg, size_t len) {
  STATUS err;
  status_clear(&err);
  uint8_t *out = NULL;
  size_t out_len = 0;
  if (mime_build_signable(msg, len, NULL, &out, &out_len, &err)) {
    CHECK_MSG(transport_safe(out, out_len), "%s: signable output not transport-safe", file);
    MIME_TREE *t = mime_parse(out, out_len, NULL, &err);
    CHECK_MSG(t != NULL, "%s: signable output does not parse: %s", file, err.message);
    mime_tree_free(t);
    free(out);
  } else {
    check_error(file, "signable", &err);
  }
  MIME_SPLIT *s = mime_split_new(msg, len, NULL, &err);
  CHECK_MSG(s != NULL, "%s: split: %s", file, err.message);
  CHECK(mime_build_replace_content(msg, len, s->content, s->content_len, NULL, &out, &out_len, &err));
  free(out);
  mime_split_free(s);
}

static void test_corpus(void) {
  size_t len;
  uint8_t *table = test_read_file(MALFORMED "expected.tsv", &len);
  CHECK(table != NULL);
  int files = 0;
  int errors = 0;
  char *save = NULL;
  for (char *line = strtok_r((char *)table, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') {
      continue;
    }
    char *f1 = strchr(line, '\t');
    CHECK(f1 != NULL);
    *f1++ = '\0';
    char *f2 = strchr(f1, '\t');
    CHECK(f2 != NULL);
    *f2++ = '\0';
    char path[512];
    snprintf(path, sizeof(path), MALFORMED "%s", line);
    size_t mlen;
    uint8_t *msg = test_read_file(path, &mlen);
    CHECK_MSG(msg != NULL, "cannot read %s", path);
    double t0 = test_now();
    STATUS err;
    status_clear(&err);
    MIME_TREE *t = mime_parse(msg, mlen, NULL, &err);
    if (strcmp(f1, "ok") == 0) {
      CHECK_MSG(t != NULL, "%s: %s", line, err.message);
      exercise_entity(line, mime_tree_root(t));
      check_smime(line, mime_tree_root(t), f2);
      exercise_build(line, msg, mlen);
    } else {
      const char *colon = strchr(f1, ':');
      CHECK(colon != NULL);
      CHECK_MSG(t == NULL, "%s: parsed, expected %s", line, f1);
      CHECK_MSG(strncmp(status_code_name(err.code), f1, (size_t)(colon - f1)) == 0 &&
                    strstr(err.message, colon + 1) != NULL,
                "%s: %s: %s, expected %s", line, status_code_name(err.code), err.message, f1);
      errors++;
      /* The builders meet the same limit, with the same error. */
      uint8_t *out;
      size_t out_len;
      STATUS err2;
      CHECK(!mime_build_signable(msg, mlen, NULL, &out, &out_len, &err2));
      CHECK(err2.code == err.code);
      CHECK(mime_split_new(msg, mlen, NULL, &err2) == NULL);
    }
    double dt = test_now() - t0;
    CHECK_MSG(dt < 5.0, "%s took %.2fs", line, dt);
    mime_tree_free(t);
    free(msg);
    files++;
  }
  free(table);
  CHECK(files >= 50);
  printf("malformed corpus: %d inputs, %d refused with the expected limit error\n", files,
         errors);
}

/* repeat builds |head| followed by |unit| repeated to about |n| bytes, then |tail|. */
static uint8_t *repeat(const char *head, const char *unit, const char *tail, size_t n,
                       size_t *len) {
  size_t hl = strlen(head);
  size_t ul = strlen(unit);
  size_t tl = strlen(tail);
  size_t count = n / ul + 1;
  uint8_t *p = malloc(hl + count * ul + tl + 1);
  CHECK(p != NULL);
  memcpy(p, head, hl);
  for (size_t i = 0; i < count; i++) {
    memcpy(p + hl + i * ul, unit, ul);
  }
  memcpy(p + hl + count * ul, tail, tl);
  *len = hl + count * ul + tl;
  p[*len] = '\0';
  return p;
}

#if !defined(__SANITIZE_ADDRESS__)

/* GEN builds an adversarial input of about |n| bytes. */
typedef uint8_t *(*GEN)(size_t n, size_t *len);

#define B70 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static uint8_t *gen_boundary_near_misses(size_t n, size_t *len) {
  return repeat("Content-Type: multipart/mixed; boundary=" B70 "\n\n--" B70 "\n\n",
                "--" B70 "X\n", "--" B70 "--\n", n, len);
}

static uint8_t *gen_boundary_prefixes(size_t n, size_t *len) {
  return repeat("Content-Type: multipart/mixed; boundary=" B70 "\n\n--" B70 "\n\n",
                "\n--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "", n, len);
}

static uint8_t *gen_big_parts(size_t n, size_t *len) {
  /* 5,000 parts whatever the size, each growing with |n|. */
  size_t per = n / 5000 + 1;
  uint8_t *p = malloc(n + per + 10000 * 16 + 100);
  CHECK(p != NULL);
  size_t k = (size_t)sprintf((char *)p, "Content-Type: multipart/mixed; boundary=b\n\n");
  for (int i = 0; i < 5000; i++) {
    k += (size_t)sprintf((char *)p + k, "--b\n\n");
    memset(p + k, i % 2 ? '-' : 'b', per);
    k += per;
    p[k++] = '\n';
  }
  k += (size_t)sprintf((char *)p + k, "--b--\n");
  *len = k;
  return p;
}

static uint8_t *gen_params(size_t n, size_t *len) {
  return repeat("Content-Type: text/plain", "; p=v; name*3=x; name*1*=%41", "\n\nx\n", n / 8, len);
}

static uint8_t *gen_fields(size_t n, size_t *len) {
  return repeat("", "X-A: b\n c\n", "\nbody\n", n / 8, len);
}

static uint8_t *gen_comments(size_t n, size_t *len) {
  size_t half = n / 16;
  uint8_t *p = malloc(2 * half + 64);
  CHECK(p != NULL);
  size_t k = (size_t)sprintf((char *)p, "Content-Type: text/plain ");
  memset(p + k, '(', half);
  k += half;
  memset(p + k, ')', half);
  k += half;
  k += (size_t)sprintf((char *)p + k, "\n\nx\n");
  *len = k;
  return p;
}

static uint8_t *gen_nested_boundaries(size_t n, size_t *len) {
  /* 8 levels whose boundaries are prefixes of each other, the innermost part big and
   * full of near-miss lines for every level. */
  const char *head =
      "Content-Type: multipart/mixed; boundary=a\n\n--a\n"
      "Content-Type: multipart/mixed; boundary=aa\n\n--aa\n"
      "Content-Type: multipart/mixed; boundary=aaa\n\n--aaa\n"
      "Content-Type: multipart/mixed; boundary=aaaa\n\n--aaaa\n"
      "Content-Type: multipart/mixed; boundary=aaaaa\n\n--aaaaa\n"
      "Content-Type: multipart/mixed; boundary=aaaaaa\n\n--aaaaaa\n"
      "Content-Type: multipart/mixed; boundary=aaaaaaa\n\n--aaaaaaa\n"
      "Content-Type: multipart/mixed; boundary=aaaaaaaa\n\n--aaaaaaaa\n\n";
  return repeat(head, "--aaaaaaaaa\n--aX\n", "", n, len);
}

static void time_parse(const char *name, GEN gen) {
  double best[2];
  size_t sizes[2] = {1u << 20, 4u << 20};
  for (int s = 0; s < 2; s++) {
    size_t len;
    uint8_t *msg = gen(sizes[s], &len);
    best[s] = 1e9;
    for (int run = 0; run < 3; run++) {
      STATUS err;
      double t0 = test_now();
      MIME_TREE *t = mime_parse(msg, len, NULL, &err);
      if (t != NULL) {
        exercise_entity(name, mime_tree_root(t));
      }
      double dt = test_now() - t0;
      mime_tree_free(t);
      if (dt < best[s]) {
        best[s] = dt;
      }
    }
    free(msg);
  }
  printf("linear: %-22s 1 MiB %.3fs, 4 MiB %.3fs\n", name, best[0], best[1]);
  /* Linear work grows 4x, quadratic 16x; allow noise on a busy machine. */
  CHECK_MSG(best[1] < best[0] * 9 + 0.1, "%s: %.3fs -> %.3fs", name, best[0], best[1]);
  CHECK_MSG(best[1] < 10.0, "%s: %.3fs", name, best[1]);
}

/* time_text checks the text helpers (RFC 2047 display, addresses) the same way. */
static void time_text(const char *name, const char *unit, int addresses) {
  double best[2];
  size_t sizes[2] = {1u << 20, 4u << 20};
  for (int s = 0; s < 2; s++) {
    size_t len;
    uint8_t *v = repeat("", unit, "", sizes[s], &len);
    best[s] = 1e9;
    for (int run = 0; run < 3; run++) {
      double t0 = test_now();
      if (addresses) {
        MIME_ADDRESS_LIST *l = mime_address_list_new();
        STATUS err;
        CHECK(mime_address_parse(l, (const char *)v, &err));
        mime_address_list_free(l);
      } else {
        free(mime_header_display((const char *)v));
        free(mime_message_id((const char *)v));
      }
      double dt = test_now() - t0;
      if (dt < best[s]) {
        best[s] = dt;
      }
    }
    free(v);
  }
  printf("linear: %-22s 1 MiB %.3fs, 4 MiB %.3fs\n", name, best[0], best[1]);
  CHECK_MSG(best[1] < best[0] * 9 + 0.1, "%s: %.3fs -> %.3fs", name, best[0], best[1]);
}

static void test_linear(void) {
  time_parse("boundary near misses", gen_boundary_near_misses);
  time_parse("boundary prefixes", gen_boundary_prefixes);
  time_parse("5000 growing parts", gen_big_parts);
  time_parse("parameters", gen_params);
  time_parse("header fields", gen_fields);
  time_parse("nested comments", gen_comments);
  time_parse("prefix boundaries x8", gen_nested_boundaries);
  time_text("encoded words", "=?utf-8?q?a=?x?b?=?=?", 0);
  time_text("encoded words ok", "=?utf-8?q?caf=C3=A9?= ", 0);
  time_text("address lists", "\"a\" <u@x.org>, (c) b@y, g: c@z;, ", 1);
  time_text("address specials", "<<<@@@:::,,,;;;\"(", 1);
}

#endif /* !__SANITIZE_ADDRESS__ */

/* test_default_field_limit: the whole-tree header field limit, at its default. */
static void test_default_field_limit(void) {
  size_t len;
  uint8_t *msg = repeat("", "a:\n", "\nbody\n", 3 * (MIME_DEFAULT_MAX_HEADER_FIELDS + 1), &len);
  STATUS err;
  CHECK(mime_parse(msg, len, NULL, &err) == NULL);
  CHECK(err.code == STATUS_RESOURCE_EXHAUSTED);
  CHECK_MSG(strstr(err.message, "more than 200000 header fields") != NULL, "%s", err.message);
  free(msg);
}

int main(void) {
  test_corpus();
  test_default_field_limit();
#if defined(__SANITIZE_ADDRESS__)
  printf("linear-time checks skipped under AddressSanitizer (see BUILD)\n");
#else
  test_linear();
#endif
  printf("PASS\n");
  return 0;
}
