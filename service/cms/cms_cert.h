/* cms_cert.h: the fields of an X.509 certificate that CMS refers to (issuer and serial
 * number, subject key identifier, public key), read with CBS from the DER so that
 * issuer names compare byte for byte as senders copy them. Internal to service/cms. */
#ifndef SMIMED_CMS_CERT_H
#define SMIMED_CMS_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>
#include <openssl/evp.h>

/* CMS_CERT points into a certificate's DER, which must outlive it. */
typedef struct cms_cert_st {
  CBS der;    /* the whole Certificate element */
  CBS issuer; /* the issuer Name element, tag included */
  CBS serial; /* the serialNumber INTEGER contents */
  CBS spki;   /* the SubjectPublicKeyInfo element */
  CBS ski;    /* the subjectKeyIdentifier keyIdentifier contents; empty if absent */
} CMS_CERT;

/* cms_cert_parse fills |out| from the DER certificate |der|; returns 0 if it is not
 * one (trailing data included). */
int cms_cert_parse(CMS_CERT *out, const uint8_t *der, size_t len);

/* cms_cert_public_key returns the certificate's public key (free with EVP_PKEY_free),
 * or NULL when BoringSSL does not support the key type or the key is malformed. */
EVP_PKEY *cms_cert_public_key(const CMS_CERT *cert);

/* cms_add_issuer_serial writes the IssuerAndSerialNumber of |cert|. */
int cms_add_issuer_serial(CBB *cbb, const CMS_CERT *cert);

/* cms_get_issuer_serial reads an IssuerAndSerialNumber: the issuer Name element and
 * the serial INTEGER contents. */
int cms_get_issuer_serial(CBS *in, CBS *out_issuer, CBS *out_serial);

/* cms_cert_has_issuer_serial returns 1 if |cert| has this issuer and serial number. */
int cms_cert_has_issuer_serial(const CMS_CERT *cert, const CBS *issuer, const CBS *serial);

/* cms_cert_has_ski returns 1 if |cert| carries the subject key identifier |ski|. */
int cms_cert_has_ski(const CMS_CERT *cert, const CBS *ski);

#endif /* SMIMED_CMS_CERT_H */
