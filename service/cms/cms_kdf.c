/* cms_kdf.c: X9.63 KDF and ECC-CMS-SharedInfo. */
#include "service/cms/cms_kdf.h"

#include <string.h>

#include <openssl/digest.h>
#include <openssl/mem.h>

#include "service/cms/cms_asn1.h"

int cms_x963_kdf(int md, const uint8_t *z, size_t z_len, const uint8_t *shared_info,
                 size_t shared_info_len, uint8_t *out, size_t out_len) {
  const EVP_MD *evp = cms_md_evp(md);
  EVP_MD_CTX ctx;
  uint8_t block[EVP_MAX_MD_SIZE];
  unsigned block_len;
  uint32_t counter = 1;
  int ok = 0;
  EVP_MD_CTX_init(&ctx);
  if (evp == NULL || out_len > 255 * (size_t)EVP_MD_size(evp)) {
    goto out;
  }
  while (out_len > 0) {
    uint8_t be[4] = {(uint8_t)(counter >> 24), (uint8_t)(counter >> 16),
                     (uint8_t)(counter >> 8), (uint8_t)counter};
    if (!EVP_DigestInit_ex(&ctx, evp, NULL) || !EVP_DigestUpdate(&ctx, z, z_len) ||
        !EVP_DigestUpdate(&ctx, be, sizeof(be)) ||
        !EVP_DigestUpdate(&ctx, shared_info, shared_info_len) ||
        !EVP_DigestFinal_ex(&ctx, block, &block_len)) {
      goto out;
    }
    size_t n = out_len < block_len ? out_len : block_len;
    memcpy(out, block, n);
    out += n;
    out_len -= n;
    counter++;
  }
  ok = 1;

out:
  OPENSSL_cleanse(block, sizeof(block));
  EVP_MD_CTX_cleanup(&ctx);
  return ok;
}

int cms_ecc_shared_info(const CBS *wrap_algid, const uint8_t *ukm, size_t ukm_len,
                        size_t kek_len, uint8_t **out, size_t *out_len) {
  CBB cbb, seq, tagged, octets;
  *out = NULL;
  *out_len = 0;
  uint32_t bits = (uint32_t)(kek_len * 8);
  if (!CBB_init(&cbb, 64) || !CBB_add_asn1(&cbb, &seq, CBS_ASN1_SEQUENCE) ||
      !CBB_add_bytes(&seq, CBS_data(wrap_algid), CBS_len(wrap_algid))) {
    goto err;
  }
  if (ukm != NULL && (!CBB_add_asn1(&seq, &tagged, CMS_TAG_CONSTRUCTED(0)) ||
                      !CBB_add_asn1_octet_string(&tagged, ukm, ukm_len))) {
    goto err;
  }
  if (!CBB_add_asn1(&seq, &tagged, CMS_TAG_CONSTRUCTED(2)) ||
      !CBB_add_asn1(&tagged, &octets, CBS_ASN1_OCTETSTRING) || !CBB_add_u32(&octets, bits) ||
      !CBB_finish(&cbb, out, out_len)) {
    goto err;
  }
  return 1;

err:
  CBB_cleanup(&cbb);
  return 0;
}
