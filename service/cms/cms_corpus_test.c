/* cms_corpus_test: real messages from Thunderbird's test corpus (NSS and OpenSSL
 * output; testdata/thunderbird/SOURCE.md) parse, verify and decrypt with this library,
 * layer by layer, with the results the corpus README states. A small MIME reader here
 * (test-only) unwraps multipart/signed and application/pkcs7-mime. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/mem.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_keystore_ops.h"
#include "service/cms/cms_sniff.h"
#include "service/cms/cms_test_util.h"
#include "service/cms/cms_verify.h"

/* LAYER is what one S/MIME layer gave. */
typedef struct {
  int signed_layer; /* 1 signed, 0 enveloped */
  int status;       /* CMS_SIGNER_* of the first signer, or 1 = decrypted */
  int md;
  char reason[256];
  int64_t signing_time;
} LAYER;

typedef struct {
  EVP_PKEY *key;    /* the recipient's key */
  uint8_t *cert;    /* and certificate */
  size_t cert_len;
  LAYER layers[8];
  size_t num_layers;
  char leaf[512];   /* the innermost entity's body, start */
} OPENED;

/* to_crlf returns |in| with every bare LF made CRLF (MIME canonical form). */
static uint8_t *to_crlf(const uint8_t *in, size_t len, size_t *out_len) {
  uint8_t *out = malloc(2 * len + 1);
  size_t n = 0;
  CHECK(out != NULL);
  for (size_t i = 0; i < len; i++) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) {
      out[n++] = '\r';
    }
    out[n++] = in[i];
  }
  out[n] = 0;
  *out_len = n;
  return out;
}

/* find returns the first |needle| in |hay|, or NULL. */
static const uint8_t *find(const uint8_t *hay, size_t len, const char *needle) {
  return memmem(hay, len, needle, strlen(needle));
}

/* content_type copies the (unfolded, lower-cased) Content-Type value of the header
 * block [in, in + hlen) into |out|. */
static void content_type(const uint8_t *in, size_t hlen, char *out, size_t out_size) {
  size_t n = 0;
  out[0] = 0;
  for (size_t i = 0; i + 13 <= hlen; i++) {
    if ((i == 0 || in[i - 1] == '\n') && strncasecmp((const char *)in + i, "Content-Type:", 13) == 0) {
      for (size_t j = i + 13; j < hlen && n + 1 < out_size; j++) {
        if (in[j] == '\r' || in[j] == '\n') {
          if (j + 2 < hlen && in[j] == '\r' && (in[j + 2] == ' ' || in[j + 2] == '\t')) {
            j++;
            continue;
          }
          break;
        }
        out[n++] = (char)tolower(in[j]);
      }
      out[n] = 0;
      return;
    }
  }
}

static void open_entity(OPENED *o, const uint8_t *in, size_t len, int depth);

/* open_cms opens one CMS blob and recurses into its content. */
static void open_cms(OPENED *o, const uint8_t *der, size_t der_len, const uint8_t *detached,
                     size_t detached_len, int depth) {
  STATUS err;
  CHECK(o->num_layers < 8);
  LAYER *layer = &o->layers[o->num_layers++];
  int type = cms_sniff(der, der_len);
  if (type == CMS_TYPE_SIGNED_DATA) {
    CMS_VERIFY_RESULT *res = NULL;
    if (!cms_verify(der, der_len, detached, detached_len, NULL, 0, &res, &err)) {
      fprintf(stderr, "verify: %s\n", err.message);
      CHECK(0);
    }
    layer->signed_layer = 1;
    layer->status = res->signers[0].status;
    layer->md = res->signers[0].md;
    layer->signing_time = res->signers[0].signing_time;
    snprintf(layer->reason, sizeof(layer->reason), "%s", res->signers[0].reason);
    CHECK(res->num_certs >= 1 && res->signers[0].cert.len > 0);
    if (detached != NULL) {
      open_entity(o, detached, detached_len, depth + 1);
    } else {
      CHECK(res->has_content);
      open_entity(o, res->content.data, res->content.len, depth + 1);
    }
    cms_verify_result_free(res);
    return;
  }
  CHECK(type == CMS_TYPE_ENVELOPED_DATA || type == CMS_TYPE_AUTH_ENVELOPED_DATA);
  CMS_ENVELOPE *env = NULL;
  if (!cms_envelope_parse(der, der_len, &env, &err)) {
    fprintf(stderr, "parse: %s\n", err.message);
    CHECK(0);
  }
  layer->signed_layer = 0;
  for (size_t i = 0; i < env->num_recipients; i++) {
    CMS_UNWRAP_REQUEST req;
    uint8_t cek[CMS_MAX_CEK_LEN], *plain;
    size_t plain_len;
    if (!cms_recipient_matches_cert(env, i, o->cert, o->cert_len)) {
      continue;
    }
    if (!cms_envelope_unwrap_request(env, i, &req, &err) ||
        !cms_keystore_unwrap_cek(o->key, &req, cek, &err) ||
        !cms_envelope_decrypt(env, cek, req.cek_len, &plain, &plain_len, &err)) {
      fprintf(stderr, "decrypt: %s\n", err.message);
      CHECK(0);
    }
    layer->status = 1;
    open_entity(o, plain, plain_len, depth + 1);
    OPENSSL_free(plain);
    break;
  }
  CHECK(layer->status == 1);
  cms_envelope_free(env);
}

