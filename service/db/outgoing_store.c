/* outgoing_store.c: see outgoing_store.h.
 *
 * Each candidate row carries the certificate as the API shows it (certificate_store's
 * columns) and its DER, in one query: the choice and the chosen certificate come in
 * one round trip. Candidates are judged here rather than in SQL, so that when none is
 * usable the reason can name what is wrong with the best of them. */
#include "service/db/outgoing_store.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/db/db_util.h"

/* MAX_CANDIDATES bounds the certificates looked at per address (renewals: a few). */
#define MAX_CANDIDATES 100

/* CANDIDATE_COLUMNS: certificate_from_row's columns, then the DER (text format: bytea
 * in hex, for PQunescapeBytea). */
#define CANDIDATE_COLUMNS CERTIFICATE_COLUMNS ", c.der"
#define CANDIDATE_DER_COLUMN CERTIFICATE_NCOLUMNS
/* outgoing_store_choose_all's rows end with the address's position in its list. */
#define CANDIDATE_ORDINAL_COLUMN (CANDIDATE_DER_COLUMN + 1)

/* P_* are the faults a candidate can have. */
enum {
  P_NOT_SMIME = 1 << 0,
  P_USAGE = 1 << 1,
  P_NO_KEY = 1 << 2,
  P_NOT_YET = 1 << 3,
  P_EXPIRED = 1 << 4,
};
#define P_TIME (P_NOT_YET | P_EXPIRED)

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

void outgoing_choice_cleanup(OUTGOING_CHOICE *c) {
  if (c->cert != NULL) {
    smime__v1__certificate__free_unpacked(c->cert, NULL);
  }
  free(c->der.data);
  memset(c, 0, sizeof(*c));
}

static int64_t seconds_of(const Google__Protobuf__Timestamp *t) {
  return t != NULL ? t->seconds : 0;
}

/* faults_of judges candidate |c| for |purpose| at |now|. */
static int faults_of(const Smime__V1__Certificate *c, int purpose, time_t now) {
  int f = 0;
  if (c->status == SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME) {
    f |= P_NOT_SMIME;
  }
  if ((purpose == OUTGOING_PURPOSE_SIGN && !c->can_sign) ||
      (purpose == OUTGOING_PURPOSE_ENCRYPT && !c->can_encrypt)) {
    f |= P_USAGE;
  }
  if (purpose == OUTGOING_PURPOSE_SIGN && !c->has_private_key) {
    f |= P_NO_KEY;
  }
  if ((int64_t)now < seconds_of(c->not_before)) {
    f |= P_NOT_YET;
  }
  if ((int64_t)now >= seconds_of(c->not_after)) {
    f |= P_EXPIRED;
  }
  return f;
}

/* first_with returns the first row whose faults are all within |allowed| (and that
 * has at least one of |needed|, unless |needed| is 0), or -1. */
static int first_with(const int *faults, int rows, int allowed, int needed) {
  for (int i = 0; i < rows; i++) {
    if ((faults[i] & ~allowed) == 0 && (needed == 0 || (faults[i] & needed) != 0)) {
      return i;
    }
  }
  return -1;
}

/* take_row makes row |row| (whose certificate is |*cert|, taken over) |out|'s choice. */
static int take_row(const PGresult *res, int row, Smime__V1__Certificate **cert,
                    OUTGOING_CHOICE *out, STATUS *err) {
  size_t len = 0;
  STATUS ignored;
  if (!certificate_fingerprint_parse((*cert)->sha256_fingerprint, "sha256", out->sha256,
                                     &ignored)) {
    return status_set(err, STATUS_INTERNAL, "a stored certificate has a bad fingerprint");
  }
  unsigned char *der = PQunescapeBytea(
      (const unsigned char *)PQgetvalue(res, row, CANDIDATE_DER_COLUMN), &len);
  if (der == NULL) {
    return oom(err);
  }
  out->der.data = malloc(len > 0 ? len : 1);
  if (out->der.data != NULL) {
    memcpy(out->der.data, der, len);
    out->der.len = len;
  }
  PQfreemem(der);
  if (out->der.data == NULL) {
    return oom(err);
  }
  out->cert = *cert;
  *cert = NULL;
  return 1;
}

/* explain writes into |out| why none of the candidates is usable: a matter of time
 * first, then the missing key, then a certificate unfit for S/MIME, then the wrong key
 * usage (the most fixable fault first). */
