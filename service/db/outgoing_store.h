/* outgoing_store.h: storage queries of SignEncrypt and GetSecurityOptions: choosing
 * certificates and fetching wrapped keys.
 *
 * Choice (DESIGN.md section 1): for an address, the newest certificate (latest
 * not_before, then latest import) that is usable now: stored status VALID (fit for
 * S/MIME), not_before <= now < not_after, the right usage (can_sign and a stored
 * private key for the sender; can_encrypt for a recipient), and not a CA. With
 * |allow_expired|, when no certificate is usable, the newest one whose only fault is
 * that it expired is taken. When none fits, the reason names the address and what is
 * wrong with its best candidate ("no certificate for x@y", "certificate for x@y
 * expired on 2021-01-01T00:00:00Z", "no private key for the signing certificate of
 * x@y", ...). */
#ifndef SMIMED_DB_OUTGOING_STORE_H
#define SMIMED_DB_OUTGOING_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "service/common/status.h"
#include "service/db/certificate_store.h"
#include "service/db/db.h"
#include "smime/v1/certificate.pb-c.h"

/* kOutgoingChooseAllSql is outgoing_store_choose_all's query ($1: the addresses, a
 * text[]), for the test that checks PostgreSQL's plan of it. */
extern const char kOutgoingChooseAllSql[];

/* OUTGOING_PURPOSE_* say what a certificate is chosen for. */
enum {
  OUTGOING_PURPOSE_SIGN = 1,
  OUTGOING_PURPOSE_ENCRYPT = 2,
};

/* OUTGOING_CHOICE is the verdict for one address. */
typedef struct outgoing_choice_st {
  /* cert is the certificate chosen (API view, status computed for |now|), or NULL
   * when none is usable. */
  Smime__V1__Certificate *cert;
  /* der and sha256 of |cert| (der malloc'd). */
  ProtobufCBinaryData der;
  uint8_t sha256[CERT_SHA256_LEN];
  /* expired_used: |cert| is expired and taken only because allow_expired was given. */
  int expired_used;
  /* reason says why nothing is usable ("" when |cert| is set). */
  char reason[384];
} OUTGOING_CHOICE;

/* outgoing_choice_cleanup frees what |c| holds and clears it. */
void outgoing_choice_cleanup(OUTGOING_CHOICE *c);

/* outgoing_store_choose fills |out| (cleared on entry) with the choice for |address|
 * (lowercased by the caller) for |purpose|. Returns 1 whether or not a certificate is
 * usable (see out->cert and out->reason), 0 with |err| when the database fails. */
int outgoing_store_choose(DB *db, const char *address, int purpose, int allow_expired,
                          time_t now, OUTGOING_CHOICE *out, STATUS *err);

/* outgoing_store_choose_all is outgoing_store_choose for |n| addresses at once, in one
 * query: |out|[i] (cleared on entry) for |addresses|[i] and |purposes|[i] (an address
 * may be asked for twice, for signing and for encryption). On failure (0) every
 * |out|[i] is cleared. */
int outgoing_store_choose_all(DB *db, const char *const *addresses, const int *purposes,
                              size_t n, int allow_expired, time_t now, OUTGOING_CHOICE *out,
                              STATUS *err);

/* outgoing_store_choose_signer is outgoing_store_choose for the one signing
 * certificate |sha256| that the caller named: it must be stored, carry |address|, and
 * be usable for signing as above (else out->reason says why). */
int outgoing_store_choose_signer(DB *db, const uint8_t sha256[CERT_SHA256_LEN],
                                 const char *address, int allow_expired, time_t now,
                                 OUTGOING_CHOICE *out, STATUS *err);

/* outgoing_store_wrapped_key returns the wrapped private key of certificate |sha256|
 * in |*out| (malloc'd data; free out->data). FAILED_PRECONDITION when it has none. */
int outgoing_store_wrapped_key(DB *db, const uint8_t sha256[CERT_SHA256_LEN],
                               ProtobufCBinaryData *out, STATUS *err);

#endif /* SMIMED_DB_OUTGOING_STORE_H */
