/* cms_kdf.h: the key derivation of ECDH key agreement in CMS (RFC 5753 section 7.2):
 * the ANSI X9.63 KDF and its ECC-CMS-SharedInfo input. Used by both sides: the engine
 * when enveloping (and to build SharedInfo from a received message), the keystore when
 * unwrapping. Internal to service/cms. */
#ifndef SMIMED_CMS_KDF_H
#define SMIMED_CMS_KDF_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bytestring.h>

/* cms_x963_kdf derives |out_len| bytes from the shared secret |z| and |shared_info|:
 * Hash(Z || counter || SharedInfo) for counter = 1, 2, ... (32-bit big endian),
 * concatenated and truncated. |md| is a CMS_MD_*. */
int cms_x963_kdf(int md, const uint8_t *z, size_t z_len, const uint8_t *shared_info,
                 size_t shared_info_len, uint8_t *out, size_t out_len);

/* cms_ecc_shared_info builds the DER ECC-CMS-SharedInfo: |wrap_algid| (the key-wrap
 * AlgorithmIdentifier element exactly as it appears in the keyEncryptionAlgorithm
 * parameters: OpenSSL hashes what it received, so we do too), the optional ukm as
 * entityUInfo, and the KEK length in bits as suppPubInfo. |*out| is freed with
 * OPENSSL_free. */
int cms_ecc_shared_info(const CBS *wrap_algid, const uint8_t *ukm, size_t ukm_len,
                        size_t kek_len, uint8_t **out, size_t *out_len);

#endif /* SMIMED_CMS_KDF_H */