static void explain(Smime__V1__Certificate *const *certs, const int *faults, int rows,
                    const char *address, int purpose, OUTGOING_CHOICE *out) {
  char when[40];
  int i;
  const char *use = purpose == OUTGOING_PURPOSE_SIGN ? "signing" : "encryption";
  if ((i = first_with(faults, rows, P_TIME, 0)) >= 0) {
    if ((faults[i] & P_EXPIRED) != 0) {
      format_utc_time(seconds_of(certs[i]->not_after), when, sizeof(when));
      snprintf(out->reason, sizeof(out->reason), "certificate for %s expired on %s", address,
               when);
    } else {
      format_utc_time(seconds_of(certs[i]->not_before), when, sizeof(when));
      snprintf(out->reason, sizeof(out->reason), "certificate for %s is not valid before %s",
               address, when);
    }
  } else if ((i = first_with(faults, rows, P_TIME | P_NO_KEY, P_NO_KEY)) >= 0) {
    snprintf(out->reason, sizeof(out->reason),
             "no private key for the signing certificate of %s", address);
  } else if ((i = first_with(faults, rows, P_TIME | P_NO_KEY | P_NOT_SMIME, P_NOT_SMIME)) >= 0) {
    snprintf(out->reason, sizeof(out->reason), "certificate for %s is not for S/MIME: %s",
             address, certs[i]->status_reason);
  } else {
    snprintf(out->reason, sizeof(out->reason),
             "certificate for %s does not allow %s (key usage)", address, use);
  }
}

/* judge picks the usable one of the |rows| candidate rows of |res| from |first| on
 * into |out|, or writes the reason why none is. */
static int judge(const PGresult *res, int first, int rows, const char *address, int purpose,
                 int allow_expired, time_t now, OUTGOING_CHOICE *out, STATUS *err) {
  int faults[MAX_CANDIDATES];
  Smime__V1__Certificate *certs[MAX_CANDIDATES];
  int ok = 0;
  if (rows > MAX_CANDIDATES) {
    rows = MAX_CANDIDATES;
  }
  if (rows == 0) {
    snprintf(out->reason, sizeof(out->reason), "no certificate for %s", address);
    return 1;
  }
  for (int i = 0; i < rows; i++) {
    certs[i] = certificate_from_row(res, first + i, now);
    if (certs[i] == NULL) {
      rows = i;
      oom(err);
      goto out;
    }
    faults[i] = faults_of(certs[i], purpose, now);
  }
  int i = first_with(faults, rows, 0, 0);
  if (i < 0 && allow_expired) {
    i = first_with(faults, rows, P_EXPIRED, 0);
    out->expired_used = i >= 0;
  }
  if (i >= 0) {
    ok = take_row(res, first + i, &certs[i], out, err);
  } else {
    explain(certs, faults, rows, address, purpose, out);
    ok = 1;
  }

out:
  for (int j = 0; j < rows; j++) {
    if (certs[j] != NULL) {
      smime__v1__certificate__free_unpacked(certs[j], NULL);
    }
  }
  return ok;
}

/* run_query runs |sql| with |params| on a pooled connection; NULL with |err| when it
 * fails. */
static PGresult *run_query(DB *db, const char *sql, int n_params, const char *const *params,
                           const int *lengths, const int *formats, STATUS *err) {
  int broken = 0;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return NULL;
  }
  PGresult *res = db_exec_cached(db, conn, sql, n_params, params, lengths, formats, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "choosing a certificate", &broken, err);
    PQclear(res);
    res = NULL;
  }
  db_release(db, conn, broken);
  return res;
}

/* One query for every address: the newest candidates of each (the same as one query per
 * address would give), tagged with the address's position in the list. The list is
 * walked by generate_subscripts, not unnest: the planner sizes unnest by the array it
 * is given, so that every call's plan (a custom plan, a quarter of the query's time
 * with 100,000 certificates) looked cheaper than the prepared generic one and was made
 * anew; generate_subscripts has one size for all, and the generic plan is kept. */
const char kOutgoingChooseAllSql[] =
    "SELECT " CANDIDATE_COLUMNS ", a.n FROM generate_subscripts($1::text[], 1) AS a(n) "
    "CROSS JOIN LATERAL (SELECT c.* FROM certificates c "
    "JOIN certificate_emails e ON e.certificate_id = c.id "
    "WHERE e.email = ($1::text[])[a.n] AND NOT c.is_ca "
    "ORDER BY c.not_before DESC, c.id DESC LIMIT 100) c "
    "ORDER BY a.n, c.not_before DESC, c.id DESC";

