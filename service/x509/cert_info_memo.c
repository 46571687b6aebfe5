/* cert_info_memo.c: see cert_info_memo.h. */
#include "service/x509/cert_info_memo.h"

#include <pthread.h>
#include <string.h>

#include <openssl/sha.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static CERT_INFO *g_slots[CERT_INFO_MEMO_SLOTS];

CERT_INFO *cert_info_memo_new(const uint8_t *der, size_t der_len, STATUS *err) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  CERT_INFO *ci = NULL;
  /* cert_info_new refuses these before hashing; the memo must not hash them either. */
  if (der_len > CERT_INFO_MAX_DER) {
    return cert_info_new(der, der_len, err);
  }
  SHA256(der, der_len, digest);
  CERT_INFO **slot = &g_slots[(digest[0] | (unsigned)digest[1] << 8) % CERT_INFO_MEMO_SLOTS];
  pthread_mutex_lock(&g_mu);
  if (*slot != NULL && (*slot)->der_len == der_len &&
      memcmp((*slot)->sha256, digest, sizeof(digest)) == 0) {
    ci = cert_info_ref(*slot);
  }
  pthread_mutex_unlock(&g_mu);
  if (ci != NULL) {
    return ci;
  }
  ci = cert_info_new(der, der_len, err);
  if (ci == NULL) {
    return NULL;
  }
  CERT_INFO *evicted;
  pthread_mutex_lock(&g_mu);
  evicted = *slot;
  *slot = cert_info_ref(ci);
  pthread_mutex_unlock(&g_mu);
  cert_info_free(evicted);
  return ci;
}
