/* key_import.c: see key_import.h. */
#include "service/keystore/key_import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "service/pkcs12/pbe.h"
#include "service/pkcs12/pkcs12.h"

/* KEY_IMPORT_MAX_PEM_BLOCKS caps the PEM blocks read from one file. */
#define KEY_IMPORT_MAX_PEM_BLOCKS (KEY_IMPORT_MAX_CERTS + 16u)

static const char kNotAKey[] =
    "the data is not a private key: neither PEM nor DER (PKCS#8, encrypted PKCS#8, "
    "PKCS#1, SEC1) nor PKCS#12";
static const char kUseRsaOrEc[] = "use RSA or EC (P-256, P-384)";

/* IMPORT is the state of one key_import_parse. */
typedef struct import_st {
  KEY_IMPORT *ki;
  const char *password;
  size_t password_len;
  PBE_BUDGET budget;
  STATUS *err;
} IMPORT;

/* invalid fills |err| with INVALID_ARGUMENT and returns 0. */
static int invalid(STATUS *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int invalid(STATUS *err, const char *fmt, ...) {
  char msg[sizeof(err->message)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return status_set(err, STATUS_INVALID_ARGUMENT, "%s", msg);
}

static int no_memory(STATUS *err) {
  return status_set(err, STATUS_RESOURCE_EXHAUSTED, "keystore out of memory");
}

void key_import_free(KEY_IMPORT *ki) {
  if (ki == NULL) {
    return;
  }
  EVP_PKEY_free(ki->pkey);
  for (size_t i = 0; i < ki->num_certs; i++) {
    free(ki->certs[i]);
  }
  free(ki->certs);
  free(ki->cert_lens);
  free(ki);
}

/* add_cert keeps a copy of the certificate |der|, once. */
static int add_cert(IMPORT *im, const uint8_t *der, size_t len) {
  KEY_IMPORT *ki = im->ki;
  for (size_t i = 0; i < ki->num_certs; i++) {
    if (ki->cert_lens[i] == len && memcmp(ki->certs[i], der, len) == 0) {
      return 1;
    }
  }
  if (ki->num_certs >= KEY_IMPORT_MAX_CERTS) {
    return invalid(im->err, "the file holds more than %u certificates",
                   KEY_IMPORT_MAX_CERTS);
  }
  uint8_t **certs = realloc(ki->certs, (ki->num_certs + 1) * sizeof(uint8_t *));
  if (certs == NULL) {
    return no_memory(im->err);
  }
  ki->certs = certs;
  size_t *lens = realloc(ki->cert_lens, (ki->num_certs + 1) * sizeof(size_t));
  if (lens == NULL) {
    return no_memory(im->err);
  }
  ki->cert_lens = lens;
  uint8_t *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) {
    return no_memory(im->err);
  }
  memcpy(copy, der, len);
  ki->certs[ki->num_certs] = copy;
  ki->cert_lens[ki->num_certs] = len;
  ki->num_certs++;
  return 1;
}

/* add_key takes |pkey|, read as |format|: the file's key, unless it already gave a
 * different one. */
static int add_key(IMPORT *im, EVP_PKEY *pkey, const char *format) {
  KEY_IMPORT *ki = im->ki;
  if (ki->pkey == NULL) {
    ki->pkey = pkey;
    ki->format = format;
    return 1;
  }
  int same = EVP_PKEY_cmp(ki->pkey, pkey) == 1;
  EVP_PKEY_free(pkey);
  if (!same) {
    return invalid(im->err,
                   "the file holds more than one private key; import them one at a time");
  }
  return 1;
}

/* curve_name names the curve OID |oid| for a message. */
static void curve_name(const CBS *oid, char *buf, size_t buf_len) {
  static const struct {
    const char *oid;
    const char *name;
  } kCurves[] = {
      {"1.3.132.0.10", "secp256k1"},
      {"1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"},
      {"1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"},
      {"1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"},
  };
  int nid = OBJ_cbs2nid(oid);
  const char *name = nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
  if (name == NULL && nid != NID_undef) {
    name = OBJ_nid2sn(nid);
  }
  if (name != NULL) {
    snprintf(buf, buf_len, "%s", name);
    return;
  }
  char *text = CBS_asn1_oid_to_text(oid);
  snprintf(buf, buf_len, "%s", text != NULL ? text : "(invalid)");
  for (size_t i = 0; text != NULL && i < sizeof(kCurves) / sizeof(kCurves[0]); i++) {
    if (strcmp(text, kCurves[i].oid) == 0) {
      snprintf(buf, buf_len, "%s", kCurves[i].name);
    }
  }
  OPENSSL_free(text);
}

/* check_curve_params refuses EC parameters naming a curve other than P-256 and P-384
 * before BoringSSL sees them, so that the message names the curve. Explicit
 * parameters are left to BoringSSL, which accepts them only for a curve it knows. */
static int check_curve_params(IMPORT *im, const CBS *params) {
  CBS p = *params;
  CBS oid;
  if (!CBS_get_asn1(&p, &oid, CBS_ASN1_OBJECT)) {
    return 1;
  }
  int nid = OBJ_cbs2nid(&oid);
  if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1) {
    return 1;
  }
  char name[64];
  curve_name(&oid, name, sizeof(name));
  return invalid(
      im->err, "EC private keys on curve %s are not supported; use P-256 or P-384", name);
}

