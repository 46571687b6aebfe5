/* incoming_store.c: see incoming_store.h.
 *
 * Byte values go in as binary parameters, or, for lists, as text arrays of hex decoded
 * by PostgreSQL; DER comes back in binary results. */
#include "service/db/incoming_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/db/db_util.h"
#include "service/db/log_batch.h"
#include "service/db/page_token.h"

#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 1000

/* MAX_KEYS_PER_RECIPIENT bounds the keys tried for one recipient (renewals keep the
 * issuer and serial distinct, but a subject key identifier may be shared). */
#define MAX_KEYS_PER_RECIPIENT 16

static const char kRetryTokenDomain[] = "smimed ListRetryable page token";

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

/* append_hex_element appends |b| in hex as one element of a text array literal. */
static void append_hex_element(STRBUF *sb, const ProtobufCBinaryData *b) {
  static const char kHex[] = "0123456789abcdef";
  if (sb->len > 1) {
    strbuf_puts(sb, ",");
  }
  strbuf_puts(sb, "\"");
  for (size_t i = 0; i < b->len; i++) {
    char two[2] = {kHex[b->data[i] >> 4], kHex[b->data[i] & 15]};
    strbuf_append(sb, two, 2);
  }
  strbuf_puts(sb, "\"");
}

int incoming_store_trust_certs(DB *db, Smime__Ipc__CmsIdentifier *const *ids, size_t n_ids,
                               const ProtobufCBinaryData *subjects, size_t n_subjects,
                               ProtobufCBinaryData **out, size_t *out_n, STATUS *err) {
  STRBUF subj, iss, ser, ski;
  char *p[4] = {NULL, NULL, NULL, NULL};
  char limit[16];
  PGconn *conn = NULL;
  PGresult *res = NULL;
  int ok = 0, broken = 0;
  *out = NULL;
  *out_n = 0;
  strbuf_init(&subj);
  strbuf_init(&iss);
  strbuf_init(&ser);
  strbuf_init(&ski);
  strbuf_puts(&subj, "{");
  strbuf_puts(&iss, "{");
  strbuf_puts(&ser, "{");
  strbuf_puts(&ski, "{");
  for (size_t i = 0; i < n_subjects; i++) {
    append_hex_element(&subj, &subjects[i]);
  }
  for (size_t i = 0; i < n_ids; i++) {
    if (ids[i]->issuer_der.len > 0) {
      append_hex_element(&iss, &ids[i]->issuer_der);
      append_hex_element(&ser, &ids[i]->serial_der);
    }
    if (ids[i]->subject_key_id.len > 0) {
      append_hex_element(&ski, &ids[i]->subject_key_id);
    }
  }
  strbuf_puts(&subj, "}");
  strbuf_puts(&iss, "}");
  strbuf_puts(&ser, "}");
  strbuf_puts(&ski, "}");
  p[0] = strbuf_take(&subj);
  p[1] = strbuf_take(&iss);
  p[2] = strbuf_take(&ser);
  p[3] = strbuf_take(&ski);
  if (p[0] == NULL || p[1] == NULL || p[2] == NULL || p[3] == NULL) {
    oom(err);
    goto out;
  }
  snprintf(limit, sizeof(limit), "%d", INCOMING_TRUST_MAX);
  conn = db_acquire(db, err);
  if (conn == NULL) {
    goto out;
  }
  const char *params[5] = {p[0], p[1], p[2], p[3], limit};
  res = db_exec_cached(
      db, conn,
      "SELECT c.der FROM certificates c WHERE c.is_ca "
      "OR c.subject_der = ANY (ARRAY(SELECT decode(x, 'hex') FROM unnest($1::text[]) x)) "
      "OR (c.issuer_der, c.serial_der) IN (SELECT decode(a, 'hex'), decode(b, 'hex') "
      "    FROM unnest($2::text[], $3::text[]) AS t(a, b)) "
      "OR c.subject_key_id = ANY (ARRAY(SELECT decode(x, 'hex') FROM unnest($4::text[]) x)) "
      "ORDER BY c.id DESC LIMIT $5::int",
      5, params, NULL, NULL, 1);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "finding certificates for a signature", &broken, err);
    goto out;
  }
  ok = certificate_ders_from_result(res, out, out_n, err);

out:
  PQclear(res);
  if (conn != NULL) {
    db_release(db, conn, broken);
  }
  for (size_t i = 0; i < 4; i++) {
    free(p[i]);
  }
  strbuf_cleanup(&subj);
  strbuf_cleanup(&iss);
  strbuf_cleanup(&ser);
  strbuf_cleanup(&ski);
  return ok;
}

