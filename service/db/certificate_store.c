/* certificate_store.c: see certificate_store.h.
 *
 * Byte values (fingerprints, DER) travel as binary query parameters; rows are read in
 * text format with fingerprints hex-encoded by PostgreSQL, except the DER listings,
 * which ask for binary results. */
#include "service/db/certificate_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/db/db_util.h"
#include "service/db/page_token.h"

#define PAGE_SIZE_DEFAULT 50
#define PAGE_SIZE_MAX 1000
#define CHAIN_MAX 10
#define TEXT_MAX 4096

static const char kCertTokenDomain[] = "smimed ListCertificates page token";

/* kCertColumns is what certificate_from_row reads, in this order, from "certificates c". */
static const char kCertColumns[] = CERTIFICATE_COLUMNS;
#define CERT_COL_ID 17

static int oom(STATUS *err) { return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory"); }

int certificate_fingerprint_parse(const char *text, const char *field,
                                  uint8_t out[CERT_SHA256_LEN], STATUS *err) {
  size_t n = 0;
  int high = -1;
  memset(out, 0, CERT_SHA256_LEN);
  for (const char *p = text != NULL ? text : ""; *p != '\0'; p++) {
    int v;
    if (*p == ':' || *p == ' ') {
      continue;
    }
    if (*p >= '0' && *p <= '9') {
      v = *p - '0';
    } else if (*p >= 'a' && *p <= 'f') {
      v = *p - 'a' + 10;
    } else if (*p >= 'A' && *p <= 'F') {
      v = *p - 'A' + 10;
    } else {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "%s must be a SHA-256 fingerprint in hex (64 digits)", field);
    }
    if (n == CERT_SHA256_LEN) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "%s is longer than a SHA-256 fingerprint (64 hex digits)", field);
    }
    if (high < 0) {
      high = v;
    } else {
      out[n++] = (uint8_t)(high << 4 | v);
      high = -1;
    }
  }
  if (n != CERT_SHA256_LEN || high >= 0) {
    memset(out, 0, CERT_SHA256_LEN);
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s must be a SHA-256 fingerprint in hex (64 digits)%s", field,
                      n == 0 && high < 0 ? ", and it is empty" : "");
  }
  return 1;
}


static char *dup_or_empty(const char *s) {
  if (s == NULL || s[0] == '\0') {
    return (char *)protobuf_c_empty_string;
  }
  return strdup(s);
}

