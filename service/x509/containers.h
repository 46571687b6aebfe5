/* containers.h: split an uploaded certificate file into DER certificates, and say what
 * format it was. Accepted:
 *   - PEM: any number of CERTIFICATE, X509 CERTIFICATE, TRUSTED CERTIFICATE (OpenSSL's
 *     certificate-plus-trust form: only the certificate is taken) and PKCS7 blocks, with
 *     any text around them. Private key blocks (PRIVATE KEY, RSA PRIVATE KEY,
 *     EC PRIVATE KEY, ENCRYPTED PRIVATE KEY, DSA PRIVATE KEY) are noted, never decoded;
 *     other blocks (CRLs, requests, ...) are skipped.
 *   - one DER certificate;
 *   - a PKCS#7 SignedData certificate bundle (.p7b/.p7c), DER or BER (indefinite
 *     lengths), or as a PEM PKCS7 block;
 *   - PKCS#12 (.p12/.pfx): recognised only (a SEQUENCE of INTEGER 3 and a ContentInfo);
 *     nothing in it is read here, since it carries a private key and needs a password.
 * Certificates are only framed here, not parsed: cert_info_new reads each one.
 *
 * The input is untrusted: any byte string gives either a CERT_FILE or INVALID_ARGUMENT
 * with a message naming the format problem and where it is (or RESOURCE_EXHAUSTED over
 * the limits). */
#ifndef SMIMED_X509_CONTAINERS_H
#define SMIMED_X509_CONTAINERS_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* CERT_FILE_MAX_CERTS is the most certificates one file may hold. */
#define CERT_FILE_MAX_CERTS 10000

/* CERT_FILE_FORMAT_* are the values of CERT_FILE.format (the IPC's format strings). */
#define CERT_FILE_FORMAT_PEM "pem"
#define CERT_FILE_FORMAT_DER "der"
#define CERT_FILE_FORMAT_PKCS7 "pkcs7"
#define CERT_FILE_FORMAT_PKCS12 "pkcs12"

/* CERT_FILE_ENTRY is one certificate of a file: its DER (not yet checked beyond its
 * outer framing) and where it was, for messages ("PEM block 2 (CERTIFICATE)",
 * "PKCS#7 certificate 3", "PEM block 1 (PKCS7), certificate 2", "the DER
 * certificate"). */
typedef struct cert_file_entry_st {
  uint8_t *der;
  size_t der_len;
  char where[80];
} CERT_FILE_ENTRY;

/* CERT_FILE is what cert_file_parse found. */
typedef struct cert_file_st {
  /* format is one of CERT_FILE_FORMAT_*: "pkcs7" for a DER bundle and for PEM holding
   * only PKCS7 blocks; "pem" for any other PEM. */
  const char *format;
  /* contains_private_key: a PEM file also holds a private key block. */
  int contains_private_key;
  /* certs in file order (PKCS#7: in the bundle's order). Empty only for "pkcs12". */
  CERT_FILE_ENTRY *certs;
  size_t num_certs;
  /* certs_cap is how many |certs| has room for (internal). */
  size_t certs_cap;
} CERT_FILE;

/* cert_file_parse splits the |len| bytes at |data|. Returns NULL and fills |err| when
 * they are not one of the formats above, hold no certificate (PKCS#12 aside), or hold
 * more than CERT_FILE_MAX_CERTS. */
CERT_FILE *cert_file_parse(const uint8_t *data, size_t len, STATUS *err);

/* cert_file_free frees |f| and its certificates. Accepts NULL. */
void cert_file_free(CERT_FILE *f);

#endif /* SMIMED_X509_CONTAINERS_H */