void incoming_key_matches_free(INCOMING_KEY_MATCH *m, size_t n) {
  if (m == NULL) {
    return;
  }
  for (size_t i = 0; i < n; i++) {
    free(m[i].wrapped.data);
  }
  free(m);
}

int incoming_store_recipient_keys(DB *db, Smime__Ipc__RecipientEntry *const *recipients,
                                  size_t n_recipients, INCOMING_KEY_MATCH **out,
                                  size_t *out_n, STATUS *err) {
  INCOMING_KEY_MATCH *m = NULL;
  size_t n = 0, cap = 0;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  int ok = 0, broken = 0;
  char limit[16];
  *out = NULL;
  *out_n = 0;
  snprintf(limit, sizeof(limit), "%d", MAX_KEYS_PER_RECIPIENT);
  conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  for (size_t r = 0; r < n_recipients; r++) {
    const Smime__Ipc__RecipientEntry *e = recipients[r];
    if (!e->supported || e->rid == NULL) {
      continue;
    }
    const char *params[4] = {(const char *)e->rid->issuer_der.data,
                             (const char *)e->rid->serial_der.data,
                             (const char *)e->rid->subject_key_id.data, limit};
    int lengths[4] = {(int)e->rid->issuer_der.len, (int)e->rid->serial_der.len,
                      (int)e->rid->subject_key_id.len, 0};
    int formats[4] = {1, 1, 1, 0};
    /* protobuf-c leaves empty bytes with a NULL pointer; libpq wants a pointer. */
    for (size_t i = 0; i < 3; i++) {
      if (params[i] == NULL) {
        params[i] = "";
      }
    }
    PQclear(res);
    res = db_exec_cached(db, conn,
                       "SELECT c.sha256, k.wrapped FROM certificates c "
                       "JOIN private_keys k ON k.certificate_id = c.id "
                       "WHERE (length($1::bytea) > 0 AND c.issuer_der = $1::bytea AND c.serial_der = $2::bytea) "
                       "OR (length($3::bytea) > 0 AND c.subject_key_id = $3::bytea) "
                       "ORDER BY c.id DESC LIMIT $4::int",
                       4, params, lengths, formats, 1);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
      db_result_status(conn, res, "finding private keys for a message", &broken, err);
      goto out;
    }
    for (int i = 0; i < PQntuples(res); i++) {
      if (PQgetlength(res, i, 0) != CERT_SHA256_LEN) {
        continue;
      }
      if (n == cap) {
        size_t ncap = cap == 0 ? 4 : cap * 2;
        INCOMING_KEY_MATCH *nm = realloc(m, ncap * sizeof(*nm));
        if (nm == NULL) {
          oom(err);
          goto out;
        }
        m = nm;
        cap = ncap;
      }
      size_t len = (size_t)PQgetlength(res, i, 1);
      memset(&m[n], 0, sizeof(m[n]));
      m[n].recipient_index = e->index;
      memcpy(m[n].sha256, PQgetvalue(res, i, 0), CERT_SHA256_LEN);
      m[n].wrapped.data = malloc(len > 0 ? len : 1);
      if (m[n].wrapped.data == NULL) {
        oom(err);
        goto out;
      }
      memcpy(m[n].wrapped.data, PQgetvalue(res, i, 1), len);
      m[n].wrapped.len = len;
      n++;
    }
  }
  *out = m;
  *out_n = n;
  m = NULL;
  ok = 1;

out:
  PQclear(res);
  db_release(db, conn, broken);
  incoming_key_matches_free(m, n);
  return ok;
}

/* kHintInsertSql records what a failed message was missing; currval: the id the
 * INSERT INTO logs queued before this one was given. kResolveSql marks earlier
 * failures of a message resolved. */
static const char kHintInsertSql[] =
    "INSERT INTO log_retry_hints (log_id, need, issuer_der, serial_der, subject_key_id) "
    "VALUES (currval('logs_id_seq'), $1::smallint, $2, $3, $4)";
static const char kResolveSql[] = "SELECT smimed_resolve_hints($1)";

int incoming_store_send_hint(PGconn *conn, int need, const ProtobufCBinaryData *issuer_der,
                             const ProtobufCBinaryData *serial_der,
                             const ProtobufCBinaryData *subject_key_id, STATUS *err) {
  char need_s[8];
  const ProtobufCBinaryData *b[3] = {issuer_der, serial_der, subject_key_id};
  const char *params[4];
  int lengths[4] = {0, 0, 0, 0};
  int formats[4] = {0, 1, 1, 1};
  int broken = 0;
  snprintf(need_s, sizeof(need_s), "%d", need);
  params[0] = need_s;
  for (size_t i = 0; i < 3; i++) {
    int set = b[i] != NULL && b[i]->len > 0;
    params[1 + i] = set ? (const char *)b[i]->data : NULL;
    lengths[1 + i] = set ? (int)b[i]->len : 0;
  }
  int ok = log_batch_send(conn, kHintInsertSql, 4, params, lengths, formats);
  if (!ok) {
    db_result_status(conn, NULL, "recording what a message was missing", &broken, err);
  }
  return ok;
}

