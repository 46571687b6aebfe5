/* cms_sigalg.h: signature AlgorithmIdentifiers (rsaEncryption, sha*WithRSAEncryption,
 * RSASSA-PSS, ecdsa-with-SHA*, Ed25519) and verifying a signature made with one.
 * Internal to service/cms. */
#ifndef SMIMED_CMS_SIGALG_H
#define SMIMED_CMS_SIGALG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>
#include <openssl/evp.h>

/* CMS_SIGALG is a parsed signatureAlgorithm. */
typedef struct cms_sigalg_st {
  int scheme;   /* CMS_SIG_*; CMS_SIG_NONE when the algorithm is unknown */
  int md;       /* the hash the algorithm names (sha256WithRSAEncryption, PSS params,
                 * ecdsa-with-SHA256), or CMS_MD_NONE when it leaves the hash to the
                 * SignerInfo's digestAlgorithm (rsaEncryption, id-ecPublicKey) */
  int mgf1_md;  /* RSASSA-PSS: the MGF1 hash */
  int salt_len; /* RSASSA-PSS: the salt length */
} CMS_SIGALG;

/* cms_get_sigalg reads a signatureAlgorithm from |in| into |out|. An unknown algorithm
 * is not an error: |out->scheme| is CMS_SIG_NONE. Returns 0 if malformed. */
int cms_get_sigalg(CBS *in, CMS_SIGALG *out);

/* cms_add_sigalg writes the signatureAlgorithm we use for |scheme| with |md|:
 * rsaEncryption (what OpenSSL, NSS and Outlook write and every receiver accepts),
 * RSASSA-PSS with MGF1 of the same hash and a salt of the hash's length,
 * ecdsa-with-SHA*, or id-Ed25519. */
int cms_add_sigalg(CBB *cbb, int scheme, int md);

/* cms_key_fits_scheme returns 1 if |key| can make or check |scheme| signatures. */
int cms_key_fits_scheme(const EVP_PKEY *key, int scheme);

/* cms_sigalg_verify checks |sig| with |key| under |alg|, using the hash |md| (the
 * digest algorithm in force). |digest| is |md| over the signed bytes; Ed25519 signs the
 * bytes themselves, given as |msg|. Returns 1 if the signature verifies. */
int cms_sigalg_verify(EVP_PKEY *key, const CMS_SIGALG *alg, int md, const uint8_t *digest,
                      size_t digest_len, const uint8_t *msg, size_t msg_len,
                      const uint8_t *sig, size_t sig_len);

#endif /* SMIMED_CMS_SIGALG_H */