Smime__V1__Certificate *certificate_from_row(const PGresult *res, int row, time_t now) {
  Smime__V1__Certificate *c = malloc(sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  smime__v1__certificate__init(c);
  int64_t not_before = strtoll(PQgetvalue(res, row, 5), NULL, 10);
  int64_t not_after = strtoll(PQgetvalue(res, row, 6), NULL, 10);
  int stored_status = atoi(PQgetvalue(res, row, 12));
  char when[40];
  char reason[512];

  c->sha256_fingerprint = dup_or_empty(PQgetvalue(res, row, 0));
  c->sha1_fingerprint = dup_or_empty(PQgetvalue(res, row, 1));
  c->subject = dup_or_empty(PQgetvalue(res, row, 2));
  c->issuer = dup_or_empty(PQgetvalue(res, row, 3));
  c->serial = dup_or_empty(PQgetvalue(res, row, 4));
  c->not_before = timestamp_from_unix_us(not_before * 1000000);
  c->not_after = timestamp_from_unix_us(not_after * 1000000);
  c->key_algorithm = (Smime__V1__KeyAlgorithm)atoi(PQgetvalue(res, row, 7));
  c->key_bits = (uint32_t)atoi(PQgetvalue(res, row, 8));
  c->can_sign = PQgetvalue(res, row, 9)[0] == 't';
  c->can_encrypt = PQgetvalue(res, row, 10)[0] == 't';
  c->is_ca = PQgetvalue(res, row, 11)[0] == 't';
  c->import_time = timestamp_from_unix_us(strtoll(PQgetvalue(res, row, 14), NULL, 10));
  c->has_private_key = PQgetvalue(res, row, 15)[0] == 't';

  reason[0] = '\0';
  if (stored_status == SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_FOR_SMIME;
    snprintf(reason, sizeof(reason), "%s", PQgetvalue(res, row, 13));
  } else if ((int64_t)now >= not_after) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_EXPIRED;
    format_utc_time(not_after, when, sizeof(when));
    snprintf(reason, sizeof(reason), "expired on %s", when);
  } else if ((int64_t)now < not_before) {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_NOT_YET_VALID;
    format_utc_time(not_before, when, sizeof(when));
    snprintf(reason, sizeof(reason), "not valid before %s", when);
  } else {
    c->status = SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_VALID;
  }
  c->status_reason = dup_or_empty(reason);

  /* Addresses arrive as one newline-separated, sorted string. */
  const char *emails = PQgetvalue(res, row, 16);
  if (emails[0] != '\0') {
    size_t n = 1;
    for (const char *p = emails; *p != '\0'; p++) {
      n += *p == '\n';
    }
    c->email_addresses = calloc(n, sizeof(char *));
    if (c->email_addresses != NULL) {
      const char *start = emails;
      for (;;) {
        const char *nl = strchr(start, '\n');
        size_t len = nl != NULL ? (size_t)(nl - start) : strlen(start);
        char *e = strndup(start, len);
        if (e == NULL) {
          break;
        }
        c->email_addresses[c->n_email_addresses++] = e;
        if (nl == NULL) {
          break;
        }
        start = nl + 1;
      }
    }
  }
  if (c->sha256_fingerprint == NULL || c->sha1_fingerprint == NULL || c->subject == NULL ||
      c->issuer == NULL || c->serial == NULL || c->not_before == NULL ||
      c->not_after == NULL || c->import_time == NULL || c->status_reason == NULL ||
      (emails[0] != '\0' && c->email_addresses == NULL)) {
    /* free_unpacked frees what was allocated and skips NULL strings. */
    smime__v1__certificate__free_unpacked(c, NULL);
    return NULL;
  }
  return c;
}

/* text_param returns a malloc'd valid-UTF-8 copy of |s| for a text column. */
static char *text_param(const char *s) { return utf8_sanitize(s, TEXT_MAX); }

int certificate_store_insert(PGconn *conn, const Smime__Ipc__CertificateInfo *info,
                             int *out_new, int *out_broken, STATUS *err) {
  int ret = 0;
  PGresult *res = NULL;
  char *subject = NULL, *issuer = NULL, *serial = NULL, *reason = NULL;
  char nb[32], na[32], alg[16], bits[16], status[16];
  const char *params[21];
  int lengths[21];
  int formats[21];

  *out_new = 0;
  if (info->sha256.len != CERT_SHA256_LEN || info->sha1.len != 20 || info->der.len == 0) {
    return status_set(err, STATUS_INTERNAL, "the engine described a certificate incompletely");
  }
  subject = text_param(info->subject);
  issuer = text_param(info->issuer);
  serial = text_param(info->serial_hex);
  reason = text_param(info->status_reason);
  if (subject == NULL || issuer == NULL || serial == NULL || reason == NULL) {
    oom(err);
    goto out;
  }
  snprintf(nb, sizeof(nb), "%" PRId64, info->not_before);
  snprintf(na, sizeof(na), "%" PRId64, info->not_after);
  snprintf(alg, sizeof(alg), "%u", info->key_algorithm);
  snprintf(bits, sizeof(bits), "%u", info->key_bits);
  snprintf(status, sizeof(status), "%u", info->status);

  const ProtobufCBinaryData *bin[] = {&info->sha256,      &info->sha1,          &info->der,
                                      NULL,               NULL,                 NULL,
                                      &info->subject_der, &info->issuer_der,    &info->serial_der,
                                      &info->subject_key_id, &info->authority_key_id,
                                      &info->spki_sha256};
  const char *text[] = {NULL, NULL, NULL, subject, issuer, serial};
  for (int i = 0; i < 12; i++) {
    if (bin[i] != NULL) {
      /* An absent optional value (no key identifier) is stored as NULL. */
      params[i] = bin[i]->len > 0 ? (const char *)bin[i]->data : NULL;
      lengths[i] = (int)bin[i]->len;
      formats[i] = 1;
    } else {
      params[i] = text[i];
      lengths[i] = 0;
      formats[i] = 0;
    }
  }
  const char *rest[] = {nb, na, alg, bits, info->can_sign ? "t" : "f",
                        info->can_encrypt ? "t" : "f", info->is_ca ? "t" : "f", status, reason};
  for (int i = 0; i < 9; i++) {
    params[12 + i] = rest[i];
    lengths[12 + i] = 0;
    formats[12 + i] = 0;
  }
  res = PQexecParams(
      conn,
      "INSERT INTO certificates (sha256, sha1, der, subject, issuer, serial, subject_der, "
      "issuer_der, serial_der, subject_key_id, authority_key_id, spki_sha256, not_before, "
      "not_after, key_algorithm, key_bits, can_sign, can_encrypt, is_ca, status, status_reason) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, to_timestamp($13), "
      "to_timestamp($14), $15, $16, $17, $18, $19, $20, $21) "
      "ON CONFLICT (sha256) DO NOTHING RETURNING id",
      21, NULL, params, lengths, formats, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "storing a certificate", out_broken, err);
    goto out;
  }
  if (PQntuples(res) == 0) {
    ret = 1; /* stored already: *out_new stays 0 */
    goto out;
  }
  char id[32];
  snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  res = NULL;
  for (size_t i = 0; i < info->n_emails; i++) {
    char *email = utf8_sanitize(info->emails[i], 320);
    if (email == NULL) {
      oom(err);
      goto out;
    }
    ascii_lower(email);
    const char *eparams[2] = {id, email};
    res = PQexecParams(conn,
                       "INSERT INTO certificate_emails (certificate_id, email) VALUES ($1, $2) "
                       "ON CONFLICT DO NOTHING",
                       2, NULL, eparams, NULL, NULL, 0);
    free(email);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
      db_result_status(conn, res, "storing a certificate's address", out_broken, err);
      goto out;
    }
    PQclear(res);
    res = NULL;
  }
  *out_new = 1;
  ret = 1;

