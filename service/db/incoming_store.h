/* incoming_store.h: storage queries of DecryptVerify and ListRetryable: finding recipients' keys and signers' certificates, retry hints.
 *
 * Nothing here parses a certificate or a message: identifiers (issuer Name DER, serial
 * INTEGER content octets, subject key identifiers) come from the engine and are
 * compared byte for byte with the columns the engine filled at import. */
#ifndef SMIMED_DB_INCOMING_STORE_H
#define SMIMED_DB_INCOMING_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/db/certificate_store.h"
#include "service/db/db.h"
#include "smime/ipc/incoming.pb-c.h"
#include "smime/v1/log.pb-c.h"

/* INCOMING_TRUST_MAX bounds the certificates sent to the engine for one signed layer. */
#define INCOMING_TRUST_MAX 2000

/* INCOMING_NEED_* say what a retry hint waits for (log_retry_hints.need). */
enum {
  /* INCOMING_NEED_PRIVATE_KEY: a private key for a recipient (issuer_der + serial_der,
   * or subject_key_id). */
  INCOMING_NEED_PRIVATE_KEY = 1,
  /* INCOMING_NEED_ISSUER: the certificate that issued the topmost certificate of the
   * signer's chain (its subject is issuer_der, or its subject key id subject_key_id). */
  INCOMING_NEED_ISSUER = 2,
  /* INCOMING_NEED_SIGNER: the signer's own certificate (issuer_der + serial_der, or
   * subject_key_id), which an admin may import to trust it directly. */
  INCOMING_NEED_SIGNER = 3,
};

/* incoming_store_trust_certs returns the DER of the stored certificates a signed layer
 * may chain to (all are trust anchors): every CA, every certificate matching one of
 * |ids| (a signer's issuer and serial, or key identifier) and every certificate whose
 * subject is one of |subjects|; at most INCOMING_TRUST_MAX, newest first. Free with
 * certificate_ders_free. */
int incoming_store_trust_certs(DB *db, Smime__Ipc__CmsIdentifier *const *ids, size_t n_ids,
                               const ProtobufCBinaryData *subjects, size_t n_subjects,
                               ProtobufCBinaryData **out, size_t *out_n, STATUS *err);

/* INCOMING_KEY_MATCH is a stored certificate with a private key that matches one
 * recipient of a message. */
typedef struct incoming_key_match_st {
  uint32_t recipient_index;
  uint8_t sha256[CERT_SHA256_LEN];
  ProtobufCBinaryData wrapped; /* malloc'd */
} INCOMING_KEY_MATCH;

/* incoming_key_matches_free frees |m| (|n| entries). Accepts NULL. */
void incoming_key_matches_free(INCOMING_KEY_MATCH *m, size_t n);

/* incoming_store_recipient_keys returns, for each supported recipient of |recipients|,
 * every stored certificate with a private key that it names (issuer and serial, or
 * subject key identifier: every match, newest first), in recipient order. */
int incoming_store_recipient_keys(DB *db, Smime__Ipc__RecipientEntry *const *recipients,
                                  size_t n_recipients, INCOMING_KEY_MATCH **out,
                                  size_t *out_n, STATUS *err);

/* incoming_store_send_hint queues on |conn| (pipeline mode, in the log writer's batch,
 * right after the INSERT of the log entry it belongs to: log_batch.h) the record of
 * what that entry was missing: |need| is an INCOMING_NEED_*, empty byte strings are
 * stored as NULL. One statement. */
int incoming_store_send_hint(PGconn *conn, int need, const ProtobufCBinaryData *issuer_der,
                             const ProtobufCBinaryData *serial_der,
                             const ProtobufCBinaryData *subject_key_id, STATUS *err);

/* incoming_store_send_resolve queues on |conn| (as above) the marking of the hints of
 * earlier entries about Message-ID |message_id| (not empty) as resolved: that message
 * has now been opened without missing anything. One statement. */
int incoming_store_send_resolve(PGconn *conn, const char *message_id, STATUS *err);

/* incoming_store_list_retryable answers ListRetryable: failed entries with an unresolved
 * hint that a certificate or private key imported after the failure satisfies, newest
 * first, with the reason naming that import; page_size default 50, at most 1000. Free
 * |*out| with smime__v1__list_retryable_response__free_unpacked(out, NULL). */
int incoming_store_list_retryable(DB *db, const Smime__V1__ListRetryableRequest *req,
                                  Smime__V1__ListRetryableResponse **out, STATUS *err);

#endif /* SMIMED_DB_INCOMING_STORE_H */
