/* mime_smime_test.c: S/MIME detection over the real Thunderbird corpus
 * (testdata/thunderbird, MPL-2.0, unchanged copies). Every message is walked layer
 * by layer the way DecryptVerify will walk it; the bytes this library extracts are
 * handed to the OpenSSL command line, which must verify every good signature and
 * reject every altered one (proof that the signed-content byte ranges are exact) and
 * decrypt every enveloped layer. Expected layers: testdata/thunderbird_layers.tsv;
 * Thunderbird's own verdicts: testdata/thunderbird/expected.tsv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_codec.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"
#include "service/mime/mime_test_util.h"

#define TESTDATA "service/mime/testdata/"
#define CORPUS TESTDATA "thunderbird/"
#define OPENSSL "/usr/bin/openssl"

static char g_ca[512];
static char g_keys[3][512];
static char g_certs[3][512];
static char g_log[512];
/* g_lf_* count LF-only signed contents that verified in each form. */
static int g_lf_canonical;
static int g_lf_as_received;

/* tmp_path builds a path in the test's temporary directory. */
static const char *tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", test_tmpdir(), name);
  return buf;
}

/* setup_keys converts the corpus's PKCS #12 files (password "nss") to PEM for
 * openssl cms -decrypt: each key, and its certificate apart for -recip. */
static void setup_keys(void) {
  static const char *const p12[3] = {
      CORPUS "smime/Bob.p12",
      CORPUS "smime-interop/Fran.p12",
      CORPUS "smime-interop/Fran-ec.p12",
  };
  snprintf(g_ca, sizeof(g_ca), CORPUS "smime/TestCA.pem");
  tmp_path(g_log, sizeof(g_log), "openssl.log");
  for (int i = 0; i < 3; i++) {
    char name[32];
    snprintf(name, sizeof(name), "key%d.pem", i);
    tmp_path(g_keys[i], sizeof(g_keys[i]), name);
    const char *argv[] = {OPENSSL, "pkcs12", "-in", p12[i], "-nodes", "-passin",
                          "pass:nss", "-out", g_keys[i], NULL};
    CHECK_MSG(test_run(argv, g_log) == 0, "openssl pkcs12 %s (see %s)", p12[i], g_log);
    snprintf(name, sizeof(name), "cert%d.pem", i);
    tmp_path(g_certs[i], sizeof(g_certs[i]), name);
    const char *cert_argv[] = {OPENSSL, "pkcs12", "-in", p12[i], "-clcerts", "-nokeys",
                               "-passin", "pass:nss", "-out", g_certs[i], NULL};
    CHECK_MSG(test_run(cert_argv, g_log) == 0, "openssl pkcs12 %s (see %s)", p12[i], g_log);
  }
}

/* verify_detached runs openssl over extracted content and signature; 1 if it
 * verifies against TestCA. */
static int verify_detached(const uint8_t *content, size_t content_len,
                           const uint8_t *sig, size_t sig_len) {
  char cpath[512];
  char spath[512];
  CHECK(test_write_file(tmp_path(cpath, sizeof(cpath), "content"), content, content_len));
  CHECK(test_write_file(tmp_path(spath, sizeof(spath), "sig.der"), sig, sig_len));
  const char *argv[] = {OPENSSL, "cms",  "-verify", "-binary", "-inform", "DER",
                        "-in",   spath,  "-content", cpath,    "-CAfile", g_ca,
                        "-out",  "/dev/null", NULL};
  return test_run(argv, g_log) == 0;
}

/* opaque_content verifies opaque SignedData |der| (result in |*ok|) and returns its
 * encapsulated content (malloc'd). */
