/* kek_rotation_store.h: the SQL of key-encryption key rotation (smimed --rotate-kek,
 * service/front/kek_rotation.c), and the lock that keeps it away from running daemons.
 *
 * The lock is a PostgreSQL session advisory lock on KEK_ROTATION_LOCK_KEY: every
 * running smimed holds it SHARED on a connection of its own for its whole life
 * (kek_daemon_lock_take), and a rotation takes it EXCLUSIVE with pg_try_advisory_lock
 * (kek_rotation_store_open), so that it never re-wraps keys under daemons that hold the
 * old key, and a daemon never starts in the middle of one. A session lock lives as
 * long as its connection: if PostgreSQL restarts under a running daemon, that daemon
 * no longer holds it (and does not take it again); certificate_store_attach_key's
 * check of the recorded check value keeps such a daemon from storing keys wrapped
 * under the retired key. */
#ifndef SMIMED_DB_KEK_ROTATION_STORE_H
#define SMIMED_DB_KEK_ROTATION_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* KEK_ROTATION_LOCK_KEY is the advisory lock key: "smkek" in ASCII, 495756993899
 * (distinct from the migration and audit-log keys). In SQL:
 * SELECT * FROM pg_locks WHERE locktype = 'advisory' AND objid = 1835754859 AND
 * classid = 115 shows who holds it (the key's high and low 32 bits). */
#define KEK_ROTATION_LOCK_KEY 0x736d6b656bLL

/* KEK_DAEMON_LOCK is a running daemon's shared hold on KEK_ROTATION_LOCK_KEY. */
typedef struct kek_daemon_lock_st KEK_DAEMON_LOCK;

/* kek_daemon_lock_take opens a connection to |conninfo| and takes the lock SHARED
 * without waiting. Returns NULL with |err| FAILED_PRECONDITION when a rotation holds
 * it, UNAVAILABLE when the database cannot be reached. */
KEK_DAEMON_LOCK *kek_daemon_lock_take(const char *conninfo, STATUS *err);

/* kek_daemon_lock_free releases the lock (by closing its connection). Accepts NULL. */
void kek_daemon_lock_free(KEK_DAEMON_LOCK *lock);

/* KEK_ROTATION_STORE is one rotation's database session: the exclusive lock and the
 * one transaction that re-wraps every key. */
typedef struct kek_rotation_store_st KEK_ROTATION_STORE;

/* kek_rotation_store_open connects to |conninfo| (applying pending migrations as a
 * daemon start would) and takes the lock EXCLUSIVE without waiting. Returns NULL with
 * |err| FAILED_PRECONDITION naming the lock when a daemon (or another rotation) holds
 * it. */
KEK_ROTATION_STORE *kek_rotation_store_open(const char *conninfo, STATUS *err);

/* kek_rotation_store_free rolls back a transaction still open, releases the lock and
 * closes the connection. Accepts NULL. */
void kek_rotation_store_free(KEK_ROTATION_STORE *s);

/* kek_rotation_store_begin starts the transaction and locks the recorded check value
 * (key_encryption_key, FOR UPDATE), copying it into |out_check| ("" when the database
 * has none yet). */
int kek_rotation_store_begin(KEK_ROTATION_STORE *s, char *out_check, size_t out_len,
                             STATUS *err);

/* KEK_REWRAP_FN re-wraps one stored key: |wrapped| of the certificate |certificate_id|
 * whose DER has SHA-256 |cert_sha256| (32 bytes). On success it sets |*out| (free with
 * free()) and |*out_len| and returns 1; else 0 with |err| filled. */
typedef int (*KEK_REWRAP_FN)(void *ctx, long long certificate_id, const uint8_t *cert_sha256,
                             const uint8_t *wrapped, size_t wrapped_len, uint8_t **out,
                             size_t *out_len, STATUS *err);

/* kek_rotation_store_rewrap_all, inside the transaction: locks every row of
 * private_keys (FOR UPDATE), checks that each was wrapped under |old_check| (else
 * FAILED_PRECONDITION naming the certificate ids, before anything is re-wrapped),
 * replaces each row's wrapped key with |fn|'s and its kek_check with |new_check|, and
 * records |new_check| as the database's check value. Sets |*out_count| to the number
 * of keys. Nothing is committed: kek_rotation_store_commit does that. */
int kek_rotation_store_rewrap_all(KEK_ROTATION_STORE *s, const char *old_check,
                                  const char *new_check, KEK_REWRAP_FN fn, void *ctx,
                                  size_t *out_count, STATUS *err);

/* kek_rotation_store_commit commits the transaction. */
int kek_rotation_store_commit(KEK_ROTATION_STORE *s, STATUS *err);

/* kek_rotation_store_rollback ends the transaction without changing anything. */
void kek_rotation_store_rollback(KEK_ROTATION_STORE *s);

#endif /* SMIMED_DB_KEK_ROTATION_STORE_H */