out:
  PQclear(res);
  free(subject);
  free(issuer);
  free(serial);
  free(reason);
  return ret;
}

/* check_kek_unchanged fails unless the database still records |kek_check| as its
 * key-encryption key. FOR SHARE waits for (and then sees) a rotation in progress: a
 * daemon that lost its advisory lock (PostgreSQL restarted under it) while
 * smimed --rotate-kek ran must not store keys wrapped under the retired key. */
static int check_kek_unchanged(PGconn *conn, const char *kek_check, int *out_broken,
                               STATUS *err) {
  PGresult *res = PQexec(conn, "SELECT check_value FROM key_encryption_key FOR SHARE");
  int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
  if (!ok) {
    db_result_status(conn, res, "reading the key-encryption key's check value", out_broken,
                     err);
  } else if (PQntuples(res) != 1 || strcasecmp(PQgetvalue(res, 0, 0), kek_check) != 0) {
    ok = status_set(err, STATUS_FAILED_PRECONDITION,
                    "the database's key-encryption key is now %s, not this daemon's %s "
                    "(smimed --rotate-kek ran): restart smimed with the new key file",
                    PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "unset", kek_check);
  }
  PQclear(res);
  return ok;
}

int certificate_store_attach_key(PGconn *conn, const ProtobufCBinaryData *sha256,
                                 const ProtobufCBinaryData *wrapped, const char *kek_check,
                                 int *out_broken, STATUS *err) {
  if (!check_kek_unchanged(conn, kek_check, out_broken, err)) {
    return 0;
  }
  const char *params[3] = {(const char *)sha256->data, (const char *)wrapped->data, kek_check};
  int lengths[3] = {(int)sha256->len, (int)wrapped->len, 0};
  int formats[3] = {1, 1, 0};
  PGresult *res = PQexecParams(
      conn,
      "INSERT INTO private_keys (certificate_id, wrapped, kek_check) "
      "SELECT id, $2, $3 FROM certificates WHERE sha256 = $1 "
      "ON CONFLICT (certificate_id) DO UPDATE SET wrapped = EXCLUDED.wrapped, "
      "kek_check = EXCLUDED.kek_check, created_at = now()",
      3, NULL, params, lengths, formats, 0);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) {
    db_result_status(conn, res, "storing a private key", out_broken, err);
  } else if (strcmp(PQcmdTuples(res), "1") != 0) {
    ok = status_set(err, STATUS_NOT_FOUND, "the certificate of this private key is not stored");
  }
  PQclear(res);
  return ok;
}

