/* sign_hint.h: the front's guess of the next signer of SignEncrypt: the sender address
 * and certificate of the last signing call whose choice succeeded.
 *
 * Why: a helpdesk signs from few addresses, so the next signer is most often the last
 * one. SignEncrypt then asks the engine that analyzes the message to prepare the
 * signature for that certificate at once, when the message's sender is that address
 * (outgoing.proto, EngineAnalyzeMessageRequest): one engine round trip and one pass
 * over the message less per signature. A guess only: the front still chooses the
 * signer as always, and uses what was prepared only when it chose that very
 * certificate. Thread-safe. */
#ifndef SMIMED_FRONT_SIGN_HINT_H
#define SMIMED_FRONT_SIGN_HINT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "service/db/certificate_store.h"

/* SIGN_HINT_MAX_ADDRESS bounds the address kept (longer ones are not remembered). */
#define SIGN_HINT_MAX_ADDRESS 320

typedef struct sign_hint_st {
  pthread_mutex_t mu;
  int set;
  char from[SIGN_HINT_MAX_ADDRESS + 1];
  uint8_t sha256[CERT_SHA256_LEN];
} SIGN_HINT;

/* sign_hint_init makes |h| empty. */
void sign_hint_init(SIGN_HINT *h);

/* sign_hint_remember records that |from| signed with the certificate |sha256|. */
void sign_hint_remember(SIGN_HINT *h, const char *from, const uint8_t sha256[CERT_SHA256_LEN]);

/* sign_hint_guess copies the last signer into |from| (|from_size| bytes) and |sha256|
 * and returns 1, or returns 0 when there is none yet. */
int sign_hint_guess(SIGN_HINT *h, char *from, size_t from_size, uint8_t sha256[CERT_SHA256_LEN]);

#endif /* SMIMED_FRONT_SIGN_HINT_H */