/* check_pkcs8_algorithm refuses, by name, algorithms we do not take, before parsing. */
static int check_pkcs8_algorithm(IMPORT *im, const CBS *der) {
  CBS pki = *der;
  CBS seq;
  CBS alg;
  CBS oid;
  if (!CBS_get_asn1(&pki, &seq, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&seq, NULL, CBS_ASN1_INTEGER) ||
      !CBS_get_asn1(&seq, &alg, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&alg, &oid, CBS_ASN1_OBJECT)) {
    return invalid(im->err, "malformed PKCS#8 private key");
  }
  int nid = OBJ_cbs2nid(&oid);
  switch (nid) {
    case NID_rsaEncryption:
    case NID_ED25519:
    case NID_X25519:
      return 1;
    case NID_X9_62_id_ecPublicKey:
      return check_curve_params(im, &alg);
    case NID_dsa:
      return invalid(im->err, "DSA private keys are not supported; %s", kUseRsaOrEc);
    case NID_rsassaPss:
      return invalid(im->err,
                     "RSASSA-PSS (id-RSASSA-PSS) private keys are not supported; use an "
                     "rsaEncryption RSA key (it signs with PSS too)");
    case NID_ED448:
      return invalid(im->err, "Ed448 private keys are not supported; %s", kUseRsaOrEc);
    case NID_X448:
      return invalid(im->err, "X448 private keys are not supported; %s", kUseRsaOrEc);
    case NID_dhKeyAgreement:
      return invalid(im->err, "DH private keys are not supported; %s", kUseRsaOrEc);
    default: {
      char name[128];
      const char *sn = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
      char *text = sn == NULL ? CBS_asn1_oid_to_text(&oid) : NULL;
      snprintf(name, sizeof(name), "%s",
               sn != NULL     ? sn
               : text != NULL ? text
                              : "unknown");
      OPENSSL_free(text);
      return invalid(im->err, "private keys of algorithm %s are not supported; %s", name,
                     kUseRsaOrEc);
    }
  }
}

/* parse_pkcs8 reads the PrivateKeyInfo DER that is all of |der|. */
static int parse_pkcs8(IMPORT *im, const uint8_t *der, size_t len, const char *format) {
  CBS cbs;
  CBS_init(&cbs, der, len);
  if (!check_pkcs8_algorithm(im, &cbs)) {
    return 0;
  }
  EVP_PKEY *pkey = EVP_parse_private_key(&cbs);
  if (pkey == NULL || CBS_len(&cbs) != 0) {
    EVP_PKEY_free(pkey);
    return invalid(im->err, "malformed or inconsistent private key (%s)", format);
  }
  return add_key(im, pkey, format);
}

/* parse_pkcs1 reads the RSAPrivateKey DER that is all of |der|. |decrypted| says
 * that it came out of a password decryption, where a failure means a wrong
 * password. */
static int parse_pkcs1(IMPORT *im, const uint8_t *der, size_t len, const char *format,
                       int decrypted) {
  CBS cbs;
  CBS_init(&cbs, der, len);
  RSA *rsa = RSA_parse_private_key(&cbs);
  EVP_PKEY *pkey = NULL;
  if (rsa == NULL || CBS_len(&cbs) != 0) {
    RSA_free(rsa);
    if (decrypted) {
      return invalid(im->err, "wrong password for the encrypted private key");
    }
    return invalid(im->err, "malformed or inconsistent RSA private key (%s)", format);
  }
  pkey = EVP_PKEY_new();
  if (pkey == NULL || !EVP_PKEY_assign_RSA(pkey, rsa)) {
    RSA_free(rsa);
    EVP_PKEY_free(pkey);
    return no_memory(im->err);
  }
  return add_key(im, pkey, format);
}