void certificate_ders_free(ProtobufCBinaryData *ders, size_t n) {
  if (ders == NULL) {
    return;
  }
  for (size_t i = 0; i < n; i++) {
    free(ders[i].data);
  }
  free(ders);
}

int certificate_ders_from_result(const PGresult *res, ProtobufCBinaryData **out,
                                 size_t *out_n, STATUS *err) {
  int rows = PQntuples(res);
  ProtobufCBinaryData *ders = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*ders));
  if (ders == NULL) {
    return oom(err);
  }
  for (int i = 0; i < rows; i++) {
    size_t len = (size_t)PQgetlength(res, i, 0);
    ders[i].data = malloc(len > 0 ? len : 1);
    if (ders[i].data == NULL) {
      certificate_ders_free(ders, (size_t)i);
      return oom(err);
    }
    memcpy(ders[i].data, PQgetvalue(res, i, 0), len);
    ders[i].len = len;
  }
  *out = ders;
  *out_n = (size_t)rows;
  return 1;
}

int certificate_store_ders_by_spki(DB *db, const ProtobufCBinaryData *spki, size_t max,
                                   ProtobufCBinaryData **out, size_t *out_n, STATUS *err) {
  int ret = 0, broken = 0;
  char limit[32];
  PGresult *res = NULL;
  *out = NULL;
  *out_n = 0;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  snprintf(limit, sizeof(limit), "%zu", max);
  const char *params[2] = {(const char *)spki->data, limit};
  int lengths[2] = {(int)spki->len, 0};
  int formats[2] = {1, 0};
  res = PQexecParams(conn,
                     "SELECT der FROM certificates WHERE spki_sha256 = $1 "
                     "ORDER BY id DESC LIMIT $2",
                     2, NULL, params, lengths, formats, 1);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "finding the certificates of a key", &broken, err);
    goto out;
  }
  ret = certificate_ders_from_result(res, out, out_n, err);

out:
  PQclear(res);
  db_release(db, conn, broken);
  return ret;
}

/* select_one_cert runs "SELECT kCertColumns FROM certificates c WHERE c.sha256 = $1". */
static PGresult *select_one_cert(DB *db, PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN],
                                 const char *suffix) {
  char sql[2048];
  snprintf(sql, sizeof(sql), "SELECT %s FROM certificates c WHERE c.sha256 = $1%s",
           kCertColumns, suffix);
  const char *params[1] = {(const char *)sha256};
  int lengths[1] = {CERT_SHA256_LEN};
  int formats[1] = {1};
  return db_exec_cached(db, conn, sql, 1, params, lengths, formats, 0);
}

static void hex_fingerprint(const uint8_t sha256[CERT_SHA256_LEN], char out[65]) {
  for (int i = 0; i < CERT_SHA256_LEN; i++) {
    snprintf(out + 2 * i, 3, "%02x", sha256[i]);
  }
}

int certificate_store_get_on(DB *db, PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN],
                             time_t now, Smime__V1__Certificate **out, int *out_broken,
                             STATUS *err) {
  int ret = 0;
  char hex[65];
  *out = NULL;
  PGresult *res = select_one_cert(db, conn, sha256, "");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "reading a certificate", out_broken, err);
    goto out;
  }
  if (PQntuples(res) == 0) {
    hex_fingerprint(sha256, hex);
    status_set(err, STATUS_NOT_FOUND, "no certificate with SHA-256 fingerprint %s", hex);
    goto out;
  }
  *out = certificate_from_row(res, 0, now);
  if (*out == NULL) {
    oom(err);
    goto out;
  }
  ret = 1;

out:
  PQclear(res);
  return ret;
}

