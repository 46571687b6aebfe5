/* cms_asn1.h: the ASN.1 pieces every CMS module needs, on CBB/CBS: the object
 * identifiers we know, AlgorithmIdentifier, digests, BER input, CMS times. Internal
 * to service/cms (not for callers of the library). */
#ifndef SMIMED_CMS_ASN1_H
#define SMIMED_CMS_ASN1_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>
#include <openssl/digest.h>

/* CMS_OID_* index the table of object identifiers in cms_asn1.c. */
enum {
  CMS_OID_UNKNOWN = -1,
  CMS_OID_DATA = 0,
  CMS_OID_SIGNED_DATA,
  CMS_OID_ENVELOPED_DATA,
  CMS_OID_AUTH_ENVELOPED_DATA,
  CMS_OID_ATTR_CONTENT_TYPE,
  CMS_OID_ATTR_MESSAGE_DIGEST,
  CMS_OID_ATTR_SIGNING_TIME,
  CMS_OID_ATTR_SMIME_CAPABILITIES,
  CMS_OID_MD5,
  CMS_OID_SHA1,
  CMS_OID_SHA224,
  CMS_OID_SHA256,
  CMS_OID_SHA384,
  CMS_OID_SHA512,
  CMS_OID_RSA_ENCRYPTION,
  CMS_OID_MD5_WITH_RSA,
  CMS_OID_SHA1_WITH_RSA,
  CMS_OID_SHA224_WITH_RSA,
  CMS_OID_SHA256_WITH_RSA,
  CMS_OID_SHA384_WITH_RSA,
  CMS_OID_SHA512_WITH_RSA,
  CMS_OID_RSASSA_PSS,
  CMS_OID_RSAES_OAEP,
  CMS_OID_MGF1,
  CMS_OID_P_SPECIFIED,
  CMS_OID_ECDSA_SHA1,
  CMS_OID_ECDSA_SHA224,
  CMS_OID_ECDSA_SHA256,
  CMS_OID_ECDSA_SHA384,
  CMS_OID_ECDSA_SHA512,
  CMS_OID_EC_PUBLIC_KEY,
  CMS_OID_ED25519,
  CMS_OID_AES128_CBC,
  CMS_OID_AES192_CBC,
  CMS_OID_AES256_CBC,
  CMS_OID_AES128_GCM,
  CMS_OID_AES192_GCM,
  CMS_OID_AES256_GCM,
  CMS_OID_AES128_WRAP,
  CMS_OID_AES192_WRAP,
  CMS_OID_AES256_WRAP,
  CMS_OID_DES_EDE3_CBC,
  CMS_OID_ECDH_STD_SHA1KDF,
  CMS_OID_ECDH_STD_SHA224KDF,
  CMS_OID_ECDH_STD_SHA256KDF,
  CMS_OID_ECDH_STD_SHA384KDF,
  CMS_OID_ECDH_STD_SHA512KDF,
  CMS_OID_ECDH_COFACTOR_SHA1KDF,
  CMS_OID_ECDH_COFACTOR_SHA224KDF,
  CMS_OID_ECDH_COFACTOR_SHA256KDF,
  CMS_OID_ECDH_COFACTOR_SHA384KDF,
  CMS_OID_ECDH_COFACTOR_SHA512KDF,
  CMS_OID_SUBJECT_KEY_IDENTIFIER,
  CMS_OID_COUNT,
};

/* CMS_TAG_* are the context-specific tags CMS uses, in CBS's representation. */
#define CMS_TAG_IMPLICIT(n) (CBS_ASN1_CONTEXT_SPECIFIC | (n))
#define CMS_TAG_CONSTRUCTED(n) (CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | (n))

/* cms_calloc returns |n| * |size| zeroed bytes from OPENSSL_malloc (free with
 * OPENSSL_free, like everything CBB_finish returns), or NULL, also on overflow. This
 * BoringSSL has no OPENSSL_zalloc or OPENSSL_calloc. */
void *cms_calloc(size_t n, size_t size);

/* cms_oid_find returns the CMS_OID_* whose encoding is the contents of |oid|, or
 * CMS_OID_UNKNOWN. */
int cms_oid_find(const CBS *oid);

/* cms_oid_is returns 1 if the contents of |oid| encode the CMS_OID_* |id|. */
int cms_oid_is(const CBS *oid, int id);

/* cms_add_oid writes the OBJECT IDENTIFIER element for |id| to |cbb|. */
int cms_add_oid(CBB *cbb, int id);