int outgoing_store_choose_all(DB *db, const char *const *addresses, const int *purposes,
                              size_t n, int allow_expired, time_t now, OUTGOING_CHOICE *out,
                              STATUS *err) {
  int ok = 1;
  memset(out, 0, n * sizeof(*out));
  if (n == 0) {
    return 1;
  }
  /* Each address is looked up once, however many times it is asked for (the sender:
   * for signing and as a recipient of its own copy); |slot|[i] is the position of
   * |addresses|[i] in |unique|. */
  const char **unique = calloc(n, sizeof(*unique));
  size_t *slot = calloc(n, sizeof(*slot));
  int *first = calloc(n + 1, sizeof(*first));
  size_t n_unique = 0;
  if (unique == NULL || slot == NULL || first == NULL) {
    ok = oom(err);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    size_t u = 0;
    while (u < n_unique && strcmp(unique[u], addresses[i]) != 0) {
      u++;
    }
    if (u == n_unique) {
      unique[n_unique++] = addresses[i];
    }
    slot[i] = u;
  }
  /* The caller's addresses are valid and lowercased already: the literal holds them
   * unchanged. */
  char *list_s = text_array_literal((const char *const *)unique, n_unique, SIZE_MAX);
  if (list_s == NULL) {
    ok = oom(err);
    goto out;
  }
  const char *params[1] = {list_s};
  int lengths[1] = {0};
  int formats[1] = {0};
  PGresult *res = run_query(db, kOutgoingChooseAllSql, 1, params, lengths, formats, err);
  free(list_s);
  if (res == NULL) {
    ok = 0;
    goto out;
  }
  /* The rows come ordered by the address's position: |first|[u] .. |first|[u + 1] are
   * the candidates of |unique|[u]. */
  int rows = PQntuples(res), row = 0;
  for (size_t u = 0; u < n_unique; u++) {
    first[u] = row;
    while (row < rows && strtoull(PQgetvalue(res, row, CANDIDATE_ORDINAL_COLUMN), NULL, 10) ==
                             (unsigned long long)u + 1) {
      row++;
    }
  }
  first[n_unique] = row;
  for (size_t i = 0; i < n && ok; i++) {
    size_t u = slot[i];
    ok = judge(res, first[u], first[u + 1] - first[u], addresses[i], purposes[i],
               allow_expired, now, &out[i], err);
  }
  PQclear(res);

out:
  free(unique);
  free(slot);
  free(first);
  if (!ok) {
    for (size_t i = 0; i < n; i++) {
      outgoing_choice_cleanup(&out[i]);
    }
  }
  return ok;
}

int outgoing_store_choose(DB *db, const char *address, int purpose, int allow_expired,
                          time_t now, OUTGOING_CHOICE *out, STATUS *err) {
  return outgoing_store_choose_all(db, &address, &purpose, 1, allow_expired, now, out, err);
}

int outgoing_store_choose_signer(DB *db, const uint8_t sha256[CERT_SHA256_LEN],
                                 const char *address, int allow_expired, time_t now,
                                 OUTGOING_CHOICE *out, STATUS *err) {
  char hex[2 * CERT_SHA256_LEN + 1];
  memset(out, 0, sizeof(*out));
  for (int i = 0; i < CERT_SHA256_LEN; i++) {
    snprintf(hex + 2 * i, 3, "%02x", sha256[i]);
  }
  const char *params[2] = {(const char *)sha256, address};
  int lengths[2] = {CERT_SHA256_LEN, 0};
  int formats[2] = {1, 0};
  PGresult *res = run_query(db,
                            "SELECT " CANDIDATE_COLUMNS " FROM certificates c "
                            "WHERE c.sha256 = $1 AND NOT c.is_ca AND EXISTS (SELECT 1 FROM "
                            "certificate_emails e WHERE e.certificate_id = c.id AND "
                            "e.email = $2)",
                            2, params, lengths, formats, err);
  if (res == NULL) {
    return 0;
  }
  int ok = judge(res, 0, PQntuples(res), address, OUTGOING_PURPOSE_SIGN, allow_expired, now,
                 out, err);
  PQclear(res);
  if (!ok) {
    outgoing_choice_cleanup(out);
    return 0;
  }
  if (out->cert == NULL && strncmp(out->reason, "no certificate for", 18) == 0) {
    snprintf(out->reason, sizeof(out->reason),
             "certificate %s (signer_sha256_fingerprint) is not stored, is a CA, or is not "
             "for %s",
             hex, address);
  }
  return 1;
}

int outgoing_store_wrapped_key(DB *db, const uint8_t sha256[CERT_SHA256_LEN],
                               ProtobufCBinaryData *out, STATUS *err) {
  int broken = 0, ok = 0;
  PGresult *res = NULL;
  out->data = NULL;
  out->len = 0;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  const char *params[1] = {(const char *)sha256};
  int lengths[1] = {CERT_SHA256_LEN};
  int formats[1] = {1};
  res = db_exec_cached(db, conn,
                       "SELECT k.wrapped FROM private_keys k JOIN certificates c "
                       "ON c.id = k.certificate_id WHERE c.sha256 = $1",
                       1, params, lengths, formats, 1);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "reading a private key", &broken, err);
    goto out;
  }
  if (PQntuples(res) == 0) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "the signing certificate's private key was deleted meanwhile");
    goto out;
  }
  size_t len = (size_t)PQgetlength(res, 0, 0);
  out->data = malloc(len > 0 ? len : 1);
  if (out->data == NULL) {
    oom(err);
    goto out;
  }
  memcpy(out->data, PQgetvalue(res, 0, 0), len);
  out->len = len;
  ok = 1;

out:
  PQclear(res);
  db_release(db, conn, broken);
  return ok;
}
