/* cert_info.h: what smimed needs to know about one X.509 certificate, read from its
 * DER with BoringSSL: fingerprints, names, serial, mail addresses, validity, key,
 * usages, and whether it is fit for S/MIME. Plain C: no IPC or gRPC types, so that the
 * engine's certificate import and the later CMS code (signer and recipient matching)
 * share it.
 *
 * The input is untrusted (an admin's upload, a certificate carried in a message): every
 * byte is checked; a certificate that cannot be read is refused with INVALID_ARGUMENT
 * and a message saying where the encoding breaks. */
#ifndef SMIMED_X509_CERT_INFO_H
#define SMIMED_X509_CERT_INFO_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* CERT_KEY_* are the key algorithms, numbered as smime.v1.KeyAlgorithm. */
enum {
  CERT_KEY_UNSPECIFIED = 0,
  CERT_KEY_RSA = 1,
  CERT_KEY_EC_P256 = 2,
  CERT_KEY_EC_P384 = 3,
  CERT_KEY_ED25519 = 4,
  CERT_KEY_X25519 = 5,
  CERT_KEY_OTHER = 6,
};

/* CERT_STATUS_* are the statuses this module decides, numbered as
 * smime.v1.CertificateStatus. Expiry depends on when it is read, so it is the
 * caller's (the front's) to compute from not_before and not_after. */
enum {
  CERT_STATUS_VALID = 1,
  CERT_STATUS_NOT_FOR_SMIME = 4,
};

/* CERT_INFO_MAX_DER is the largest certificate read (1 MiB): real ones, even with long
 * address lists, are a few KiB; the cap keeps one certificate's answer (the DER, its
 * names as text and as DER) far below the IPC frame limit. */
#define CERT_INFO_MAX_DER (1024u * 1024u)

/* CERT_INFO_MAX_EMAILS is the most mail addresses read from one certificate. */
#define CERT_INFO_MAX_EMAILS 1000

/* CERT_INFO is one parsed certificate. Every pointer is owned by it (freed by
 * cert_info_free). The *_der fields point into |der|. Strings are NUL-terminated,
 * valid UTF-8 without control characters. */
typedef struct cert_info_st {
  /* der is a copy of the certificate's DER. */
  uint8_t *der;
  size_t der_len;
  uint8_t sha256[32];
  uint8_t sha1[20];
  /* subject and issuer as RFC 4514 strings, most significant RDN last, as
   * `openssl x509 -nameopt RFC2253,-esc_msb` prints them (UTF-8 kept as is). */
  char *subject;
  char *issuer;
  /* serial_hex: lowercase hex of the serial's magnitude, no leading zeros ("0" for 0). */
  char *serial_hex;
  /* emails: SAN rfc822Name then subject emailAddress, lowercased, deduplicated, in
   * certificate order. Only printable ASCII addresses with an '@' are kept. */
  char **emails;
  size_t num_emails;
  /* not_before, not_after: Unix seconds. */
  int64_t not_before;
  int64_t not_after;
  /* key_algorithm: a CERT_KEY_*; key_bits: RSA modulus bits, EC field bits, 256 for
   * Ed25519 and X25519, or what BoringSSL says for others (0 if unknown). */
  int key_algorithm;
  unsigned key_bits;
  /* key_name names the key for messages: "RSA", "EC P-256", "DSA", "EC secp521r1",
   * or the algorithm's name or OID. */
  char key_name[80];
  /* can_sign, can_encrypt: key usage and extended key usage allow signing mail with
   * it / encrypting mail to it, for a key type this service can use (see cert_info.c). */
  int can_sign;
  int can_encrypt;
  /* is_ca: basicConstraints says cA. */
  int is_ca;
  /* status: CERT_STATUS_VALID or CERT_STATUS_NOT_FOR_SMIME; status_reason says which
   * checks failed (joined by "; "), empty when valid. */
  int status;
  char status_reason[512];
  /* subject_der, issuer_der: the Names as DER (tag and length included);
   * serial_der: the content octets of the serial's INTEGER, as encoded. */
  const uint8_t *subject_der;
  size_t subject_der_len;
  const uint8_t *issuer_der;
  size_t issuer_der_len;
  const uint8_t *serial_der;
  size_t serial_der_len;
  /* subject_key_id, authority_key_id: the extensions' key identifiers (NULL, 0 when
   * absent). */
  uint8_t *subject_key_id;
  size_t subject_key_id_len;
  uint8_t *authority_key_id;
  size_t authority_key_id_len;
  /* spki_sha256: SHA-256 of the SubjectPublicKeyInfo DER, equal for a certificate and
   * its private key's public half. */
  uint8_t spki_sha256[32];
  /* refs: the holders of this CERT_INFO (cert_info_ref adds one, cert_info_free drops
   * one and frees at the last); cert_info_new returns it with one. */
  int refs;
} CERT_INFO;

/* cert_info_new parses the |der_len| bytes at |der|, which must be exactly one DER
 * certificate, and returns its CERT_INFO. On failure returns NULL and fills |err|:
 * INVALID_ARGUMENT "not a valid X.509 certificate (...)" (or naming the extension or
 * time that is malformed), RESOURCE_EXHAUSTED over CERT_INFO_MAX_DER or
 * CERT_INFO_MAX_EMAILS or out of memory. The message does not say which input it was:
 * the caller prefixes that ("PEM block 2 (CERTIFICATE): ..."). A certificate that
 * parses but is unfit for S/MIME is a success, with status NOT_FOR_SMIME. */
CERT_INFO *cert_info_new(const uint8_t *der, size_t der_len, STATUS *err);

/* cert_info_free drops a reference to |info|, and frees it and everything it owns at
 * the last. Accepts NULL. */
void cert_info_free(CERT_INFO *info);

/* cert_info_ref adds a reference to |info| (a CERT_INFO does not change once made, so
 * holders may share it, also across threads) and returns it. */
CERT_INFO *cert_info_ref(CERT_INFO *info);

/* CERT_OUTLINE is what a certificate's DER structure says without decoding an
 * extension or a key: for callers that need only a name or the validity of each of
 * several certificates (cert_info_new costs some thirty times more: BoringSSL's X509
 * parser, extension decoding, printing names). */
typedef struct cert_outline_st {
  /* issuer_der: the issuer Name, tag and length included, pointing into the DER. */
  const uint8_t *issuer_der;
  size_t issuer_der_len;
  /* not_before, not_after: Unix seconds. */
  int64_t not_before;
  int64_t not_after;
} CERT_OUTLINE;

/* cert_outline fills |out| from the |der_len| bytes at |der| after checking their
 * structure as cert_info_new does, with the same errors (BoringSSL's parser is not run:
 * a certificate outlined here may still be refused by cert_info_new). */
int cert_outline(const uint8_t *der, size_t der_len, CERT_OUTLINE *out, STATUS *err);

#endif /* SMIMED_X509_CERT_INFO_H */
