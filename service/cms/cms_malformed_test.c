/* cms_malformed_test: hostile input. Every file of testdata/malformed/ (made by
 * testdata/make_malformed.py: truncations of real messages, random bytes, lying
 * lengths, wrong OIDs, deep nesting) must give a clean error or a not-valid /
 * not-decrypted result from every parser, and random mutations of real messages must
 * never crash. Built with -fsanitize=address,undefined over the library sources, which
 * also checks a signing and an enveloping round trip for leaks and memory errors. */
#include <dirent.h>
#include <string.h>

#include <openssl/mem.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_envelope.h"
#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_sign.h"
#include "service/cms/cms_sniff.h"
#include "service/cms/cms_test_util.h"
#include "service/cms/cms_verify.h"

static EVP_PKEY *keys[3];
static uint8_t *certs[3];
static size_t cert_lens[3];

/* load_keys extracts Bob's and Fran's keys (NSS PKCS#12) with the OpenSSL CLI. */
static void load_keys(void) {
  static const char *kP12[] = {"smime/Bob.p12", "smime-interop/Fran.p12",
                               "smime-interop/Fran-ec.p12"};
  for (int i = 0; i < 3; i++) {
    char rel[256];
    snprintf(rel, sizeof(rel), "service/cms/testdata/thunderbird/%s", kP12[i]);
    CHECK(test_run("openssl pkcs12 -in '%s' -nodes -passin pass:nss -nocerts -out '%s' "
                   "2>/dev/null",
                   test_runfile(rel), test_path(test_workdir(), "k.pem")) == 0);
    keys[i] = test_load_key(test_path(test_workdir(), "k.pem"));
    CHECK(test_run("openssl pkcs12 -in '%s' -passin pass:nss -nokeys -clcerts -out '%s' "
                   "2>/dev/null",
                   test_runfile(rel), test_path(test_workdir(), "c.pem")) == 0);
    test_load_cert(test_path(test_workdir(), "c.pem"), &certs[i], &cert_lens[i]);
  }
}

