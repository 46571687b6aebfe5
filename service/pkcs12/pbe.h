/* pbe.h: password-based decryption, as PKCS#8 (EncryptedPrivateKeyInfo) and PKCS#12
 * (shrouded key bags, encryptedData) use it. Our own code on CBS because BoringSSL's
 * PKCS#12 reader fails on the files NSS writes (DESIGN.md section 8).
 *
 * Schemes:
 *   - PBES2 (RFC 8018) with PBKDF2 (PRF HMAC-SHA1/224/256/384/512) or scrypt (RFC 7914),
 *     and AES-128/192/256-CBC, DES-EDE3-CBC or DES-CBC;
 *   - the PKCS#12 PBEs (RFC 7292 appendix C) through the PKCS#12 KDF with SHA-1:
 *     pbeWithSHAAnd3-KeyTripleDES-CBC, ...2-KeyTripleDES-CBC, ...128BitRC2-CBC,
 *     ...40BitRC2-CBC, ...128BitRC4, ...40BitRC4;
 *   - PBES1 (RFC 8018 section 6.1): pbeWithMD5AndDES-CBC, pbeWithSHA1AndDES-CBC,
 *     pbeWithMD5AndRC2-CBC, pbeWithSHA1AndRC2-CBC (what OpenSSL 1.0 wrote).
 *
 * Password encodings: RFC 7292 says the PKCS#12 KDF takes the password as a BMPString
 * (UTF-16BE) with a trailing NUL, and PBES2 takes the bytes as given (we get UTF-8).
 * Writers disagree (NSS has used BMPString for PBES2; some writers give raw bytes to
 * the PKCS#12 KDF), so each decryption tries the scheme's own encoding first and then
 * the other one; the plaintext must then parse as one ASN.1 SEQUENCE (padding alone
 * is not proof of the right key). Invalid UTF-8 is taken as Latin-1, as OpenSSL does.
 *
 * Limits (every one a P12_ERR_LIMIT when exceeded), so that a hostile file cannot make
 * the keystore spin or allocate: PBE_MAX_ITERATIONS per key derivation,
 * PBE_MAX_TOTAL_ITERATIONS for all derivations of one file (a PBE_BUDGET, counting the
 * retries with the other encoding), PBE_MAX_SALT_LEN, PBE_MAX_PASSWORD_LEN, and scrypt
 * at most PBE_MAX_SCRYPT_MEMORY bytes. */
#ifndef SMIMED_PKCS12_PBE_H
#define SMIMED_PKCS12_PBE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>
#include <openssl/bytestring.h>

#include "service/common/status.h"

/* P12_OK and P12_ERR_* are what the functions of this package (pbe.h, pkcs12.h)
 * return: P12_OK, or a negative code saying which kind of failure, with |err| filled
 * (INVALID_ARGUMENT, or RESOURCE_EXHAUSTED for P12_ERR_NO_MEMORY) with a message a
 * person can act on. The codes let a caller word its own message for a wrong
 * password. */
enum {
  P12_OK = 0,
  /* P12_ERR_MALFORMED: the input is not what it claims to be (bad ASN.1, truncated,
   * an impossible length or value). */
  P12_ERR_MALFORMED = -1,
  /* P12_ERR_UNSUPPORTED: well-formed, but an algorithm or mode we do not implement;
   * the message names it. */
  P12_ERR_UNSUPPORTED = -2,
  /* P12_ERR_WRONG_PASSWORD: the MAC does not verify, or no password encoding gives a
   * plaintext that parses. */
  P12_ERR_WRONG_PASSWORD = -3,
  /* P12_ERR_LIMIT: a count, size or iteration count over our caps. */
  P12_ERR_LIMIT = -4,
  P12_ERR_NO_MEMORY = -5,
};

/* PBE_MAX_ITERATIONS caps one key derivation's iteration count. Real files use 2,048
 * (OpenSSL), 2,000 (Windows), 10,000 (NSS) up to OWASP's 600,000 for PBKDF2-SHA256;
 * 2,000,000 PBKDF2-HMAC-SHA512 iterations take about 0.9 s here. */
#define PBE_MAX_ITERATIONS 2000000u

/* PBE_MAX_TOTAL_ITERATIONS caps the sum over all derivations of one file (MAC,
 * every bag, every password encoding tried): about 4 s of keystore time at worst. */
#define PBE_MAX_TOTAL_ITERATIONS 10000000u

