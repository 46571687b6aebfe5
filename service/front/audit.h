/* audit.h: the audit entry of one RPC, collected while its handler works and written
 * once: inside the handler's transaction (last, see log_store.h) or on its own.
 *
 * The entry points into the strings it is given (addresses, fingerprints, the call's
 * caller and method): keep them alive until it is written. Names beyond the capacity
 * are dropped from the entry (never from the operation). */
#ifndef SMIMED_FRONT_AUDIT_H
#define SMIMED_FRONT_AUDIT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "service/front/app.h"
#include "smime/v1/log.pb-c.h"
#include "smime/v1/certificate.pb-c.h"

/* AUDIT_MAX_NAMES bounds the addresses and the fingerprints named in one entry. */
#define AUDIT_MAX_NAMES 258

typedef struct audit_st {
  Smime__V1__LogEntry entry;
  Smime__V1__Operation ops[4];
  char *addresses[AUDIT_MAX_NAMES];
  char *fingerprints[AUDIT_MAX_NAMES];
  char comment[2048];
} AUDIT;

/* audit_init starts an entry of |direction| for the call |info|. */
void audit_init(AUDIT *a, const CALL_INFO *info, Smime__V1__Direction direction);

/* audit_add_operation records that the call did |op|. */
void audit_add_operation(AUDIT *a, Smime__V1__Operation op);

/* audit_add_address names |addr| (once). */
void audit_add_address(AUDIT *a, char *addr);

/* audit_add_fingerprint names the certificate with SHA-256 |hex| (once). */
void audit_add_fingerprint(AUDIT *a, char *hex);

/* audit_add_certificate names |c|'s fingerprint and addresses. */
void audit_add_certificate(AUDIT *a, const Smime__V1__Certificate *c);

/* audit_comment appends to the entry's comment, which says what happened. */
void audit_comment(AUDIT *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* audit_append stores |entry| through the log writer (group commit), committed on
 * return; sets |*out_id|. */
int audit_append(APP *app, const Smime__V1__LogEntry *entry, int64_t *out_id, STATUS *err);

/* audit_write stores the entry with its status: on |conn| (the caller's transaction)
 * or, with |conn| NULL, through audit_append. Sets |*out_id| (may be NULL). */
int audit_write(APP *app, PGconn *conn, AUDIT *a, int success, int64_t *out_id, STATUS *err);

/* audit_send queues the entry with its status on |conn| for the log writer's batch
 * (a LOG_WRITE_FN's statement, log_batch.h): one statement, whose one row is the id. */
int audit_send(PGconn *conn, AUDIT *a, int success, STATUS *err);

/* audit_failure records that the call failed with |why|, on its own connection. A
 * failure to record it is logged, not returned: the caller's own error is what the
 * client must see. */
void audit_failure(APP *app, AUDIT *a, const STATUS *why);

#endif /* SMIMED_FRONT_AUDIT_H */