int certificate_store_get(DB *db, const uint8_t sha256[CERT_SHA256_LEN], time_t now,
                          Smime__V1__Certificate **out, STATUS *err) {
  int broken = 0;
  *out = NULL;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  int ok = certificate_store_get_on(db, conn, sha256, now, out, &broken, err);
  db_release(db, conn, broken);
  return ok;
}

int certificate_store_export(DB *db, const uint8_t sha256[CERT_SHA256_LEN], int with_chain,
                             ProtobufCBinaryData **out, size_t *out_n, STATUS *err) {
  int ret = 0, broken = 0;
  PGresult *res = NULL;
  ProtobufCBinaryData *ders = NULL;
  size_t n = 0;
  uint8_t current[CERT_SHA256_LEN];
  char hex[65];
  *out = NULL;
  *out_n = 0;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  ders = calloc(CHAIN_MAX, sizeof(*ders));
  if (ders == NULL) {
    oom(err);
    goto out;
  }
  memcpy(current, sha256, CERT_SHA256_LEN);
  for (n = 0; n < CHAIN_MAX;) {
    /* Leaf by fingerprint; then each issuer: a stored CA whose subject is this
     * certificate's issuer (preferring the key identifier match), not itself. */
    const char *params[1] = {(const char *)current};
    int lengths[1] = {CERT_SHA256_LEN};
    int formats[1] = {1};
    res = db_exec_cached(
        db, conn,
        n == 0 ? "SELECT der, sha256, (issuer_der = subject_der) FROM certificates WHERE sha256 = $1"
               : "SELECT i.der, i.sha256, (i.issuer_der = i.subject_der) "
                 "FROM certificates c JOIN certificates i ON i.subject_der = c.issuer_der "
                 "AND i.is_ca AND i.id <> c.id WHERE c.sha256 = $1 "
                 "ORDER BY (i.subject_key_id = c.authority_key_id) DESC NULLS LAST, i.id DESC "
                 "LIMIT 1",
        1, params, lengths, formats, 1);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
      db_result_status(conn, res, "reading a certificate", &broken, err);
      goto out;
    }
    if (PQntuples(res) == 0) {
      if (n == 0) {
        hex_fingerprint(sha256, hex);
        status_set(err, STATUS_NOT_FOUND, "no certificate with SHA-256 fingerprint %s", hex);
        goto out;
      }
      break;
    }
    size_t len = (size_t)PQgetlength(res, 0, 0);
    ders[n].data = malloc(len > 0 ? len : 1);
    if (ders[n].data == NULL) {
      oom(err);
      goto out;
    }
    memcpy(ders[n].data, PQgetvalue(res, 0, 0), len);
    ders[n].len = len;
    n++;
    int self_signed = PQgetvalue(res, 0, 2)[0] == 1;
    if (PQgetlength(res, 0, 1) == CERT_SHA256_LEN) {
      memcpy(current, PQgetvalue(res, 0, 1), CERT_SHA256_LEN);
    }
    PQclear(res);
    res = NULL;
    if (!with_chain || self_signed) {
      break;
    }
  }
  *out = ders;
  *out_n = n;
  ders = NULL;
  ret = 1;

out:
  PQclear(res);
  certificate_ders_free(ders, n);
  db_release(db, conn, broken);
  return ret;
}

/* like_pattern returns "%text%" with LIKE's wildcards in |text| escaped. */
static char *like_pattern(const char *text) {
  size_t len = strlen(text);
  char *p = malloc(2 * len + 3);
  if (p == NULL) {
    return NULL;
  }
  size_t j = 0;
  p[j++] = '%';
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '%' || text[i] == '_' || text[i] == '\\') {
      p[j++] = '\\';
    }
    p[j++] = text[i];
  }
  p[j++] = '%';
  p[j] = '\0';
  return p;
}

static const char *tri(int set, int value) { return !set ? "-" : value ? "1" : "0"; }