/* parse_sec1 reads the ECPrivateKey DER that is all of |der| (see parse_pkcs1). */
static int parse_sec1(IMPORT *im, const uint8_t *der, size_t len, const char *format,
                      int decrypted) {
  CBS cbs;
  CBS seq;
  CBS params;
  int present = 0;
  CBS_init(&cbs, der, len);
  /* parse_sec1 looks at the [0] parameters first, to name an unsupported curve. */
  CBS peek = cbs;
  if (CBS_get_asn1(&peek, &seq, CBS_ASN1_SEQUENCE) &&
      CBS_get_asn1(&seq, NULL, CBS_ASN1_INTEGER) &&
      CBS_get_asn1(&seq, NULL, CBS_ASN1_OCTETSTRING) &&
      CBS_get_optional_asn1(&seq, &params, &present,
                            CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0) &&
      present && !check_curve_params(im, &params)) {
    return 0;
  }
  EC_KEY *ec = EC_KEY_parse_private_key(&cbs, NULL);
  EVP_PKEY *pkey = NULL;
  if (ec == NULL || CBS_len(&cbs) != 0) {
    EC_KEY_free(ec);
    if (decrypted) {
      return invalid(im->err, "wrong password for the encrypted private key");
    }
    return invalid(im->err, "malformed EC private key (%s)", format);
  }
  pkey = EVP_PKEY_new();
  if (pkey == NULL || !EVP_PKEY_assign_EC_KEY(pkey, ec)) {
    EC_KEY_free(ec);
    EVP_PKEY_free(pkey);
    return no_memory(im->err);
  }
  return add_key(im, pkey, format);
}

/* parse_encrypted_pkcs8 decrypts an EncryptedPrivateKeyInfo and reads the key. */
static int parse_encrypted_pkcs8(IMPORT *im, const uint8_t *der, size_t len,
                                 const char *format) {
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  int rc = pbe_decrypt_private_key_info(der, len, im->password, im->password_len,
                                        &im->budget, &plain, &plain_len, im->err);
  if (rc == P12_ERR_WRONG_PASSWORD) {
    if (im->password_len == 0) {
      return invalid(im->err, "the private key is encrypted: give its password");
    }
    return invalid(im->err, "wrong password for the encrypted private key");
  }
  if (rc != P12_OK) {
    char msg[sizeof(im->err->message)];
    snprintf(msg, sizeof(msg), "%s", im->err->message);
    return status_set(im->err, im->err->code, "encrypted private key: %s", msg);
  }
  int ok = parse_pkcs8(im, plain, plain_len, format);
  pbe_secret_free(plain, plain_len);
  return ok;
}

/* parse_pkcs12 reads a PKCS#12 file: its key and its certificates. */
static int parse_pkcs12(IMPORT *im, const uint8_t *data, size_t len) {
  P12_CONTENTS *c = NULL;
  int ok = 0;
  if (p12_parse(data, len, im->password, im->password_len, &c, im->err) != P12_OK) {
    return 0;
  }
  for (size_t i = 0; i < p12_contents_num_certs(c); i++) {
    size_t cert_len;
    const uint8_t *cert = p12_contents_cert(c, i, &cert_len);
    if (!add_cert(im, cert, cert_len)) {
      goto out;
    }
  }
  if (p12_contents_num_keys(c) == 0) {
    invalid(im->err,
            "the PKCS#12 file holds no private key (%zu certificates); import it with "
            "ImportCertificates",
            p12_contents_num_certs(c));
    goto out;
  }
  for (size_t i = 0; i < p12_contents_num_keys(c); i++) {
    size_t key_len;
    const uint8_t *key = p12_contents_key(c, i, &key_len);
    if (!parse_pkcs8(im, key, key_len, "PKCS#12")) {
      goto out;
    }
  }
  ok = 1;

out:
  p12_contents_free(c);
  return ok;
}

/* count_integers counts the INTEGERs that make up all of |seq|; -1 if anything
 * else is there. */