static uint8_t *opaque_content(const uint8_t *der, size_t len, int *ok, size_t *out_len) {
  char in[512];
  char out[512];
  CHECK(test_write_file(tmp_path(in, sizeof(in), "opaque.der"), der, len));
  tmp_path(out, sizeof(out), "opaque.out");
  const char *argv[] = {OPENSSL, "cms", "-verify", "-binary", "-inform", "DER", "-in",
                        in, "-CAfile", g_ca, "-out", out, NULL};
  *ok = test_run(argv, g_log) == 0;
  if (!*ok) {
    const char *argv2[] = {OPENSSL, "cms", "-verify", "-binary", "-noverify", "-nosigs",
                           "-inform", "DER", "-in", in, "-out", out, NULL};
    CHECK(test_run(argv2, g_log) == 0);
  }
  uint8_t *data = test_read_file(out, out_len);
  CHECK(data != NULL);
  return data;
}

/* decrypt tries each key on EnvelopedData |der|; returns the plaintext or NULL. Each
 * key goes with its certificate (-recip): without it openssl tries the key on every
 * RecipientInfo and, when none opens, decrypts the content with a random key (its
 * defence against padding oracles), which about once in 256 tries passes the CBC
 * padding check and "succeeds" with garbage. */
static uint8_t *decrypt(const uint8_t *der, size_t len, size_t *out_len) {
  char in[512];
  char out[512];
  CHECK(test_write_file(tmp_path(in, sizeof(in), "env.der"), der, len));
  tmp_path(out, sizeof(out), "env.out");
  for (int i = 0; i < 3; i++) {
    const char *argv[] = {OPENSSL, "cms", "-decrypt", "-binary", "-inform", "DER", "-in",
                          in, "-recip", g_certs[i], "-inkey", g_keys[i], "-out", out,
                          NULL};
    if (test_run(argv, g_log) == 0) {
      return test_read_file(out, out_len);
    }
  }
  return NULL;
}

#define MAX_TREES 16

/* walk opens |msg| layer by layer and writes the layers into |layers| in the notation
 * of thunderbird_layers.tsv; |*text_ok| says whether the innermost body contains the
 * corpus's test sentence. */
static void walk(const char *file, uint8_t *msg, size_t len, char *layers, size_t size,
                 int *text_ok) {
  MIME_TREE *trees[MAX_TREES];
  size_t ntrees = 0;
  STATUS err;
  status_clear(&err);
  layers[0] = '\0';
  *text_ok = 0;
  MIME_TREE *t = mime_parse_take(msg, len, NULL, &err);
  CHECK_MSG(t != NULL, "%s: %s", file, err.message);
  trees[ntrees++] = t;
  const MIME_ENTITY *e = mime_tree_root(t);
  for (int depth = 0;; depth++) {
    CHECK_MSG(depth < 8, "%s: too many layers", file);
    MIME_CMS_TYPE declared;
    MIME_SMIME_KIND kind = mime_smime_classify(e, &declared);
    const char *sep = layers[0] == '\0' ? "" : ",";
    size_t used = strlen(layers);
    if (kind == MIME_SMIME_NONE) {
      uint8_t *body = NULL;
      size_t body_len = 0;
      CHECK(mime_entity_decode(e, &body, &body_len, &err));
      *text_ok = test_contains(body, body_len, "This is a test message from Alice to Bob.") ||
                 test_contains(body, body_len, "This is a test message to Fran.");
      free(body);
      snprintf(layers + used, size - used, "%s%s/%s", sep, e->type, e->subtype);
      break;
    }
    if (kind == MIME_SMIME_SIGNED) {
      MIME_SIGNED *s = mime_signed_new(e, &err);
      CHECK_MSG(s != NULL, "%s: %s", file, err.message);
      CHECK(s->canonical_differs || s->canonical == s->content_bytes);
      CHECK(s->micalg != NULL);
      CHECK(mime_smime_sniff(s->signature, s->signature_len) == MIME_CMS_SIGNED_DATA);
      /* The order mime_smime.h documents: canonical first, as received second. */
      int ok = verify_detached(s->canonical, s->canonical_len, s->signature,
                               s->signature_len);
      if (ok && s->canonical_differs) {
        g_lf_canonical++;
      }
      if (!ok && s->canonical_differs) {
        ok = verify_detached(s->content_bytes, s->content_len, s->signature,
                             s->signature_len);
        if (ok) {
          g_lf_as_received++;
        }
      }
      snprintf(layers + used, size - used, "%sdsig:%s", sep, ok ? "ok" : "bad");
      e = s->content;
      mime_signed_free(s);
      continue;
    }
    MIME_PKCS7 *p = mime_pkcs7_new(e, &err);
    CHECK_MSG(p != NULL, "%s: %s", file, err.message);
    CHECK_MSG(p->declared == p->sniffed, "%s: smime-type %s but content %s", file,
              mime_cms_type_name(p->declared), mime_cms_type_name(p->sniffed));
    uint8_t *inner = NULL;
    size_t inner_len = 0;
    if (p->type == MIME_CMS_ENVELOPED_DATA) {
      inner = decrypt(p->der, p->der_len, &inner_len);
      CHECK_MSG(inner != NULL, "%s: openssl cms -decrypt failed (see %s)", file, g_log);
      snprintf(layers + used, size - used, "%senv", sep);
    } else {
      CHECK_MSG(p->type == MIME_CMS_SIGNED_DATA, "%s: %s", file, mime_cms_type_name(p->type));
      int ok;
      inner = opaque_content(p->der, p->der_len, &ok, &inner_len);
      snprintf(layers + used, size - used, "%ssig:%s", sep, ok ? "ok" : "bad");
    }
    mime_pkcs7_free(p);
    CHECK(ntrees < MAX_TREES);
    t = mime_parse_take(inner, inner_len, NULL, &err);
    CHECK_MSG(t != NULL, "%s: %s", file, err.message);
    trees[ntrees++] = t;
    e = mime_tree_root(t);
  }
  for (size_t i = 0; i < ntrees; i++) {
    mime_tree_free(trees[i]);
  }
}