int certificate_store_list(DB *db, const Smime__V1__ListCertificatesRequest *req, time_t now,
                           Smime__V1__ListCertificatesResponse **out, STATUS *err) {
  int ret = 0, broken = 0;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  STRBUF sql, canonical;
  char *email = NULL, *pattern = NULL, *canonical_s = NULL;
  char after_s[32], limit_s[16];
  const char *params[4];
  int n_params = 0;
  int64_t after_id = 0;
  Smime__V1__ListCertificatesResponse *resp = NULL;

  *out = NULL;
  strbuf_init(&sql);
  strbuf_init(&canonical);
  if (req->page_size < 0 || req->page_size > PAGE_SIZE_MAX) {
    status_set(err, STATUS_INVALID_ARGUMENT, "page_size must be from 0 (default %d) to %d",
               PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX);
    goto out;
  }
  int page_size = req->page_size == 0 ? PAGE_SIZE_DEFAULT : req->page_size;
  int has_key_set = req->has_private_key_filter_case ==
                    SMIME__V1__LIST_CERTIFICATES_REQUEST__HAS_PRIVATE_KEY_FILTER_HAS_PRIVATE_KEY;
  int ca_set = req->ca_filter_case == SMIME__V1__LIST_CERTIFICATES_REQUEST__CA_FILTER_CA;
  int usable_set =
      req->usable_filter_case == SMIME__V1__LIST_CERTIFICATES_REQUEST__USABLE_FILTER_USABLE;
  email = utf8_sanitize(req->email, 320);
  if (email == NULL) {
    oom(err);
    goto out;
  }
  ascii_lower(email);
  strbuf_printf(&canonical, "e=%s\nq=%s\nk=%s\nc=%s\nu=%s", email,
                req->query != NULL ? req->query : "", tri(has_key_set, req->has_private_key),
                tri(ca_set, req->ca), tri(usable_set, req->usable));
  canonical_s = strbuf_take(&canonical);
  if (canonical_s == NULL) {
    oom(err);
    goto out;
  }
  if (req->page_token != NULL && req->page_token[0] != '\0' &&
      !page_token_parse(kCertTokenDomain, req->page_token, canonical_s, &after_id, err)) {
    goto out;
  }

  strbuf_printf(&sql, "SELECT %s FROM certificates c WHERE true", kCertColumns);
  if (email[0] != '\0') {
    params[n_params++] = email;
    strbuf_printf(&sql, " AND c.id IN (SELECT certificate_id FROM certificate_emails "
                        "WHERE email = $%d)", n_params);
  }
  if (req->query != NULL && req->query[0] != '\0') {
    pattern = like_pattern(req->query);
    if (pattern == NULL || !utf8_check(req->query, NULL)) {
      if (pattern == NULL) {
        oom(err);
      } else {
        status_set(err, STATUS_INVALID_ARGUMENT, "query is not valid UTF-8");
      }
      goto out;
    }
    params[n_params++] = pattern;
    strbuf_printf(&sql, " AND (c.subject ILIKE $%d OR c.issuer ILIKE $%d OR EXISTS ("
                        "SELECT 1 FROM certificate_emails e WHERE e.certificate_id = c.id "
                        "AND e.email ILIKE $%d))", n_params, n_params, n_params);
  }
  if (has_key_set) {
    strbuf_printf(&sql, " AND %sEXISTS (SELECT 1 FROM private_keys k "
                        "WHERE k.certificate_id = c.id)", req->has_private_key ? "" : "NOT ");
  }
  if (ca_set) {
    strbuf_printf(&sql, " AND %sc.is_ca", req->ca ? "" : "NOT ");
  }
  if (usable_set) {
    strbuf_printf(&sql, " AND %s(c.status = %d AND (c.can_sign OR c.can_encrypt) AND "
                        "c.not_before <= now() AND c.not_after > now())",
                  req->usable ? "" : "NOT ",
                  SMIME__V1__CERTIFICATE_STATUS__CERTIFICATE_STATUS_VALID);
  }
  if (after_id > 0) {
    snprintf(after_s, sizeof(after_s), "%" PRId64, after_id);
    params[n_params++] = after_s;
    strbuf_printf(&sql, " AND c.id < $%d", n_params);
  }
  snprintf(limit_s, sizeof(limit_s), "%d", page_size + 1);
  params[n_params++] = limit_s;
  strbuf_printf(&sql, " ORDER BY c.id DESC LIMIT $%d", n_params);
  if (sql.failed) {
    oom(err);
    goto out;
  }

  conn = db_acquire(db, err);
  if (conn == NULL) {
    goto out;
  }
  res = PQexecParams(conn, sql.data, n_params, NULL, params, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "listing certificates", &broken, err);
    goto out;
  }
  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    oom(err);
    goto out;
  }
  smime__v1__list_certificates_response__init(resp);
  int rows = PQntuples(res);
  int shown = rows > page_size ? page_size : rows;
  resp->certificates = calloc(shown > 0 ? (size_t)shown : 1, sizeof(*resp->certificates));
  if (resp->certificates == NULL) {
    oom(err);
    goto out;
  }
  for (int i = 0; i < shown; i++) {
    resp->certificates[i] = certificate_from_row(res, i, now);
    if (resp->certificates[i] == NULL) {
      oom(err);
      goto out;
    }
    resp->n_certificates++;
  }
  if (rows > page_size) {
    int64_t last = strtoll(PQgetvalue(res, shown - 1, CERT_COL_ID), NULL, 10);
    resp->next_page_token = page_token_make(kCertTokenDomain, last, canonical_s);
    if (resp->next_page_token == NULL) {
      resp->next_page_token = (char *)protobuf_c_empty_string;
      oom(err);
      goto out;
    }
  }
  *out = resp;
  resp = NULL;
  ret = 1;