/* open_entity reads one MIME entity (headers, blank line, body). */
static void open_entity(OPENED *o, const uint8_t *in0, size_t len0, int depth) {
  char ct[512], delim[256];
  size_t len;
  CHECK(depth < 8);
  uint8_t *in = to_crlf(in0, len0, &len);
  const uint8_t *hend = find(in, len, "\r\n\r\n");
  const uint8_t *eol = find(in, len, "\r\n");
  if (hend == NULL || eol == NULL || memchr(in, ':', (size_t)(eol - in)) == NULL) {
    /* Not a MIME entity (OpenSSL's test messages encrypt bare text): a leaf. */
    snprintf(o->leaf, sizeof(o->leaf), "%.*s", (int)(len < 500 ? len : 500), (const char *)in);
    free(in);
    return;
  }
  size_t hlen = (size_t)(hend - in) + 2;
  const uint8_t *body = hend + 4;
  size_t body_len = len - (size_t)(body - in);
  content_type(in, hlen, ct, sizeof(ct));
  if (strstr(ct, "multipart/signed") != NULL) {
    const char *b = strstr(ct, "boundary=\"");
    CHECK(b != NULL);
    b += 10;
    const char *e = strchr(b, '"');
    CHECK(e != NULL);
    /* The boundary's case matters: take it from the original header. */
    const uint8_t *orig = find(in, hlen, "oundary=\"");
    CHECK(orig != NULL);
    snprintf(delim, sizeof(delim), "--%.*s", (int)(e - b), (const char *)orig + 9);
    const uint8_t *p1 = find(body, body_len, delim);
    CHECK(p1 != NULL);
    p1 += strlen(delim) + 2;
    char crlf_delim[260];
    snprintf(crlf_delim, sizeof(crlf_delim), "\r\n%s", delim);
    const uint8_t *p1_end = find(p1, len - (size_t)(p1 - in), crlf_delim);
    CHECK(p1_end != NULL);
    const uint8_t *p2 = p1_end + strlen(crlf_delim) + 2;
    const uint8_t *p2_end = find(p2, len - (size_t)(p2 - in), crlf_delim);
    CHECK(p2_end != NULL);
    const uint8_t *sig_body = find(p2, (size_t)(p2_end - p2), "\r\n\r\n");
    CHECK(sig_body != NULL);
    sig_body += 4;
    uint8_t *der;
    size_t der_len;
    test_base64((const char *)sig_body, (size_t)(p2_end - sig_body), &der, &der_len);
    open_cms(o, der, der_len, p1, (size_t)(p1_end - p1), depth);
    free(der);
  } else if (strstr(ct, "pkcs7-mime") != NULL) {
    uint8_t *der;
    size_t der_len;
    test_base64((const char *)body, body_len, &der, &der_len);
    open_cms(o, der, der_len, NULL, 0, depth);
    free(der);
  } else {
    snprintf(o->leaf, sizeof(o->leaf), "%.*s", (int)(body_len < 500 ? body_len : 500),
             (const char *)body);
  }
  free(in);
}

/* load_p12 extracts a key and certificate from an NSS PKCS#12 file with OpenSSL. */
static void load_p12(OPENED *o, const char *p12) {
  const char *dir = test_workdir();
  CHECK(test_run("openssl pkcs12 -in '%s' -nodes -passin pass:nss -nocerts -out '%s' "
                 "2>/dev/null && openssl pkcs12 -in '%s' -passin pass:nss -nokeys -clcerts "
                 "-out '%s' 2>/dev/null",
                 test_runfile(p12), test_path(dir, "p12.key"), test_runfile(p12),
                 test_path(dir, "p12.pem")) == 0);
  o->key = test_load_key(test_path(dir, "p12.key"));
  test_load_cert(test_path(dir, "p12.pem"), &o->cert, &o->cert_len);
}

/* open_file opens testdata/thunderbird/|name| with the key of |p12|. */
static void open_file(OPENED *o, const char *name) {
  char path[512];
  uint8_t *data;
  size_t len;
  o->num_layers = 0;
  o->leaf[0] = 0;
  memset(o->layers, 0, sizeof(o->layers));
  snprintf(path, sizeof(path), "service/cms/testdata/thunderbird/%s", name);
  test_read(test_runfile(path), &data, &len);
  open_entity(o, data, len, 0);
  free(data);
}

