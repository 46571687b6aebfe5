/* pkcs12.h: a PKCS#12 (RFC 7292) reader on CBS, for the keystore's key import.
 *
 * BoringSSL's PKCS12_get_key_and_certs fails on the files NSS writes (Thunderbird and
 * Firefox exports: BER with indefinite lengths, PBES2 bags), which is what users have
 * (DESIGN.md section 8); this reader takes them, OpenSSL's (default and -legacy) and
 * Windows' files.
 *
 * Reads: a PFX in BER or DER; password integrity mode (MacData: HMAC with SHA-1,
 * SHA-224, SHA-256, SHA-384 or SHA-512 keyed by the PKCS#12 KDF) or none; an
 * AuthenticatedSafe of ContentInfos of type data and encryptedData (any scheme of
 * pbe.h); SafeBags keyBag, pkcs8ShroudedKeyBag, certBag (x509Certificate) and
 * safeContentsBag (nested up to P12_MAX_DEPTH). Bag attributes (friendlyName,
 * localKeyId), crlBag, secretBag and other certificate types are skipped. Not read:
 * public-key integrity or privacy modes (signedData, envelopedData), PBMAC1.
 *
 * Passwords: the MAC key is derived from the password as BMPString (with the trailing
 * NUL); when that does not verify, from its bytes as given (an empty password is thus
 * tried both as two zero bytes and as nothing). No candidate verifying is
 * P12_ERR_WRONG_PASSWORD, with "wrong password for the PKCS#12 file" (or, for an empty
 * password, "the PKCS#12 file is encrypted: give its password"). Without a MAC, a bag
 * that decrypts with no encoding of the password gives the same.
 *
 * Limits: the input at most P12_MAX_INPUT_LEN bytes, at most P12_MAX_BAGS SafeBags and
 * ContentInfos together, nesting at most P12_MAX_DEPTH, and pbe.h's limits on
 * iterations (for the MAC too), salts and passwords (P12_ERR_LIMIT). */
#ifndef SMIMED_PKCS12_PKCS12_H
#define SMIMED_PKCS12_PKCS12_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/pkcs12/pbe.h"

/* P12_MAX_INPUT_LEN caps the file: real ones are a few KiB, a long chain ~50 KiB. */
#define P12_MAX_INPUT_LEN (4u * 1024u * 1024u)

/* P12_MAX_BAGS caps SafeBags plus ContentInfos in one file. */
#define P12_MAX_BAGS 1000u

/* P12_MAX_DEPTH caps nested safeContentsBags. */
#define P12_MAX_DEPTH 8u

/* P12_CONTENTS is what a PKCS#12 file holds: its private keys as PKCS#8
 * PrivateKeyInfo DER (wiped when freed) and its X.509 certificates as DER, each in
 * file order. */
typedef struct p12_contents_st P12_CONTENTS;

/* p12_contents_new returns an empty P12_CONTENTS, or NULL when out of memory. */
P12_CONTENTS *p12_contents_new(void);

/* p12_contents_free wipes the keys and frees |c|. Accepts NULL. */
void p12_contents_free(P12_CONTENTS *c);

/* p12_contents_num_keys returns the number of private keys. */
size_t p12_contents_num_keys(const P12_CONTENTS *c);

/* p12_contents_key returns key |i|'s PrivateKeyInfo DER and sets |*out_len|; valid
 * until p12_contents_free. */
const uint8_t *p12_contents_key(const P12_CONTENTS *c, size_t i, size_t *out_len);

/* p12_contents_num_certs returns the number of certificates. */
size_t p12_contents_num_certs(const P12_CONTENTS *c);

/* p12_contents_cert returns certificate |i|'s DER and sets |*out_len|; valid until
 * p12_contents_free. */
const uint8_t *p12_contents_cert(const P12_CONTENTS *c, size_t i, size_t *out_len);

/* p12_parse reads the PKCS#12 file |in| (|in_len| bytes, nothing after the PFX) with
 * |password| (UTF-8, |password_len| bytes; empty for none). On P12_OK sets |*out| to
 * its contents (the caller frees it); otherwise returns a P12_ERR_* with |err|
 * filled and leaves |*out| NULL. */
int p12_parse(const uint8_t *in, size_t in_len, const char *password, size_t password_len,
              P12_CONTENTS **out, STATUS *err);

/* p12_looks_like_pfx returns 1 when |in| starts like a PFX (SEQUENCE { INTEGER 3,
 * SEQUENCE { OBJECT ...), so that a caller can pick this reader for DER input of
 * unknown kind; 0 otherwise. */
int p12_looks_like_pfx(const uint8_t *in, size_t in_len);

#endif /* SMIMED_PKCS12_PKCS12_H */