int incoming_store_send_resolve(PGconn *conn, const char *message_id, STATUS *err) {
  const char *params[1] = {message_id};
  int broken = 0;
  /* The function (migration 2) is driven by the unresolved hints (few), each checked
   * against its log row: the other way round read every log row of the message_id, and
   * a helpdesk retrying one message (or a benchmark) piles up thousands. */
  int ok = log_batch_send(conn, kResolveSql, 1, params, NULL, NULL);
  if (!ok) {
    db_result_status(conn, NULL, "marking earlier failures of a message resolved", &broken,
                     err);
  }
  return ok;
}

/* kRetryableSelect lists failed entries with an unresolved hint that an import made
 * after the failure satisfies, newest first, with the most recent such import named.
 * $1: list entries with an id below this; $2: how many. */
static const char kRetryableSelect[] =
    "SELECT l.id, (extract(epoch FROM l.created_at) * 1000000)::bigint, l.direction, "
    "  array_to_string(l.operations, ','), l.status, l.message_id, "
    "  array_to_string(l.addresses, E'\\n'), l.caller, l.rpc, l.comment, "
    "  array_to_string(l.certificate_sha256, E'\\n'), m.reason "
    "FROM logs l "
    "JOIN LATERAL ("
    "  SELECT CASE h.need "
    "    WHEN 1 THEN 'the private key of certificate \"' || c.subject || '\" (' || "
    "      encode(c.sha256, 'hex') || '), a recipient of this message, was imported at ' || "
    "      to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "    WHEN 2 THEN 'certificate \"' || c.subject || '\" (' || encode(c.sha256, 'hex') || "
    "      '), the issuer the signer''s chain lacked, was imported at ' || "
    "      to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "    ELSE 'the signer''s certificate \"' || c.subject || '\" (' || "
    "      encode(c.sha256, 'hex') || ') was imported at ' || "
    "      to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
    "  END AS reason "
    "  FROM log_retry_hints h "
    "  JOIN certificates c ON "
    "    (h.need IN (1, 3) AND ((c.issuer_der = h.issuer_der AND c.serial_der = h.serial_der) "
    "       OR c.subject_key_id = h.subject_key_id)) "
    "    OR (h.need = 2 AND (c.subject_der = h.issuer_der "
    "       OR c.subject_key_id = h.subject_key_id)) "
    "  LEFT JOIN private_keys k ON k.certificate_id = c.id "
    "  WHERE h.log_id = l.id AND h.resolved_at IS NULL "
    "    AND ((h.need = 1 AND k.created_at > l.created_at) "
    "      OR (h.need IN (2, 3) AND c.created_at > l.created_at)) "
    "  ORDER BY coalesce(k.created_at, c.created_at) DESC LIMIT 1"
    ") m ON true "
    "WHERE l.id IN (SELECT log_id FROM log_retry_hints WHERE resolved_at IS NULL) "
    "  AND l.id < $1::bigint "
    "ORDER BY l.id DESC LIMIT $2::int";

/* split_lines returns the newline-separated items of |s| as a malloc'd array. */
static int split_lines(const char *s, char ***out, size_t *out_n) {
  size_t n = 1;
  *out = NULL;
  *out_n = 0;
  if (s[0] == '\0') {
    return 1;
  }
  for (const char *p = s; *p != '\0'; p++) {
    n += *p == '\n';
  }
  char **v = calloc(n, sizeof(char *));
  if (v == NULL) {
    return 0;
  }
  size_t k = 0;
  for (const char *start = s;;) {
    const char *nl = strchr(start, '\n');
    size_t len = nl != NULL ? (size_t)(nl - start) : strlen(start);
    v[k] = strndup(start, len);
    if (v[k] == NULL) {
      break;
    }
    k++;
    if (nl == NULL) {
      break;
    }
    start = nl + 1;
  }
  *out = v;
  *out_n = k;
  return k == n;
}