/* cms_oid_text writes the dotted form of |oid| (or "?") to |buf| of |len| bytes, for
 * messages: unknown algorithms are named by number so a person can look them up. */
void cms_oid_text(const CBS *oid, char *buf, size_t len);

/* cms_get_algid reads an AlgorithmIdentifier from |in|: |*out_oid| gets the OID's
 * contents and |*out_params| the whole parameters element, or an empty CBS when the
 * parameters are absent. */
int cms_get_algid(CBS *in, CBS *out_oid, CBS *out_params);

/* cms_params_absent_or_null returns 1 if |params| (from cms_get_algid) is empty or an
 * ASN.1 NULL: the two encodings RFC 3370 and RFC 5754 ask receivers to accept for hash
 * algorithms and rsaEncryption. */
int cms_params_absent_or_null(const CBS *params);

/* cms_add_algid writes an AlgorithmIdentifier for |id| with parameters absent, or NULL
 * when |null_params| is 1. */
int cms_add_algid(CBB *cbb, int id, int null_params);

/* cms_get_mgf1_algid reads an AlgorithmIdentifier that must be id-mgf1 with a hash
 * AlgorithmIdentifier as parameters (RFC 4055), and sets |*out_md| to that hash
 * (CMS_MD_NONE if unknown). */
int cms_get_mgf1_algid(CBS *in, int *out_md);

/* cms_add_mgf1_algid writes id-mgf1 with |md| as its hash. */
int cms_add_mgf1_algid(CBB *cbb, int md);

/* cms_md_evp returns the EVP_MD for a CMS_MD_*, or NULL. */
const EVP_MD *cms_md_evp(int md);

/* cms_md_from_oid returns the CMS_MD_* for a digest CMS_OID_*, or CMS_MD_NONE. */
int cms_md_from_oid(int oid);

/* cms_md_oid returns the CMS_OID_* for a CMS_MD_*, or CMS_OID_UNKNOWN. */
int cms_md_oid(int md);

/* cms_get_digest_algid reads a digest AlgorithmIdentifier (parameters absent or NULL)
 * and sets |*out_md| to its CMS_MD_*, or CMS_MD_NONE when the algorithm is unknown.
 * |oid_out| (may be NULL) gets the OID for messages. Returns 0 only when malformed. */
int cms_get_digest_algid(CBS *in, int *out_md, CBS *oid_out);

/* cms_add_digest_algid writes the AlgorithmIdentifier of |md|, parameters absent as
 * RFC 5754 asks for SHA-2. */
int cms_add_digest_algid(CBB *cbb, int md);

/* cms_digest computes |md| over |in| into |out| (EVP_MAX_MD_SIZE bytes), sets
 * |*out_len|. */
int cms_digest(int md, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len);

/* CMS_MAX_INPUT_DEPTH bounds the nesting of BER input we accept (real messages nest
 * about 15 deep), as a guard for the stack of the recursive conversion. */
#define CMS_MAX_INPUT_DEPTH 64

/* cms_ber_to_der converts one BER element filling |in| to DER lengths (indefinite
 * lengths resolved, constructed universal strings joined; SET OF order kept: signed
 * attributes are hashed in the order received). |*out| points into |in| when it was
 * already DER, else into |*out_storage| (free with OPENSSL_free). Rejects trailing
 * data and nesting deeper than CMS_MAX_INPUT_DEPTH. */
int cms_ber_to_der(const uint8_t *in, size_t in_len, CBS *out, uint8_t **out_storage);

/* cms_get_implicit_octets reads an implicitly tagged OCTET STRING [|tag_number|] from
 * |in| (after cms_ber_to_der): primitive, or constructed from OCTET STRING chunks as
 * BER senders stream it. The chunks are joined into |*out_storage| (free with
 * OPENSSL_free), else |*out| points into |in|. */
int cms_get_implicit_octets(CBS *in, unsigned tag_number, CBS *out, uint8_t **out_storage);

/* cms_add_time writes |t| (seconds since 1970, UTC) as a CMS Time: UTCTime for the
 * years 1950-2049, GeneralizedTime otherwise (RFC 5652 section 11.3). */
int cms_add_time(CBB *cbb, int64_t t);

/* cms_get_time reads a UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ)
 * element from |in| into seconds since 1970. */
int cms_get_time(CBS *in, int64_t *out);

#endif /* SMIMED_CMS_ASN1_H */