static int count_integers(CBS seq) {
  int n = 0;
  while (CBS_len(&seq) > 0) {
    if (!CBS_get_asn1(&seq, NULL, CBS_ASN1_INTEGER)) {
      return -1;
    }
    n++;
  }
  return n;
}

/* parse_der tells the DER kinds apart by their first elements and reads the one
 * |data| is. */
static int parse_der(IMPORT *im, const uint8_t *data, size_t len) {
  CBS cbs;
  CBS der;
  CBS seq;
  uint8_t *storage = NULL;
  const uint8_t *elem = NULL;
  size_t elem_len = 0;
  int ok = 0;
  if (p12_looks_like_pfx(data, len)) {
    return parse_pkcs12(im, data, len);
  }
  CBS_init(&cbs, data, len);
  if (!CBS_peek_asn1_tag(&cbs, CBS_ASN1_SEQUENCE)) {
    return invalid(im->err, "%s", kNotAKey);
  }
  if (pbe_ber_to_der(&cbs, &der, &storage) != P12_OK) {
    return invalid(im->err, "the DER data is truncated or malformed (%zu bytes)", len);
  }
  if (CBS_len(&cbs) != 0) {
    invalid(im->err, "%zu bytes of trailing data after the DER private key",
            CBS_len(&cbs));
    goto out;
  }
  elem = CBS_data(&der);
  elem_len = CBS_len(&der);
  if (!CBS_get_asn1(&der, &seq, CBS_ASN1_SEQUENCE)) {
    invalid(im->err, "%s", kNotAKey);
    goto out;
  }
  /* parse_der peeks before each get: a CBS_get_* that fails on the tag has already
   * consumed the element. */
  CBS rest = seq;
  uint64_t version;
  if (CBS_peek_asn1_tag(&rest, CBS_ASN1_INTEGER)) {
    if (!CBS_get_asn1_uint64(&rest, &version)) {
      invalid(im->err, "%s", kNotAKey);
      goto out;
    }
    if (version <= 1 && CBS_peek_asn1_tag(&rest, CBS_ASN1_SEQUENCE)) {
      ok = parse_pkcs8(im, elem, elem_len, "DER PKCS#8");
    } else if (version == 0 && CBS_peek_asn1_tag(&rest, CBS_ASN1_INTEGER)) {
      /* parse_der: RSAPrivateKey has 9 INTEGERs, OpenSSL's DSA key 6. */
      if (count_integers(seq) == 6) {
        invalid(im->err, "DSA private keys are not supported; %s", kUseRsaOrEc);
      } else {
        ok = parse_pkcs1(im, elem, elem_len, "DER PKCS#1", 0);
      }
    } else if (version == 1 && CBS_peek_asn1_tag(&rest, CBS_ASN1_OCTETSTRING)) {
      ok = parse_sec1(im, elem, elem_len, "DER SEC1", 0);
    } else {
      invalid(im->err, "%s", kNotAKey);
    }
    goto out;
  }
  if (CBS_get_asn1(&rest, NULL, CBS_ASN1_SEQUENCE)) {
    if (CBS_peek_asn1_tag(&rest, CBS_ASN1_OCTETSTRING)) {
      ok = parse_encrypted_pkcs8(im, elem, elem_len, "DER encrypted PKCS#8");
    } else if (CBS_peek_asn1_tag(&rest, CBS_ASN1_SEQUENCE)) {
      invalid(im->err,
              "the data is a certificate, not a private key; import it with "
              "ImportCertificates");
    } else {
      invalid(im->err, "%s", kNotAKey);
    }
    goto out;
  }
  invalid(im->err, "%s", kNotAKey);

out:
  /* parse_der wipes the DER copy BER input needed: it held the key. */
  pbe_secret_free(storage, elem_len);
  return ok;
}

/* pem_password hands the password to PEM_do_header. */
static int pem_password(char *buf, int size, int rwflag, void *u) {
  (void)rwflag;
  const IMPORT *im = u;
  if (im->password_len > (size_t)size) {
    return -1;
  }
  memcpy(buf, im->password, im->password_len);
  return (int)im->password_len;
}

/* parse_legacy_pem reads an "RSA/EC PRIVATE KEY" block, decrypting it first when
 * its headers say so (OpenSSL's traditional format: DEK-Info, EVP_BytesToKey). */