/* entry_from_row reads one LogEntry of kRetryableSelect (columns 0-10). */
static Smime__V1__LogEntry *entry_from_row(const PGresult *res, int row) {
  Smime__V1__LogEntry *e = malloc(sizeof(*e));
  if (e == NULL) {
    return NULL;
  }
  smime__v1__log_entry__init(e);
  e->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
  e->create_time = timestamp_from_unix_us(strtoll(PQgetvalue(res, row, 1), NULL, 10));
  e->direction = (Smime__V1__Direction)atoi(PQgetvalue(res, row, 2));
  e->status = (Smime__V1__LogStatus)atoi(PQgetvalue(res, row, 4));
  e->message_id = strdup(PQgetvalue(res, row, 5));
  e->caller = strdup(PQgetvalue(res, row, 7));
  e->rpc = strdup(PQgetvalue(res, row, 8));
  e->comment = strdup(PQgetvalue(res, row, 9));
  const char *ops = PQgetvalue(res, row, 3);
  size_t n_ops = ops[0] != '\0' ? 1 : 0;
  for (const char *p = ops; *p != '\0'; p++) {
    n_ops += *p == ',';
  }
  e->operations = calloc(n_ops > 0 ? n_ops : 1, sizeof(*e->operations));
  int ok = e->create_time != NULL && e->message_id != NULL && e->caller != NULL &&
           e->rpc != NULL && e->comment != NULL && e->operations != NULL;
  if (ok) {
    const char *p = ops;
    while (*p != '\0' && e->n_operations < n_ops) {
      char *end;
      e->operations[e->n_operations++] = (Smime__V1__Operation)strtol(p, &end, 10);
      p = *end == ',' ? end + 1 : end;
      if (end == p && *p != '\0') {
        break;
      }
    }
    ok = split_lines(PQgetvalue(res, row, 6), &e->addresses, &e->n_addresses) &&
         split_lines(PQgetvalue(res, row, 10), &e->certificate_sha256,
                     &e->n_certificate_sha256);
  }
  if (!ok) {
    smime__v1__log_entry__free_unpacked(e, NULL);
    return NULL;
  }
  return e;
}

int incoming_store_list_retryable(DB *db, const Smime__V1__ListRetryableRequest *req,
                                  Smime__V1__ListRetryableResponse **out, STATUS *err) {
  Smime__V1__ListRetryableResponse *resp = NULL;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  int64_t before = INT64_MAX;
  int page_size, ok = 0, broken = 0;
  char before_s[24], limit_s[16];
  *out = NULL;
  if (req->page_size < 0 || req->page_size > PAGE_SIZE_MAX) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "page_size must be between 0 and %d (got %d)", PAGE_SIZE_MAX,
                      (int)req->page_size);
  }
  page_size = req->page_size == 0 ? PAGE_SIZE_DEFAULT : (int)req->page_size;
  if (req->page_token != NULL && req->page_token[0] != '\0' &&
      !page_token_parse(kRetryTokenDomain, req->page_token, "", &before, err)) {
    return 0;
  }
  snprintf(before_s, sizeof(before_s), "%" PRId64, before);
  /* One row more than the page, to know whether there is a next page. */
  snprintf(limit_s, sizeof(limit_s), "%d", page_size + 1);
  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    return oom(err);
  }
  smime__v1__list_retryable_response__init(resp);
  conn = db_acquire(db, err);
  if (conn == NULL) {
    goto out;
  }
  const char *params[2] = {before_s, limit_s};
  res = PQexecParams(conn, kRetryableSelect, 2, NULL, params, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "listing retryable messages", &broken, err);
    goto out;
  }
  int rows = PQntuples(res);
  int shown = rows > page_size ? page_size : rows;
  resp->messages = calloc(shown > 0 ? (size_t)shown : 1, sizeof(*resp->messages));
  if (resp->messages == NULL) {
    oom(err);
    goto out;
  }
  for (int i = 0; i < shown; i++) {
    Smime__V1__RetryableMessage *m = malloc(sizeof(*m));
    if (m == NULL) {
      oom(err);
      goto out;
    }
    smime__v1__retryable_message__init(m);
    resp->messages[resp->n_messages++] = m;
    m->log_entry = entry_from_row(res, i);
    m->reason = strdup(PQgetvalue(res, i, 11));
    if (m->log_entry == NULL || m->reason == NULL) {
      oom(err);
      goto out;
    }
  }
  if (rows > page_size && shown > 0) {
    resp->next_page_token =
        page_token_make(kRetryTokenDomain, strtoll(PQgetvalue(res, shown - 1, 0), NULL, 10), "");
    if (resp->next_page_token == NULL) {
      oom(err);
      goto out;
    }
  }
  *out = resp;
  resp = NULL;
  ok = 1;

out:
  PQclear(res);
  if (conn != NULL) {
    db_release(db, conn, broken);
  }
  if (resp != NULL) {
    smime__v1__list_retryable_response__free_unpacked(resp, NULL);
  }
  return ok;
}
