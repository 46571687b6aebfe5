/* sign_hint.c: see sign_hint.h. */
#include "service/front/sign_hint.h"

#include <string.h>

void sign_hint_init(SIGN_HINT *h) {
  memset(h, 0, sizeof(*h));
  pthread_mutex_init(&h->mu, NULL);
}

void sign_hint_remember(SIGN_HINT *h, const char *from, const uint8_t sha256[CERT_SHA256_LEN]) {
  size_t len = strlen(from);
  if (len > SIGN_HINT_MAX_ADDRESS) {
    return;
  }
  pthread_mutex_lock(&h->mu);
  memcpy(h->from, from, len + 1);
  memcpy(h->sha256, sha256, CERT_SHA256_LEN);
  h->set = 1;
  pthread_mutex_unlock(&h->mu);
}

int sign_hint_guess(SIGN_HINT *h, char *from, size_t from_size, uint8_t sha256[CERT_SHA256_LEN]) {
  int ok = 0;
  pthread_mutex_lock(&h->mu);
  if (h->set && strlen(h->from) < from_size) {
    memcpy(from, h->from, strlen(h->from) + 1);
    memcpy(sha256, h->sha256, CERT_SHA256_LEN);
    ok = 1;
  }
  pthread_mutex_unlock(&h->mu);
  return ok;
}