/* lf_only returns a copy of |msg| with every CRLF turned into LF. */
static uint8_t *lf_only(const uint8_t *msg, size_t len, size_t *out_len) {
  uint8_t *out = malloc(len + 1);
  CHECK(out != NULL);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
      continue;
    }
    out[n++] = msg[i];
  }
  *out_len = n;
  return out;
}

/* test_lf_delivery: a good detached signature still verifies when the message was
 * stored with bare LF, over |canonical|, and not over the bytes as received. */
static void test_lf_delivery(const char *file) {
  char path[512];
  snprintf(path, sizeof(path), CORPUS "%s", file);
  size_t len;
  uint8_t *msg = test_read_file(path, &len);
  CHECK(msg != NULL);
  size_t lf_len;
  uint8_t *lf = lf_only(msg, len, &lf_len);
  STATUS err;
  MIME_TREE *t = mime_parse(lf, lf_len, NULL, &err);
  CHECK(t != NULL);
  MIME_SIGNED *s = mime_signed_new(mime_tree_root(t), &err);
  CHECK_MSG(s != NULL, "%s", err.message);
  CHECK(s->canonical_differs);
  CHECK(s->content_len < s->canonical_len);
  CHECK_MSG(verify_detached(s->canonical, s->canonical_len, s->signature, s->signature_len),
            "%s: LF copy does not verify over the canonical form", file);
  CHECK(!verify_detached(s->content_bytes, s->content_len, s->signature, s->signature_len));
  /* The canonical form is exactly the first part of the CRLF original. */
  MIME_TREE *t2 = mime_parse(msg, len, NULL, &err);
  CHECK(t2 != NULL);
  const MIME_ENTITY *first = &mime_tree_root(t2)->children[0];
  CHECK(first->whole.len == s->canonical_len);
  CHECK(memcmp(first->whole.ptr, s->canonical, s->canonical_len) == 0);
  mime_signed_free(s);
  mime_tree_free(t);
  mime_tree_free(t2);
  free(lf);
  free(msg);
}

/* test_corpus walks every message of thunderbird_layers.tsv and checks the layers,
 * and expected.tsv's encrypted/signed/plaintext columns against them. */