/* bytes_equal says whether two CMS_BYTES hold the same bytes. */
static int bytes_equal(const CMS_BYTES *a, const CMS_BYTES *b) {
  return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* check_outline: cms_verify_outline accepts and refuses what cms_verify does, with the
 * same error, and reports the same signers (identifiers, algorithms, signing times;
 * UNCHECKED where cms_verify got as far as the cryptography), certificates and content.
 * |res| is cms_verify's result, NULL when it refused with |err|. */
static void check_outline(const uint8_t *in, size_t len, int detached,
                          const CMS_VERIFY_RESULT *res, const STATUS *err) {
  CMS_VERIFY_RESULT *o = NULL;
  STATUS oerr;
  int ok = cms_verify_outline(in, len, detached ? (const uint8_t *)"x" : NULL,
                              detached ? 1 : 0, &o, &oerr);
  CHECK(ok == (res != NULL));
  if (!ok) {
    CHECK(oerr.code == err->code && strcmp(oerr.message, err->message) == 0);
    return;
  }
  CHECK(o->num_signers == res->num_signers && o->num_certs == res->num_certs);
  CHECK(o->has_content == res->has_content && bytes_equal(&o->content, &res->content));
  for (size_t i = 0; i < res->num_certs; i++) {
    CHECK(bytes_equal(&o->certs[i], &res->certs[i]));
  }
  for (size_t i = 0; i < res->num_signers; i++) {
    const CMS_SIGNER_RESULT *a = &o->signers[i], *b = &res->signers[i];
    CHECK(bytes_equal(&a->sid_issuer, &b->sid_issuer) &&
          bytes_equal(&a->sid_serial, &b->sid_serial) && bytes_equal(&a->sid_ski, &b->sid_ski));
    CHECK(a->md == b->md && a->sig_scheme == b->sig_scheme && a->sig_md == b->sig_md);
    CHECK(a->has_signing_time == b->has_signing_time && a->signing_time == b->signing_time);
    int checked = b->status == CMS_SIGNER_VALID || b->status == CMS_SIGNER_INVALID ||
                  b->status == CMS_SIGNER_NO_CERT ||
                  (b->status == CMS_SIGNER_UNSUPPORTED && b->cert.len > 0);
    CHECK(checked ? a->status == CMS_SIGNER_UNCHECKED : a->status == b->status);
  }
  cms_verify_result_free(o);
}

/* exercise runs every parser over |in|. With |strict|, nothing may verify as valid or
 * decrypt. Returns 1 if some parser accepted the structure (for the statistics). */
static int exercise(const uint8_t *in, size_t len, int strict, int try_keys) {
  STATUS err;
  CMS_VERIFY_RESULT *res = NULL;
  CMS_ENVELOPE *env = NULL;
  int accepted = 0;
  (void)cms_sniff(in, len);
  for (int detached = 0; detached <= 1; detached++) {
    res = NULL;
    if (cms_verify(in, len, detached ? (const uint8_t *)"x" : NULL, detached ? 1 : 0, NULL, 0,
                   &res, &err)) {
      CHECK(res != NULL && res->num_signers > 0);
      for (size_t i = 0; i < res->num_signers; i++) {
        int s = res->signers[i].status;
        CHECK(s >= CMS_SIGNER_VALID && s <= CMS_SIGNER_UNSUPPORTED);
        CHECK(!strict || s != CMS_SIGNER_VALID);
      }
      accepted = 1;
      check_outline(in, len, detached, res, &err);
      cms_verify_result_free(res);
    } else {
      CHECK(res == NULL);
      CHECK(err.code == STATUS_INVALID_ARGUMENT || err.code == STATUS_RESOURCE_EXHAUSTED);
      check_outline(in, len, detached, NULL, &err);
    }
  }
  if (cms_envelope_parse(in, len, &env, &err)) {
    accepted = 1;
    for (size_t i = 0; i < env->num_recipients; i++) {
      CMS_UNWRAP_REQUEST req;
      if (!cms_envelope_unwrap_request(env, i, &req, &err)) {
        CHECK(err.code == STATUS_UNIMPLEMENTED);
        continue;
      }
      for (int k = 0; k < 3 && try_keys; k++) {
        uint8_t cek[CMS_MAX_CEK_LEN], *plain = NULL;
        size_t plain_len = 0;
        if (!cms_keystore_unwrap_cek(keys[k], &req, cek, &err)) {
          CHECK(err.code == STATUS_DATA_LOSS || err.code == STATUS_INVALID_ARGUMENT);
          continue;
        }
        if (cms_envelope_decrypt(env, cek, req.cek_len, &plain, &plain_len, &err)) {
          CHECK(!strict);
          OPENSSL_free(plain);
        } else {
          CHECK(plain == NULL);
          CHECK(err.code == STATUS_DATA_LOSS || err.code == STATUS_UNIMPLEMENTED);
        }
      }
    }
    cms_envelope_free(env);
  } else {
    CHECK(env == NULL);
    CHECK(err.code == STATUS_INVALID_ARGUMENT || err.code == STATUS_RESOURCE_EXHAUSTED);
  }
  return accepted;
}

static void test_corpus(void) {
  const char *dir = test_runfile("service/cms/testdata/malformed");
  DIR *d = opendir(dir);
  struct dirent *e;
  int files = 0, accepted = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    uint8_t *data;
    size_t len;
    test_read(test_path(dir, e->d_name), &data, &len);
    int ok = exercise(data, len, 1, 1);
    /* Only signer- or recipient-level defects may parse: an unknown algorithm OID. */
    if (ok && strncmp(e->d_name, "oid-", 4) != 0) {
      fprintf(stderr, "%s parsed\n", e->d_name);
      CHECK(0);
    }
    accepted += ok;
    files++;
    free(data);
  }
  closedir(d);
  CHECK(files >= 50);
  printf("malformed corpus: %d files, all rejected cleanly (%d reached signer/recipient "
         "level and were reported as not valid)\n",
         files, accepted);
}

/* eml_body reads a testdata .eml whose body is one base64 CMS blob. */
static void eml_body(const char *name, uint8_t **out, size_t *out_len) {
  char rel[256];
  uint8_t *data;
  size_t len;
  snprintf(rel, sizeof(rel), "service/cms/testdata/thunderbird/%s", name);
  test_read(test_runfile(rel), &data, &len);
  const char *body = strstr((const char *)data, "\r\n\r\n");
  size_t skip = 4;
  if (body == NULL) {
    body = strstr((const char *)data, "\n\n");
    skip = 2;
  }
  CHECK(body != NULL);
  body += skip;
  test_base64(body, len - (size_t)(body - (const char *)data), out, out_len);
  free(data);
}

/* test_mutations flips, truncates and splices real messages at random (fixed seed). */
static void test_mutations(void) {
  static const char *kSources[] = {"smime/alice.sig.SHA256.opaque.eml", "smime/alice.env.eml",
                                   "smime-interop/fran-ec_ossl-aes256-sha512.env",
                                   "smime-interop/fran-oaep-sha256hash-sha256mgf_ossl.env"};
  uint32_t seed = 5652;
  int runs = 0;
  for (size_t s = 0; s < 4; s++) {
    uint8_t *orig;
    size_t len;
    eml_body(kSources[s], &orig, &len);
    /* The untouched message parses (sanity of the harness). */
    CHECK(exercise(orig, len, 0, 0));
    uint8_t *buf = malloc(len + 16);
    CHECK(buf != NULL);
    for (int i = 0; i < 1500; i++) {
      size_t n = len;
      memcpy(buf, orig, len);
      int flips = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 4;
      for (int f = 0; f < flips; f++) {
        seed = seed * 1103515245 + 12345;
        size_t at = (seed >> 8) % len;
        seed = seed * 1103515245 + 12345;
        buf[at] = (seed >> 16) % 3 == 0 ? (uint8_t)(seed >> 8) : (uint8_t)(buf[at] ^ (1u << ((seed >> 20) % 8)));
      }
      if (i % 5 == 0) {
        seed = seed * 1103515245 + 12345;
        n = (seed >> 8) % len;
      }
      /* Keys only now and then: RSA private operations are slow under ASan. */
      exercise(buf, n, 0, i % 50 == 0);
      runs++;
    }
    free(buf);
    free(orig);
  }
  printf("mutations: %d inputs, no crash\n", runs);
}

