/* kek_rotation_store.c: see kek_rotation_store.h. */
#include "service/db/kek_rotation_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "service/db/db.h"

/* MISMATCH_IDS_MAX is how many certificate ids a refusal names before "...". */
#define MISMATCH_IDS_MAX 10

struct kek_daemon_lock_st {
  PGconn *conn;
};

struct kek_rotation_store_st {
  DB *db;
  PGconn *conn;
  int broken;
  int in_tx;
};

/* try_lock runs |function| (pg_try_advisory_lock or its _shared form) on
 * KEK_ROTATION_LOCK_KEY and sets |*out_held| to whether it got the lock. */
static int try_lock(PGconn *conn, const char *function, int *out_held, int *out_broken,
                    STATUS *err) {
  char sql[96];
  snprintf(sql, sizeof(sql), "SELECT %s(%lld)", function, (long long)KEK_ROTATION_LOCK_KEY);
  PGresult *res = PQexec(conn, sql);
  int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
  if (!ok) {
    db_result_status(conn, res, "taking the key-rotation lock", out_broken, err);
  } else {
    *out_held = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  }
  PQclear(res);
  return ok;
}

KEK_DAEMON_LOCK *kek_daemon_lock_take(const char *conninfo, STATUS *err) {
  /* kek_daemon_lock_take uses a connection of its own, outside the pool: the lock must
   * stay held while pooled connections are reset and reconnected. */
  const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
  const char *const values[] = {"5", "smimed (kek lock)", conninfo, NULL};
  KEK_DAEMON_LOCK *lock = calloc(1, sizeof(*lock));
  int held = 0, broken = 0;
  if (lock == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  lock->conn = PQconnectdbParams(keys, values, 1);
  if (lock->conn == NULL || PQstatus(lock->conn) != CONNECTION_OK) {
    status_set(err, STATUS_UNAVAILABLE, "database unavailable for the key-rotation lock: %s",
               lock->conn != NULL ? PQerrorMessage(lock->conn) : "out of memory");
    goto err;
  }
  if (!try_lock(lock->conn, "pg_try_advisory_lock_shared", &held, &broken, err)) {
    goto err;
  }
  if (!held) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "a key-encryption key rotation (smimed --rotate-kek) is running on this "
               "database (it holds advisory lock %lld); start smimed again when it has "
               "finished, with the new key-encryption key",
               (long long)KEK_ROTATION_LOCK_KEY);
    goto err;
  }
  return lock;

err:
  kek_daemon_lock_free(lock);
  return NULL;
}

void kek_daemon_lock_free(KEK_DAEMON_LOCK *lock) {
  if (lock == NULL) {
    return;
  }
  PQfinish(lock->conn);
  free(lock);
}

KEK_ROTATION_STORE *kek_rotation_store_open(const char *conninfo, STATUS *err) {
  int held = 0;
  KEK_ROTATION_STORE *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  s->db = db_open(conninfo, 1, err);
  if (s->db == NULL) {
    goto err;
  }
  s->conn = db_acquire(s->db, err);
  if (s->conn == NULL) {
    goto err;
  }
  if (!try_lock(s->conn, "pg_try_advisory_lock", &held, &s->broken, err)) {
    goto err;
  }
  if (!held) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "smimed is running on this database (or another rotation is): advisory "
               "lock %lld is held. Stop every smimed that uses this database, then "
               "rotate; nothing was changed",
               (long long)KEK_ROTATION_LOCK_KEY);
    goto err;
  }
  return s;

err:
  kek_rotation_store_free(s);
  return NULL;
}

void kek_rotation_store_free(KEK_ROTATION_STORE *s) {
  if (s == NULL) {
    return;
  }
  kek_rotation_store_rollback(s);
  if (s->conn != NULL) {
    /* db_close below closes the connection, which also ends the session lock. */
    db_release(s->db, s->conn, s->broken);
  }
  db_close(s->db);
  free(s);
}

void kek_rotation_store_rollback(KEK_ROTATION_STORE *s) {
  STATUS ignored;
  if (s->in_tx && !s->broken) {
    db_exec(s->conn, "ROLLBACK", &s->broken, &ignored);
  }
  s->in_tx = 0;
}