static int parse_legacy_pem(IMPORT *im, const char *name, char *header, uint8_t *data,
                            long len) {
  int is_rsa = strcmp(name, "RSA PRIVATE KEY") == 0;
  int encrypted = header != NULL && strstr(header, "ENCRYPTED") != NULL;
  const char *format = is_rsa ? (encrypted ? "PEM encrypted PKCS#1" : "PEM PKCS#1")
                              : (encrypted ? "PEM encrypted SEC1" : "PEM SEC1");
  if (encrypted) {
    EVP_CIPHER_INFO cipher;
    if (!PEM_get_EVP_CIPHER_INFO(header, &cipher)) {
      return invalid(im->err,
                     "the %s block is encrypted with a cipher this service does not "
                     "read; convert it with: openssl pkcs8 -topk8",
                     name);
    }
    if (im->password_len == 0) {
      return invalid(im->err, "the private key is encrypted: give its password");
    }
    if (!PEM_do_header(&cipher, data, &len, pem_password, im)) {
      return invalid(im->err, "wrong password for the encrypted private key");
    }
  }
  if (is_rsa) {
    return parse_pkcs1(im, data, (size_t)len, format, encrypted);
  }
  return parse_sec1(im, data, (size_t)len, format, encrypted);
}

/* parse_pem_cert keeps the certificate of a CERTIFICATE-like block; a TRUSTED
 * CERTIFICATE carries OpenSSL's trust settings after it. */
static int parse_pem_cert(IMPORT *im, const char *name, const uint8_t *data, long len) {
  CBS cbs;
  CBS cert;
  CBS_init(&cbs, data, (size_t)len);
  if (!CBS_get_asn1_element(&cbs, &cert, CBS_ASN1_SEQUENCE) ||
      (strcmp(name, "TRUSTED CERTIFICATE") != 0 && CBS_len(&cbs) != 0)) {
    return invalid(im->err, "a PEM %s block is not a DER certificate", name);
  }
  return add_cert(im, CBS_data(&cert), CBS_len(&cert));
}

/* parse_pem_block reads one PEM block; |others| collects the names of blocks that
 * are neither keys nor certificates, for the message when no key turns up. */
static int parse_pem_block(IMPORT *im, const char *name, char *header, uint8_t *data,
                           long len, char *others, size_t others_len) {
  int encrypted_header = header != NULL && strstr(header, "ENCRYPTED") != NULL;
  if (strcmp(name, "PRIVATE KEY") == 0) {
    if (encrypted_header) {
      return invalid(im->err,
                     "a PEM PRIVATE KEY block with encryption headers is not "
                     "valid PKCS#8; use ENCRYPTED PRIVATE KEY");
    }
    return parse_pkcs8(im, data, (size_t)len, "PEM PKCS#8");
  }
  if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0) {
    return parse_encrypted_pkcs8(im, data, (size_t)len, "PEM encrypted PKCS#8");
  }
  if (strcmp(name, "RSA PRIVATE KEY") == 0 || strcmp(name, "EC PRIVATE KEY") == 0) {
    return parse_legacy_pem(im, name, header, data, len);
  }
  if (strcmp(name, "DSA PRIVATE KEY") == 0) {
    return invalid(im->err, "DSA private keys are not supported; %s", kUseRsaOrEc);
  }
  if (strcmp(name, "OPENSSH PRIVATE KEY") == 0) {
    return invalid(im->err,
                   "OpenSSH private keys are not supported; convert with: ssh-keygen -p "
                   "-m PKCS8 -f FILE");
  }
  if (strcmp(name, "CERTIFICATE") == 0 || strcmp(name, "X509 CERTIFICATE") == 0 ||
      strcmp(name, "TRUSTED CERTIFICATE") == 0) {
    return parse_pem_cert(im, name, data, len);
  }
  /* parse_pem_block skips EC PARAMETERS (openssl ecparam -genkey writes them before
   * the key) and anything else, but remembers the name. */
  size_t used = strlen(others);
  snprintf(others + used, others_len - used, "%s%s", used > 0 ? ", " : "", name);
  return 1;
}