static void test_corpus(void) {
  size_t len;
  uint8_t *table = test_read_file(TESTDATA "thunderbird_layers.tsv", &len);
  CHECK(table != NULL);
  size_t exp_len;
  uint8_t *expected = test_read_file(CORPUS "expected.tsv", &exp_len);
  CHECK(expected != NULL);
  int files = 0;
  int tb_rows = 0;
  char *save = NULL;
  for (char *line = strtok_r((char *)table, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') {
      continue;
    }
    char *tab = strchr(line, '\t');
    CHECK(tab != NULL);
    *tab = '\0';
    const char *file = line;
    const char *want = tab + 1;
    char path[512];
    snprintf(path, sizeof(path), CORPUS "%s", file);
    size_t mlen;
    uint8_t *msg = test_read_file(path, &mlen);
    CHECK_MSG(msg != NULL, "cannot read %s", path);
    char got[256];
    int text_ok;
    walk(file, msg, mlen, got, sizeof(got), &text_ok);
    CHECK_MSG(strcmp(got, want) == 0, "%s: layers %s, expected %s", file, got, want);
    files++;

    /* expected.tsv: file encrypted signed good dave plaintext_checked */
    char key[600];
    snprintf(key, sizeof(key), "\n%s\t", file);
    const char *row = strstr((const char *)expected, key);
    if (row != NULL) {
      char enc[8];
      char sig[8];
      char good[8];
      char dave[8];
      char plain[8];
      CHECK(sscanf(row + strlen(key), "%7s %7s %7s %7s %7s", enc, sig, good, dave, plain) == 5);
      if (strcmp(enc, "true") == 0) {
        CHECK_MSG(strstr(got, "env") != NULL, "%s: encrypted but no env layer", file);
      }
      if (strcmp(sig, "true") == 0) {
        CHECK_MSG(strstr(got, "sig:") != NULL, "%s: signed but no signature layer", file);
      }
      if (strcmp(plain, "true") == 0) {
        CHECK_MSG(text_ok, "%s: innermost text lacks the test sentence", file);
      }
      tb_rows++;
    }
  }
  CHECK(files == 78);
  CHECK(tb_rows == 68);
  free(table);
  free(expected);
  printf("corpus: %d messages walked, %d checked against expected.tsv; LF-only signed "
         "contents verified over CRLF form: %d, as received: %d\n",
         files, tb_rows, g_lf_canonical, g_lf_as_received);
}