int kek_rotation_store_begin(KEK_ROTATION_STORE *s, char *out_check, size_t out_len,
                             STATUS *err) {
  out_check[0] = '\0';
  if (!db_exec(s->conn, "BEGIN", &s->broken, err)) {
    return 0;
  }
  s->in_tx = 1;
  PGresult *res = PQexec(s->conn, "SELECT check_value FROM key_encryption_key FOR UPDATE");
  int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) <= 1;
  if (!ok) {
    db_result_status(s->conn, res, "reading the recorded key-encryption key", &s->broken,
                     err);
  } else if (PQntuples(res) == 1) {
    snprintf(out_check, out_len, "%s", PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  return ok;
}

/* check_all_rows refuses |res| (the locked rows: id, sha256, wrapped, kek_check) if
 * any key was wrapped under another KEK than |old_check|, naming the certificates:
 * re-wrapping would fail on them, and they must not be left behind silently. */
static int check_all_rows(const PGresult *res, const char *old_check, STATUS *err) {
  char ids[MISMATCH_IDS_MAX * 24 + 8] = "";
  size_t used = 0;
  int bad = 0;
  for (int i = 0; i < PQntuples(res); i++) {
    if (strcmp(PQgetvalue(res, i, 3), old_check) == 0) {
      continue;
    }
    if (bad < MISMATCH_IDS_MAX) {
      used += (size_t)snprintf(ids + used, sizeof(ids) - used, "%s%s (kek_check \"%s\")",
                               bad > 0 ? ", " : "", PQgetvalue(res, i, 0),
                               PQgetvalue(res, i, 3));
      if (used >= sizeof(ids)) {
        used = sizeof(ids) - 1;
      }
    }
    bad++;
  }
  if (bad == 0) {
    return 1;
  }
  return status_set(err, STATUS_FAILED_PRECONDITION,
                    "%d stored private key(s) are not wrapped under the current "
                    "key-encryption key (check value %s): certificate id %s%s. Nothing was "
                    "changed in the database; delete or re-import those keys, then rotate "
                    "again",
                    bad, old_check, ids, bad > MISMATCH_IDS_MAX ? ", ..." : "");
}

/* update_row stores |wrapped| and |new_check| for certificate |id| (decimal text). */
static int update_row(KEK_ROTATION_STORE *s, const char *id, const uint8_t *wrapped,
                      size_t wrapped_len, const char *new_check, STATUS *err) {
  const char *params[3] = {id, (const char *)wrapped, new_check};
  int lengths[3] = {0, (int)wrapped_len, 0};
  int formats[3] = {0, 1, 0};
  PGresult *res = PQexecParams(
      s->conn, "UPDATE private_keys SET wrapped = $2, kek_check = $3 WHERE certificate_id = $1",
      3, NULL, params, lengths, formats, 0);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) {
    db_result_status(s->conn, res, "storing a re-wrapped private key", &s->broken, err);
  } else if (strcmp(PQcmdTuples(res), "1") != 0) {
    ok = status_set(err, STATUS_INTERNAL, "the private key of certificate id %s vanished "
                    "while it was locked", id);
  }
  PQclear(res);
  return ok;
}

/* record_check makes |new_check| the database's key-encryption key check value. */
static int record_check(KEK_ROTATION_STORE *s, const char *new_check, STATUS *err) {
  const char *params[1] = {new_check};
  PGresult *res = PQexecParams(s->conn,
                               "UPDATE key_encryption_key SET check_value = $1, "
                               "created_at = now()",
                               1, NULL, params, NULL, NULL, 0);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) {
    db_result_status(s->conn, res, "recording the new key-encryption key", &s->broken, err);
  } else if (strcmp(PQcmdTuples(res), "1") != 0) {
    ok = status_set(err, STATUS_FAILED_PRECONDITION,
                    "the database has no key-encryption key recorded");
  }
  PQclear(res);
  return ok;
}

int kek_rotation_store_rewrap_all(KEK_ROTATION_STORE *s, const char *old_check,
                                  const char *new_check, KEK_REWRAP_FN fn, void *ctx,
                                  size_t *out_count, STATUS *err) {
  int ok = 0;
  *out_count = 0;
  /* Binary results: wrapped and sha256 come as raw bytes; the id is cast to text and
   * a text column's binary form is its bytes, so both read as strings. */
  PGresult *res = PQexecParams(
      s->conn,
      "SELECT pk.certificate_id::text, c.sha256, pk.wrapped, pk.kek_check "
      "FROM private_keys pk JOIN certificates c ON c.id = pk.certificate_id "
      "ORDER BY pk.certificate_id FOR UPDATE OF pk",
      0, NULL, NULL, NULL, NULL, 1);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(s->conn, res, "locking the stored private keys", &s->broken, err);
    goto out;
  }
  if (!check_all_rows(res, old_check, err)) {
    goto out;
  }
  for (int i = 0; i < PQntuples(res); i++) {
    const char *id = PQgetvalue(res, i, 0);
    uint8_t *wrapped = NULL;
    size_t wrapped_len = 0;
    if (PQgetlength(res, i, 1) != 32) {
      status_set(err, STATUS_INTERNAL, "certificate id %s has a fingerprint of %d bytes", id,
                 PQgetlength(res, i, 1));
      goto out;
    }
    if (!fn(ctx, strtoll(id, NULL, 10), (const uint8_t *)PQgetvalue(res, i, 1),
            (const uint8_t *)PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), &wrapped,
            &wrapped_len, err)) {
      goto out;
    }
    int stored = update_row(s, id, wrapped, wrapped_len, new_check, err);
    free(wrapped);
    if (!stored) {
      goto out;
    }
  }
  if (!record_check(s, new_check, err)) {
    goto out;
  }
  *out_count = (size_t)PQntuples(res);
  ok = 1;

out:
  PQclear(res);
  return ok;
}

int kek_rotation_store_commit(KEK_ROTATION_STORE *s, STATUS *err) {
  STATUS why;
  s->in_tx = 0;
  if (db_exec(s->conn, "COMMIT", &s->broken, &why)) {
    return 1;
  }
  /* A COMMIT whose answer was lost may or may not have happened: the check value the
   * database records tells, and a second run reads it. */
  return status_set(err, why.code,
                    "%s; if the connection broke, the commit may have happened: run the "
                    "same command again, it finds out and never re-wraps twice",
                    why.message);
}