/* parse_pem reads every PEM block of |data|. */
static int parse_pem(IMPORT *im, const uint8_t *data, size_t len) {
  int ok = 0;
  size_t blocks = 0;
  size_t certs_before = im->ki->num_certs;
  char others[256] = "";
  BIO *bio = BIO_new_mem_buf(data, (ssize_t)len);
  if (bio == NULL) {
    return no_memory(im->err);
  }
  ERR_clear_error();
  for (;;) {
    char *name = NULL;
    char *header = NULL;
    uint8_t *block = NULL;
    long block_len = 0;
    if (!PEM_read_bio(bio, &name, &header, &block, &block_len)) {
      uint32_t e = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        break;
      }
      invalid(im->err,
              "malformed PEM block after %zu good ones (bad base64, or no END line)",
              blocks);
      goto out;
    }
    int block_ok = 1;
    if (++blocks > KEY_IMPORT_MAX_PEM_BLOCKS) {
      block_ok = invalid(im->err, "the PEM data holds more than %u blocks",
                         KEY_IMPORT_MAX_PEM_BLOCKS);
    } else {
      block_ok =
          parse_pem_block(im, name, header, block, block_len, others, sizeof(others));
    }
    /* parse_pem wipes the decoded block: it may be a private key. */
    OPENSSL_cleanse(block, (size_t)block_len);
    OPENSSL_free(block);
    OPENSSL_free(header);
    OPENSSL_free(name);
    if (!block_ok) {
      goto out;
    }
  }
  if (im->ki->pkey == NULL) {
    size_t certs = im->ki->num_certs - certs_before;
    if (blocks == 0) {
      invalid(im->err, "the PEM data holds no complete block");
    } else if (certs > 0) {
      invalid(im->err,
              "the PEM data holds no private key (blocks found: CERTIFICATE x%zu%s%s); "
              "import certificates with ImportCertificates",
              certs, others[0] != '\0' ? ", " : "", others);
    } else {
      invalid(im->err, "the PEM data holds no private key (blocks found: %s)", others);
    }
    goto out;
  }
  ok = 1;

out:
  BIO_free(bio);
  return ok;
}

/* is_one_ber_element says whether |data| is exactly one BER SEQUENCE. */
static int is_one_ber_element(const uint8_t *data, size_t len) {
  CBS cbs;
  CBS der;
  uint8_t *storage = NULL;
  CBS_init(&cbs, data, len);
  if (!CBS_peek_asn1_tag(&cbs, CBS_ASN1_SEQUENCE) ||
      pbe_ber_to_der(&cbs, &der, &storage) != P12_OK) {
    return 0;
  }
  pbe_secret_free(storage, CBS_len(&der));
  return CBS_len(&cbs) == 0;
}

/* looks_like_pem says whether |data| is PEM: it has a BEGIN line and is not a DER
 * structure (in which those bytes could occur by chance). */
static int looks_like_pem(const uint8_t *data, size_t len) {
  static const char kBegin[] = "-----BEGIN ";
  if (p12_looks_like_pfx(data, len) || is_one_ber_element(data, len)) {
    return 0;
  }
  return memmem(data, len, kBegin, sizeof(kBegin) - 1) != NULL;
}

/* check_key accepts the algorithms and sizes of key_import.h and fills in |ki|'s
 * description of the key. */
static int check_key(KEY_IMPORT *ki, STATUS *err) {
  EVP_PKEY *pkey = ki->pkey;
  switch (EVP_PKEY_id(pkey)) {
    case EVP_PKEY_RSA: {
      const RSA *rsa = EVP_PKEY_get0_RSA(pkey);
      unsigned bits = RSA_bits(rsa);
      if (bits < KEY_IMPORT_MIN_RSA_BITS) {
        return invalid(err, "RSA key of %u bits is too weak; at least %u are required",
                       bits, KEY_IMPORT_MIN_RSA_BITS);
      }
      if (bits > KEY_IMPORT_MAX_RSA_BITS) {
        return invalid(err, "RSA key of %u bits is too large; at most %u are supported",
                       bits, KEY_IMPORT_MAX_RSA_BITS);
      }
      if (RSA_check_key(rsa) != 1) {
        return invalid(err,
                       "the RSA private key is inconsistent (its numbers do not fit "
                       "together): the file is damaged");
      }
      ki->key_algorithm = KEY_ALG_RSA;
      break;
    }
    case EVP_PKEY_EC: {
      const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(pkey);
      int nid = EC_GROUP_get_curve_name(EC_KEY_get0_group(ec));
      if (nid == NID_X9_62_prime256v1) {
        ki->key_algorithm = KEY_ALG_EC_P256;
      } else if (nid == NID_secp384r1) {
        ki->key_algorithm = KEY_ALG_EC_P384;
      } else {
        const char *name = EC_curve_nid2nist(nid);
        return invalid(
            err, "EC private keys on curve %s are not supported; use P-256 or P-384",
            name != NULL              ? name
            : OBJ_nid2sn(nid) != NULL ? OBJ_nid2sn(nid)
                                      : "unknown");
      }
      if (EC_KEY_get0_public_key(ec) == NULL || EC_KEY_check_key(ec) != 1) {
        return invalid(err,
                       "the EC private key does not match its public point: the file is "
                       "damaged");
      }
      break;
    }
    case EVP_PKEY_ED25519:
      ki->key_algorithm = KEY_ALG_ED25519;
      break;
    case EVP_PKEY_X25519:
      ki->key_algorithm = KEY_ALG_X25519;
      break;
    case EVP_PKEY_DSA:
      return invalid(err, "DSA private keys are not supported; %s", kUseRsaOrEc);
    default: {
      const char *sn = OBJ_nid2sn(EVP_PKEY_id(pkey));
      return invalid(err, "private keys of algorithm %s are not supported; %s",
                     sn != NULL ? sn : "unknown", kUseRsaOrEc);
    }
  }
  ki->key_bits = (uint32_t)EVP_PKEY_bits(pkey);
  return 1;
}