static void test_smime(void) {
  static const char *kHashes[] = {"SHA1", "SHA256", "SHA384", "SHA512"};
  static const int kMds[] = {CMS_MD_SHA1, CMS_MD_SHA256, CMS_MD_SHA384, CMS_MD_SHA512};
  static const char kText[] = "This is a test message from Alice to Bob.";
  OPENED o;
  char name[256];
  int files = 0;
  memset(&o, 0, sizeof(o));
  load_p12(&o, "service/cms/testdata/thunderbird/smime/Bob.p12");
  for (size_t h = 0; h < 4; h++) {
    /* Clear-signed (detached BER), good: valid with the right hash (SHA-1 is valid
     * cryptographically; the caller reports weak_algorithm). */
    snprintf(name, sizeof(name), "smime/alice.dsig.%s.multipart.eml", kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 1 && o.layers[0].signed_layer);
    CHECK(o.layers[0].status == CMS_SIGNER_VALID && o.layers[0].md == kMds[h]);
    CHECK(strstr(o.leaf, kText) != NULL);
    /* Body altered after signing, and an embedded content that differs: invalid. */
    snprintf(name, sizeof(name), "smime/alice.dsig.%s.multipart.bad.eml", kHashes[h]);
    open_file(&o, name);
    CHECK(o.layers[0].status == CMS_SIGNER_INVALID);
    snprintf(name, sizeof(name), "smime/alice.dsig.%s.multipart.mismatch-econtent.eml",
             kHashes[h]);
    open_file(&o, name);
    CHECK(o.layers[0].status == CMS_SIGNER_INVALID);
    /* Opaque signed (BER, chunked eContent). */
    snprintf(name, sizeof(name), "smime/alice.sig.%s.opaque.eml", kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 1 && o.layers[0].status == CMS_SIGNER_VALID);
    CHECK(o.layers[0].md == kMds[h] && strstr(o.leaf, kText) != NULL);
    /* Signed, then enveloped to Bob: decrypts, then verifies. */
    snprintf(name, sizeof(name), "smime/alice.dsig.%s.multipart.env.eml", kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 2 && !o.layers[0].signed_layer && o.layers[0].status == 1);
    CHECK(o.layers[1].status == CMS_SIGNER_VALID && strstr(o.leaf, kText) != NULL);
    snprintf(name, sizeof(name), "smime/alice.sig.%s.opaque.env.eml", kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 2 && o.layers[1].status == CMS_SIGNER_VALID);
    CHECK(strstr(o.leaf, kText) != NULL);
    /* Dave's signature around Alice's: each layer verifies on its own. */
    snprintf(name, sizeof(name), "smime/alice.plain.sig.%s.opaque.dave.sig.%s.opaque.eml",
             kHashes[h], kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 2 && o.layers[0].status == CMS_SIGNER_VALID &&
          o.layers[1].status == CMS_SIGNER_VALID);
    snprintf(name, sizeof(name),
             "smime/alice.plain.dsig.%s.multipart.dave.dsig.%s.multipart.eml", kHashes[h],
             kHashes[h]);
    open_file(&o, name);
    CHECK(o.num_layers == 2 && o.layers[0].status == CMS_SIGNER_VALID &&
          o.layers[1].status == CMS_SIGNER_VALID);
    CHECK(strstr(o.leaf, kText) != NULL);
    files += 7;
  }
  open_file(&o, "smime/alice.env.eml");
  CHECK(o.num_layers == 1 && o.layers[0].status == 1 && strstr(o.leaf, kText) != NULL);
  /* The "future" message: cryptographically valid; its signing time is reported. */
  open_file(&o, "smime/alice.future.dsig.SHA256.multipart.eml");
  CHECK(o.layers[0].status == CMS_SIGNER_VALID && o.layers[0].signing_time > 1769000000);
  files += 2;
  EVP_PKEY_free(o.key);
  free(o.cert);
  printf("Thunderbird smime/: %d messages\n", files);
}

static void test_interop(void) {
  static const char *kRsa[] = {"fran-oaep_ossl.env", "fran-oaep-label_ossl.env",
                               "fran-oaep-sha256hash_ossl.env",
                               "fran-oaep-sha256hash-sha256mgf_ossl.env"};
  static const char *kEc[] = {"fran-ec_ossl-aes128-sha256.env", "fran-ec_ossl-aes256-sha512.env"};
  OPENED o;
  char name[256];
  memset(&o, 0, sizeof(o));
  load_p12(&o, "service/cms/testdata/thunderbird/smime-interop/Fran.p12");
  for (size_t i = 0; i < 4; i++) {
    snprintf(name, sizeof(name), "smime-interop/%s", kRsa[i]);
    open_file(&o, name);
    CHECK(o.num_layers == 1 && o.layers[0].status == 1);
    CHECK(strstr(o.leaf, "This is a test message to Fran.") != NULL);
  }
  EVP_PKEY_free(o.key);
  free(o.cert);
  memset(&o, 0, sizeof(o));
  load_p12(&o, "service/cms/testdata/thunderbird/smime-interop/Fran-ec.p12");
  for (size_t i = 0; i < 2; i++) {
    snprintf(name, sizeof(name), "smime-interop/%s", kEc[i]);
    open_file(&o, name);
    CHECK(o.num_layers == 1 && o.layers[0].status == 1);
    CHECK(strstr(o.leaf, "This is a test message to Fran.") != NULL);
  }
  EVP_PKEY_free(o.key);
  free(o.cert);
  printf("Thunderbird smime-interop/: 6 messages\n");
}

int main(void) {
  test_smime();
  test_interop();
  printf("PASS\n");
  return 0;
}
