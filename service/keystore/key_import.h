/* key_import.h: reads a private key from a file an admin uploads, in the formats
 * users have, and checks that it is one the service can use. Runs in smime-keystore
 * only (the one process that may see private keys, DESIGN.md section 2).
 *
 * Formats (found by content, not by name):
 *   - PEM, blocks anywhere among other text: "PRIVATE KEY" (PKCS#8), "ENCRYPTED
 *     PRIVATE KEY" (encrypted PKCS#8), "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY"
 *     (SEC1), the last two also with OpenSSL's legacy "Proc-Type: 4,ENCRYPTED"
 *     headers; "CERTIFICATE", "X509 CERTIFICATE" and "TRUSTED CERTIFICATE" blocks are
 *     returned as certificates; "EC PARAMETERS" and other blocks are skipped.
 *   - DER: PKCS#8 PrivateKeyInfo, encrypted PKCS#8 (every scheme of
 *     service/pkcs12/pbe.h), PKCS#1 RSAPrivateKey, SEC1 ECPrivateKey, or PKCS#12
 *     (service/pkcs12/pkcs12.h; BER as NSS writes it), whose certificates are returned.
 * A file must hold one private key (the same key twice is fine).
 *
 * Keys accepted: RSA of KEY_IMPORT_MIN_RSA_BITS to KEY_IMPORT_MAX_RSA_BITS bits
 * (RSA_check_key must pass), EC on P-256 or P-384 (EC_KEY_check_key: the public point
 * is on the curve and matches the private key), Ed25519 and X25519. Everything else is
 * refused by name (DSA, other curves, Ed448, RSASSA-PSS-only keys, ...).
 *
 * Every failure is INVALID_ARGUMENT with a message a person can act on (see
 * key_import_parse), except over-size input (RESOURCE_EXHAUSTED) and out of memory.
 * No message ever holds key material. */
#ifndef SMIMED_KEYSTORE_KEY_IMPORT_H
#define SMIMED_KEYSTORE_KEY_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>

#include "service/common/status.h"

/* KEY_IMPORT_MAX_DATA caps the file: a PKCS#12 with a long chain is ~50 KiB. */
#define KEY_IMPORT_MAX_DATA (4u * 1024u * 1024u)

/* KEY_IMPORT_MAX_CERTS caps the certificates returned from one file. */
#define KEY_IMPORT_MAX_CERTS 1000u

/* KEY_IMPORT_MIN_RSA_BITS: below it an RSA key is refused as too weak (RFC 8551). */
#define KEY_IMPORT_MIN_RSA_BITS 2048u

/* KEY_IMPORT_MAX_RSA_BITS: above it an RSA key is refused as too large. DESIGN.md
 * promises 2048-4096; larger keys (up to 8192) are accepted too, because some
 * organisations have them and BoringSSL signs with them (slowly: about 30/s). */
#define KEY_IMPORT_MAX_RSA_BITS 8192u

/* KEY_ALG_* are smime.v1.KeyAlgorithm's numbers. */
enum {
  KEY_ALG_RSA = 1,
  KEY_ALG_EC_P256 = 2,
  KEY_ALG_EC_P384 = 3,
  KEY_ALG_ED25519 = 4,
  KEY_ALG_X25519 = 5,
};

/* KEY_IMPORT is one parsed and checked private key, with the certificates its file
 * carried. Fields are read-only for callers. */
typedef struct key_import_st {
  EVP_PKEY *pkey;
  /* key_algorithm is a KEY_ALG_*; key_bits is EVP_PKEY_bits (RSA modulus size, EC
   * field size, 253 for Ed25519 and X25519 as BoringSSL counts them). */
  uint32_t key_algorithm;
  uint32_t key_bits;
  /* spki_sha256 is SHA-256 of the DER SubjectPublicKeyInfo of the key's public part
   * (as EVP_marshal_public_key writes it: the same bytes as in a certificate for the
   * key, for RSA with NULL parameters and EC with a named curve and uncompressed
   * point, which is what CAs issue). */
  uint8_t spki_sha256[32];
  /* format names what was read, for logs: "PKCS#12", "PEM PKCS#8", "DER PKCS#1"... */
  const char *format;
  /* certs are the DER certificates found in a PKCS#12 file or among PEM blocks, in
   * file order, without duplicates. */
  uint8_t **certs;
  size_t *cert_lens;
  size_t num_certs;
} KEY_IMPORT;

/* key_import_parse reads the private key in |data| (|len| bytes) with |password|
 * (UTF-8, NUL-terminated; "" for none; ignored when the key is not encrypted).
 * Returns a KEY_IMPORT, or NULL with |err| filled. Messages include:
 *   "wrong password for the encrypted private key"
 *   "wrong password for the PKCS#12 file"
 *   "the private key is encrypted: give its password"
 *   "the PKCS#12 file is encrypted: give its password"
 *   "RSA key of 1024 bits is too weak; at least 2048 are required"
 *   "RSA key of 16384 bits is too large; at most 8192 are supported"
 *   "DSA private keys are not supported; use RSA or EC (P-256, P-384)"
 *   "EC private keys on curve P-521 are not supported; use P-256 or P-384"
 *   "the data is a certificate, not a private key; import it with ImportCertificates"
 *   "the PEM data holds no private key (blocks found: CERTIFICATE)"
 *   "the data is not a private key: neither PEM nor DER (PKCS#8, encrypted PKCS#8,
 *    PKCS#1, SEC1) nor PKCS#12" */
KEY_IMPORT *key_import_parse(const uint8_t *data, size_t len, const char *password,
                             STATUS *err);

/* key_import_free frees |ki| and its key. Accepts NULL. */
void key_import_free(KEY_IMPORT *ki);

/* key_import_matches_certificate returns 1 when the X.509 certificate |der| (|len|
 * bytes) holds the public key of |ki|, 0 when it does not or cannot be parsed. Only
 * the certificate's SubjectPublicKeyInfo is read: the engine has parsed and checked
 * the rest. */
int key_import_matches_certificate(const KEY_IMPORT *ki, const uint8_t *der, size_t len);

#endif /* SMIMED_KEYSTORE_KEY_IMPORT_H */