/* test_classify_shapes: shapes the corpus lacks. */
static void test_classify_shapes(void) {
  static const struct {
    const char *msg;
    MIME_SMIME_KIND kind;
    MIME_CMS_TYPE declared;
  } cases[] = {
      {"Content-Type: application/x-pkcs7-mime; smime-type=enveloped-data\n\nMIA=\n",
       MIME_SMIME_PKCS7, MIME_CMS_ENVELOPED_DATA},
      {"Content-Type: application/pkcs7-mime; smime-type=\"authEnveloped-data\"\n\nx\n",
       MIME_SMIME_PKCS7, MIME_CMS_AUTH_ENVELOPED_DATA},
      {"Content-Type: application/pkcs7-mime; smime-type=CERTS-ONLY\n\nx\n",
       MIME_SMIME_PKCS7, MIME_CMS_CERTS_ONLY},
      {"Content-Type: application/pkcs7-mime\n\nx\n", MIME_SMIME_PKCS7, MIME_CMS_UNKNOWN},
      {"Content-Type: application/octet-stream\nContent-Disposition: attachment;"
       " filename=\"SMIME.P7M\"\n\nx\n",
       MIME_SMIME_PKCS7, MIME_CMS_UNKNOWN},
      {"Content-Type: application/octet-stream; name=certs.p7c\n\nx\n", MIME_SMIME_PKCS7,
       MIME_CMS_CERTS_ONLY},
      {"Content-Type: application/octet-stream; name=smime.p7s\n\nx\n", MIME_SMIME_PKCS7,
       MIME_CMS_UNKNOWN},
      {"Content-Type: application/octet-stream; name=report.pdf\n\nx\n", MIME_SMIME_NONE,
       MIME_CMS_UNKNOWN},
      {"Content-Type: multipart/signed; protocol=\"application/x-pkcs7-signature\";"
       " boundary=b\n\n--b\n\nx\n--b\nContent-Type: text/plain\n\ny\n--b--\n",
       MIME_SMIME_SIGNED, MIME_CMS_UNKNOWN},
      /* Outlook: protocol missing, the second part tells. */
      {"Content-Type: multipart/signed; micalg=SHA1; boundary=b\n\n--b\n\nx\n--b\n"
       "Content-Type: application/x-pkcs7-signature; name=smime.p7s\n\nMIA=\n--b--\n",
       MIME_SMIME_SIGNED, MIME_CMS_UNKNOWN},
      {"Content-Type: multipart/signed; boundary=b\n\n--b\n\nx\n--b\n"
       "Content-Type: application/octet-stream; name=\"smime.p7s\"\n\nMIA=\n--b--\n",
       MIME_SMIME_SIGNED, MIME_CMS_UNKNOWN},
      {"Content-Type: multipart/signed; boundary=b\n\n--b\n\nx\n--b\n"
       "Content-Type: application/pgp-signature\n\nx\n--b--\n",
       MIME_SMIME_NONE, MIME_CMS_UNKNOWN},
      {"Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\n"
       "\n--b\n\nx\n--b\nContent-Type: application/pkcs7-signature\n\nx\n--b--\n",
       MIME_SMIME_NONE, MIME_CMS_UNKNOWN},
      {"Subject: plain\n\nhello\n", MIME_SMIME_NONE, MIME_CMS_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    STATUS err;
    MIME_TREE *t = mime_parse((const uint8_t *)cases[i].msg, strlen(cases[i].msg), NULL, &err);
    CHECK(t != NULL);
    MIME_CMS_TYPE declared = MIME_CMS_DATA;
    CHECK_MSG(mime_smime_classify(mime_tree_root(t), &declared) == cases[i].kind, "case %zu", i);
    CHECK_MSG(declared == cases[i].declared, "case %zu: %d", i, (int)declared);
    mime_tree_free(t);
  }
}

/* test_signed_errors: malformed multipart/signed gives clear errors. */
static void test_signed_errors(void) {
  static const struct {
    const char *msg;
    const char *error;
  } cases[] = {
      {"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
       "boundary=b\n\n--b\n\nx\n--b--\n",
       "has 1 part; RFC 1847 requires two"},
      {"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"\n\nx\n",
       "no usable boundary"},
      {"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
       "boundary=b\n\n--b\n\nx\n--b\nContent-Transfer-Encoding: base64\n\nMIA!\n--b--\n",
       "invalid base64: byte 0x21"},
      {"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
       "boundary=b\n\n--b\n\nx\n--b\nContent-Transfer-Encoding: base64\n\n\n--b--\n",
       "is empty"},
      {"Content-Type: text/plain\n\nx\n", "is not S/MIME multipart/signed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    STATUS err;
    status_clear(&err);
    MIME_TREE *t = mime_parse((const uint8_t *)cases[i].msg, strlen(cases[i].msg), NULL, &err);
    CHECK(t != NULL);
    CHECK(mime_signed_new(mime_tree_root(t), &err) == NULL);
    CHECK(err.code == STATUS_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, cases[i].error) != NULL, "case %zu: %s", i, err.message);
    mime_tree_free(t);
  }
}

/* test_pkcs7_shapes: base64 without a transfer encoding field, binary DER, a
 * mislabelled smime-type, sniffing. */
static void test_pkcs7_shapes(void) {
  static const uint8_t env_der[] = {0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48,
                                    0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0};
  static const uint8_t auth_der[] = {0x30, 0x82, 0x01, 0x00, 0x06, 0x0b, 0x2a, 0x86,
                                     0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01,
                                     0x17, 0xa0};
  CHECK(mime_smime_sniff(env_der, sizeof(env_der)) == MIME_CMS_ENVELOPED_DATA);
  CHECK(mime_smime_sniff(auth_der, sizeof(auth_der)) == MIME_CMS_AUTH_ENVELOPED_DATA);
  CHECK(mime_smime_sniff(env_der, 5) == MIME_CMS_UNKNOWN);
  CHECK(mime_smime_sniff((const uint8_t *)"\x30\x85\x01\x02\x03\x04\x05", 7) == MIME_CMS_UNKNOWN);
  CHECK(mime_smime_sniff(NULL, 0) == MIME_CMS_UNKNOWN);

  uint8_t *b64 = NULL;
  size_t b64_len = 0;
  STATUS err;
  CHECK(mime_base64_encode(env_der, sizeof(env_der), 76, &b64, &b64_len, &err));
  /* Labelled signed-data, no Content-Transfer-Encoding, but base64 enveloped-data. */
  char msg[512];
  snprintf(msg, sizeof(msg),
           "Content-Type: application/pkcs7-mime; smime-type=signed-data\n\n%s", b64);
  MIME_TREE *t = mime_parse((const uint8_t *)msg, strlen(msg), NULL, &err);
  CHECK(t != NULL);
  MIME_PKCS7 *p = mime_pkcs7_new(mime_tree_root(t), &err);
  CHECK(p != NULL);
  CHECK(p->der_len == sizeof(env_der) && memcmp(p->der, env_der, sizeof(env_der)) == 0);
  CHECK(p->declared == MIME_CMS_SIGNED_DATA);
  CHECK(p->sniffed == MIME_CMS_ENVELOPED_DATA);
  CHECK(p->type == MIME_CMS_ENVELOPED_DATA);
  mime_pkcs7_free(p);
  mime_tree_free(t);
  free(b64);

  /* Binary DER body. */
  const char *hdr = "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: binary\n\n";
  size_t hl = strlen(hdr);
  uint8_t bin[256];
  memcpy(bin, hdr, hl);
  memcpy(bin + hl, env_der, sizeof(env_der));
  t = mime_parse(bin, hl + sizeof(env_der), NULL, &err);
  CHECK(t != NULL);
  p = mime_pkcs7_new(mime_tree_root(t), &err);
  CHECK(p != NULL);
  CHECK(p->der_len == sizeof(env_der));
  CHECK(p->type == MIME_CMS_ENVELOPED_DATA && p->declared == MIME_CMS_UNKNOWN);
  mime_pkcs7_free(p);
  mime_tree_free(t);

  /* Garbage that is not base64 in a base64 body: error names the byte. */
  const char *bad = "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n\nMII*\n";
  t = mime_parse((const uint8_t *)bad, strlen(bad), NULL, &err);
  CHECK(t != NULL);
  status_clear(&err);
  CHECK(mime_pkcs7_new(mime_tree_root(t), &err) == NULL);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, "byte 0x2a") != NULL, "%s", err.message);
  mime_tree_free(t);

  /* certs-only stays certs-only. */
  const char *certs = "Content-Type: application/pkcs7-mime; smime-type=certs-only\n"
                      "Content-Transfer-Encoding: base64\n\nMIAGCSqGSIb3DQEHAqCA\n";
  t = mime_parse((const uint8_t *)certs, strlen(certs), NULL, &err);
  CHECK(t != NULL);
  p = mime_pkcs7_new(mime_tree_root(t), &err);
  CHECK(p != NULL);
  CHECK(p->sniffed == MIME_CMS_SIGNED_DATA && p->type == MIME_CMS_CERTS_ONLY);
  mime_pkcs7_free(p);
  mime_tree_free(t);
}

int main(void) {
  setup_keys();
  test_classify_shapes();
  test_signed_errors();
  test_pkcs7_shapes();
  test_corpus();
  static const char *const lf_files[] = {
      "smime/alice.dsig.SHA256.multipart.eml",
      "smime/alice.dsig.SHA512.multipart.eml",
      "smime/alice.plain.dsig.SHA256.multipart.dave.dsig.SHA256.multipart.eml",
  };
  for (size_t i = 0; i < sizeof(lf_files) / sizeof(lf_files[0]); i++) {
    test_lf_delivery(lf_files[i]);
  }
  printf("PASS\n");
  return 0;
}