out:
  PQclear(res);
  if (conn != NULL) {
    db_release(db, conn, broken);
  }
  if (resp != NULL) {
    smime__v1__list_certificates_response__free_unpacked(resp, NULL);
  }
  strbuf_cleanup(&sql);
  strbuf_cleanup(&canonical);
  free(canonical_s);
  free(email);
  free(pattern);
  return ret;
}

/* delete_where runs a DELETE keyed by the certificate's fingerprint and returns the
 * number of rows it removed, or -1. */
static long delete_where(PGconn *conn, const char *sql, const uint8_t sha256[CERT_SHA256_LEN],
                         int *out_broken, STATUS *err) {
  const char *params[1] = {(const char *)sha256};
  int lengths[1] = {CERT_SHA256_LEN};
  int formats[1] = {1};
  PGresult *res = PQexecParams(conn, sql, 1, NULL, params, lengths, formats, 0);
  long n = -1;
  if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
    db_result_status(conn, res, "deleting", out_broken, err);
  } else {
    n = strtol(PQcmdTuples(res), NULL, 10);
  }
  PQclear(res);
  return n;
}

int certificate_store_delete(PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN], time_t now,
                             Smime__V1__Certificate **out_deleted, int *out_had_key,
                             int *out_broken, STATUS *err) {
  Smime__V1__Certificate *cert = NULL;
  *out_deleted = NULL;
  *out_had_key = 0;
  if (!certificate_store_get_on(NULL, conn, sha256, now, &cert, out_broken, err)) {
    return 0;
  }
  /* Addresses and the private key go with it (ON DELETE CASCADE). */
  if (delete_where(conn, "DELETE FROM certificates WHERE sha256 = $1", sha256, out_broken,
                   err) < 0) {
    smime__v1__certificate__free_unpacked(cert, NULL);
    return 0;
  }
  *out_had_key = cert->has_private_key;
  *out_deleted = cert;
  return 1;
}

int certificate_store_delete_key(PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN],
                                 time_t now, Smime__V1__Certificate **out_cert,
                                 int *out_broken, STATUS *err) {
  Smime__V1__Certificate *cert = NULL;
  char hex[65];
  *out_cert = NULL;
  if (!certificate_store_get_on(NULL, conn, sha256, now, &cert, out_broken, err)) {
    return 0;
  }
  long n = delete_where(conn,
                        "DELETE FROM private_keys WHERE certificate_id = "
                        "(SELECT id FROM certificates WHERE sha256 = $1)",
                        sha256, out_broken, err);
  if (n <= 0) {
    smime__v1__certificate__free_unpacked(cert, NULL);
    if (n == 0) {
      hex_fingerprint(sha256, hex);
      status_set(err, STATUS_NOT_FOUND, "certificate %s has no private key", hex);
    }
    return 0;
  }
  cert->has_private_key = 0;
  *out_cert = cert;
  return 1;
}