/* PBE_MAX_SALT_LEN caps a salt (real ones are 8 to 32 bytes). */
#define PBE_MAX_SALT_LEN 1024u

/* PBE_MAX_PASSWORD_LEN caps the password, in bytes of UTF-8. */
#define PBE_MAX_PASSWORD_LEN 1024u

/* PBE_MAX_SCRYPT_MEMORY caps scrypt's memory (128 * r * (N + p) bytes): OpenSSL's
 * default (N 16384, r 8, p 1) needs 16 MiB. */
#define PBE_MAX_SCRYPT_MEMORY (64u * 1024u * 1024u)

/* PBE_BUDGET is what is left of PBE_MAX_TOTAL_ITERATIONS for one file. */
typedef struct pbe_budget_st {
  uint64_t iterations_left;
} PBE_BUDGET;

/* pbe_budget_init sets |budget| to PBE_MAX_TOTAL_ITERATIONS. */
void pbe_budget_init(PBE_BUDGET *budget);

/* pbe_budget_spend takes |iterations| (one derivation) from |budget|: P12_OK, or
 * P12_ERR_LIMIT (over PBE_MAX_ITERATIONS, or over what is left), or P12_ERR_MALFORMED
 * for zero. */
int pbe_budget_spend(PBE_BUDGET *budget, uint64_t iterations, STATUS *err);

/* pbe_password_bmp encodes the |len| bytes of |password| as RFC 7292 appendix B.1
 * wants them for the PKCS#12 KDF: UTF-16BE (characters above U+FFFF as surrogate
 * pairs, as OpenSSL does) followed by two zero bytes; invalid UTF-8 is taken as
 * Latin-1. Sets |*out| (free with pbe_secret_free) and |*out_len|. */
int pbe_password_bmp(const char *password, size_t len, uint8_t **out, size_t *out_len,
                     STATUS *err);

/* pbe_pkcs12_kdf is the PKCS#12 key derivation (RFC 7292 appendix B.2) with |md|:
 * |id| 1 for a key, 2 for an IV, 3 for a MAC key. |pass| is already encoded (see
 * pbe_password_bmp). The caller has checked |iterations| against its budget. Writes
 * |out_len| bytes to |out|. */
int pbe_pkcs12_kdf(const EVP_MD *md, const uint8_t *pass, size_t pass_len,
                   const uint8_t *salt, size_t salt_len, uint8_t id, uint32_t iterations,
                   uint8_t *out, size_t out_len, STATUS *err);

/* pbe_decrypt decrypts |in| with |algorithm|, a CBS over a whole AlgorithmIdentifier
 * element (one of the schemes above, with its parameters), and |password| (UTF-8,
 * |password_len| bytes). The plaintext must be one BER or DER SEQUENCE and nothing
 * else; on P12_OK, |*out| (free with pbe_secret_free) and |*out_len| hold it converted
 * to DER. A plaintext that does not parse with any password encoding is
 * P12_ERR_WRONG_PASSWORD. */
int pbe_decrypt(const CBS *algorithm, const char *password, size_t password_len,
                const uint8_t *in, size_t in_len, PBE_BUDGET *budget, uint8_t **out,
                size_t *out_len, STATUS *err);

/* pbe_decrypt_private_key_info decrypts a PKCS#8 EncryptedPrivateKeyInfo (DER or BER,
 * |in_len| bytes, nothing after it) into the DER of its PrivateKeyInfo (|*out|, free
 * with pbe_secret_free). */
int pbe_decrypt_private_key_info(const uint8_t *in, size_t in_len, const char *password,
                                 size_t password_len, PBE_BUDGET *budget, uint8_t **out,
                                 size_t *out_len, STATUS *err);

/* pbe_secret_free wipes |len| bytes at |p| and frees it (OPENSSL_free). Accepts
 * NULL. */
void pbe_secret_free(uint8_t *p, size_t len);

/* pbe_ber_to_der converts the one BER element at the start of |in| to DER: sets
 * |*out| to it and |*out_storage| to the buffer holding it (NULL when |in| already was
 * DER: then |*out| points into |in|; otherwise free it with pbe_secret_free(storage,
 * CBS_len(out))). Advances |in| past the element. Declares BoringSSL's
 * CBS_asn1_ber_to_der, which the installed headers lack. Returns P12_OK or
 * P12_ERR_MALFORMED (without touching |err|: callers say what they were parsing). */
int pbe_ber_to_der(CBS *in, CBS *out, uint8_t **out_storage);

#endif /* SMIMED_PKCS12_PBE_H */