/* hash_spki sets ki->spki_sha256. */
static int hash_spki(KEY_IMPORT *ki, STATUS *err) {
  CBB cbb;
  uint8_t *spki = NULL;
  size_t spki_len = 0;
  if (!CBB_init(&cbb, 600) || !EVP_marshal_public_key(&cbb, ki->pkey) ||
      !CBB_finish(&cbb, &spki, &spki_len)) {
    CBB_cleanup(&cbb);
    return status_set(err, STATUS_INTERNAL, "cannot encode the key's public part");
  }
  SHA256(spki, spki_len, ki->spki_sha256);
  OPENSSL_free(spki);
  return 1;
}

KEY_IMPORT *key_import_parse(const uint8_t *data, size_t len, const char *password,
                             STATUS *err) {
  IMPORT im;
  memset(&im, 0, sizeof(im));
  if (len == 0) {
    invalid(err, "the private key data is empty");
    return NULL;
  }
  if (len > KEY_IMPORT_MAX_DATA) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED,
               "the private key file has %zu bytes; at most %u are accepted", len,
               KEY_IMPORT_MAX_DATA);
    return NULL;
  }
  im.password = password != NULL ? password : "";
  im.password_len = strlen(im.password);
  if (im.password_len > PBE_MAX_PASSWORD_LEN) {
    invalid(err, "the password is longer than %u bytes", PBE_MAX_PASSWORD_LEN);
    return NULL;
  }
  im.err = err;
  pbe_budget_init(&im.budget);
  im.ki = calloc(1, sizeof(KEY_IMPORT));
  if (im.ki == NULL) {
    no_memory(err);
    return NULL;
  }
  int ok =
      looks_like_pem(data, len) ? parse_pem(&im, data, len) : parse_der(&im, data, len);
  if (!ok || !check_key(im.ki, err) || !hash_spki(im.ki, err)) {
    goto err;
  }
  ERR_clear_error();
  return im.ki;

err:
  ERR_clear_error();
  key_import_free(im.ki);
  return NULL;
}

int key_import_matches_certificate(const KEY_IMPORT *ki, const uint8_t *der, size_t len) {
  CBS cbs;
  CBS cert;
  CBS tbs;
  CBS spki;
  CBS_init(&cbs, der, len);
  /* key_import_matches_certificate walks to the SubjectPublicKeyInfo: version [0]
   * (optional), serialNumber, signature, issuer, validity, subject. */
  if (!CBS_get_asn1(&cbs, &cert, CBS_ASN1_SEQUENCE) || CBS_len(&cbs) != 0 ||
      !CBS_get_asn1(&cert, &tbs, CBS_ASN1_SEQUENCE) ||
      !CBS_get_optional_asn1(&tbs, NULL, NULL,
                             CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_INTEGER) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&tbs, NULL, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1_element(&tbs, &spki, CBS_ASN1_SEQUENCE)) {
    return 0;
  }
  EVP_PKEY *pub = EVP_parse_public_key(&spki);
  int match = pub != NULL && CBS_len(&spki) == 0 && EVP_PKEY_cmp(ki->pkey, pub) == 1;
  EVP_PKEY_free(pub);
  ERR_clear_error();
  return match;
}