/* test_round_trips signs (RSA PKCS#1, PSS, ECDSA; detached and opaque) and envelopes
 * (CBC and GCM, OAEP and ECDH) under the sanitizers, and opens the results. */
static void test_round_trips(void) {
  static const char kMsg[] = "Content-Type: text/plain\r\n\r\nround trip\r\n";
  STATUS err;
  for (int k = 0; k < 3; k++) {
    for (int opaque = 0; opaque <= 1; opaque++) {
      CMS_SIGN_OPTIONS opts = {k == 2 ? CMS_MD_SHA384 : CMS_MD_SHA256, k == 1, opaque, 0};
      CMS_SIGN_REQUEST *req = NULL;
      uint8_t *sig, *der;
      size_t sig_len, der_len;
      CHECK(cms_sign_prepare((const uint8_t *)kMsg, strlen(kMsg), &opts, certs[k],
                             cert_lens[k], NULL, 0, 1700000000, &req, &err));
      CHECK(cms_keystore_sign(keys[k], req->scheme, req->md, req->digest, req->digest_len,
                              &sig, &sig_len, &err));
      CHECK(cms_sign_finish(req->state, req->state_len, (const uint8_t *)kMsg, strlen(kMsg),
                            sig, sig_len, &der, &der_len, &err));
      CMS_VERIFY_RESULT *res = NULL;
      CHECK(cms_verify(der, der_len, opaque ? NULL : (const uint8_t *)kMsg,
                       opaque ? 0 : strlen(kMsg), NULL, 0, &res, &err));
      CHECK(res->signers[0].status == CMS_SIGNER_VALID);
      cms_verify_result_free(res);
      OPENSSL_free(der);
      OPENSSL_free(sig);
      cms_sign_request_free(req);
    }
  }
  static const int kCiphers[] = {CMS_CIPHER_AES256_CBC, CMS_CIPHER_AES128_GCM};
  for (int c = 0; c < 2; c++) {
    /* (These NSS test certificates have no extensions, so no SKI recipients here.) */
    CMS_RECIPIENT r[3] = {{certs[0], cert_lens[0], CMS_KEY_RSA_OAEP, CMS_MD_SHA256, 0},
                          {certs[1], cert_lens[1], 0, 0, 0},
                          {certs[2], cert_lens[2], 0, 0, 0}};
    CMS_ENVELOPE_OPTIONS opts = {kCiphers[c]};
    uint8_t *der;
    size_t der_len;
    CHECK(cms_envelope((const uint8_t *)kMsg, strlen(kMsg), r, 3, &opts, &der, &der_len, &err));
    CMS_ENVELOPE *env = NULL;
    CHECK(cms_envelope_parse(der, der_len, &env, &err));
    CHECK(env->num_recipients == 3);
    for (int k = 0; k < 3; k++) {
      /* RecipientInfos are a DER SET OF: sorted, not in the order given. */
      size_t i = 0;
      while (i < 3 && !cms_recipient_matches_cert(env, i, certs[k], cert_lens[k])) {
        i++;
      }
      CHECK(i < 3);
      CMS_UNWRAP_REQUEST req;
      uint8_t cek[CMS_MAX_CEK_LEN], *plain;
      size_t plain_len;
      CHECK(cms_envelope_unwrap_request(env, i, &req, &err));
      CHECK(cms_keystore_unwrap_cek(keys[k], &req, cek, &err));
      CHECK(cms_envelope_decrypt(env, cek, req.cek_len, &plain, &plain_len, &err));
      CHECK(plain_len == strlen(kMsg) && memcmp(plain, kMsg, plain_len) == 0);
      OPENSSL_free(plain);
    }
    cms_envelope_free(env);
    OPENSSL_free(der);
  }
  printf("round trips under the sanitizers: 6 signatures, 2 envelopes x 3 recipients\n");
}

int main(void) {
  load_keys();
  test_round_trips();
  test_corpus();
  test_mutations();
  for (int i = 0; i < 3; i++) {
    EVP_PKEY_free(keys[i]);
    free(certs[i]);
  }
  printf("PASS\n");
  return 0;
}
