/* certificate_store.h: CertificateService's storage: certificates as the engine parsed
 * them, their addresses, and the wrapped private keys the keystore produced. Nothing
 * here parses a certificate: every field comes from the engine (CertificateInfo). */
#ifndef SMIMED_DB_CERTIFICATE_STORE_H
#define SMIMED_DB_CERTIFICATE_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "smime/ipc/ipc.pb-c.h"
#include "smime/v1/certificate.pb-c.h"

/* CERT_SHA256_LEN is the length of a certificate's id, its SHA-256 fingerprint. */
#define CERT_SHA256_LEN 32

/* CERTIFICATE_COLUMNS selects a certificate from "certificates c" as
 * certificate_from_row reads it (CERTIFICATE_NCOLUMNS columns, text result format);
 * a query may select more after them.
 *
 * Whether a private key is stored is a scalar subquery (private_keys has one row per
 * certificate at most), not EXISTS: PostgreSQL may run an EXISTS in the select list as
 * a "hashed SubPlan", reading every row of private_keys into a hash table on each
 * execution, and it does so once VACUUM has marked private_keys all-visible. Measured
 * with 100,000 stored keys: 14 to 30 ms per GetSecurityOptions query instead of about
 * 1 ms. A scalar subquery is never hashed: it is one index probe per row returned. */
#define CERTIFICATE_COLUMNS                                                               \
  "encode(c.sha256, 'hex'), encode(c.sha1, 'hex'), c.subject, c.issuer, c.serial, "      \
  "extract(epoch FROM c.not_before)::bigint, extract(epoch FROM c.not_after)::bigint, "  \
  "c.key_algorithm, c.key_bits, c.can_sign, c.can_encrypt, c.is_ca, c.status, "          \
  "c.status_reason, (extract(epoch FROM c.created_at) * 1000000)::bigint, "              \
  "coalesce((SELECT true FROM private_keys k WHERE k.certificate_id = c.id), false), "  \
  "coalesce((SELECT string_agg(e.email, E'\\n' ORDER BY e.email) "                       \
  "FROM certificate_emails e WHERE e.certificate_id = c.id), ''), c.id"
#define CERTIFICATE_NCOLUMNS 18

/* certificate_from_row builds the API's view of row |row| of a result whose first
 * columns are CERTIFICATE_COLUMNS: the stored status, made time-dependent (expired,
 * not yet valid) for |now|. NULL when out of memory. Free with
 * smime__v1__certificate__free_unpacked. */
Smime__V1__Certificate *certificate_from_row(const PGresult *res, int row, time_t now);

/* certificate_fingerprint_parse reads a SHA-256 fingerprint in hex (colons, spaces and
 * case ignored) into |out|. INVALID_ARGUMENT naming |field| when it is not one. */
int certificate_fingerprint_parse(const char *text, const char *field,
                                  uint8_t out[CERT_SHA256_LEN], STATUS *err);

/* certificate_store_insert stores |info| on |conn| (inside the caller's transaction)
 * unless a certificate with the same SHA-256 is stored already. Sets |*out_new|. */
int certificate_store_insert(PGconn *conn, const Smime__Ipc__CertificateInfo *info,
                             int *out_new, int *out_broken, STATUS *err);

/* certificate_store_attach_key stores |wrapped| as the private key of the certificate
 * |sha256| (replacing an older one), recording the key-encryption key's check value.
 * Inside the caller's transaction it first checks that the database still records
 * |kek_check| (FAILED_PRECONDITION otherwise: the key was rotated under this daemon). */
int certificate_store_attach_key(PGconn *conn, const ProtobufCBinaryData *sha256,
                                 const ProtobufCBinaryData *wrapped, const char *kek_check,
                                 int *out_broken, STATUS *err);

/* certificate_store_ders_by_spki returns the DER of every stored certificate (at most
 * |max|) whose public key has SHA-256 |spki|, newest first. |*out| is an array of
 * malloc'd buffers; free with certificate_ders_free. */
int certificate_store_ders_by_spki(DB *db, const ProtobufCBinaryData *spki, size_t max,
                                   ProtobufCBinaryData **out, size_t *out_n, STATUS *err);

/* certificate_ders_from_result copies column 0 of every row of a binary-format result
 * (DER certificates) into |*out| (free with certificate_ders_free). */
int certificate_ders_from_result(const PGresult *res, ProtobufCBinaryData **out,
                                 size_t *out_n, STATUS *err);

/* certificate_ders_free frees what certificate_store_ders_by_spki and
 * certificate_store_export returned. Accepts NULL. */
void certificate_ders_free(ProtobufCBinaryData *ders, size_t n);

/* certificate_store_get loads one certificate as the API shows it (status computed for
 * |now|). NOT_FOUND naming the fingerprint when it is not stored. */
int certificate_store_get(DB *db, const uint8_t sha256[CERT_SHA256_LEN], time_t now,
                          Smime__V1__Certificate **out, STATUS *err);

/* certificate_store_get_on reads the same on |conn| (e.g. inside a transaction); with
 * |db| (may be NULL) and |conn| outside a transaction, through the query cache. */
int certificate_store_get_on(DB *db, PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN], time_t now,
                             Smime__V1__Certificate **out, int *out_broken, STATUS *err);

/* certificate_store_export returns the DER of certificate |sha256| and, with
 * |with_chain|, of its issuers found in the store, leaf first (at most 10 levels; a
 * self-signed certificate ends the chain). */
int certificate_store_export(DB *db, const uint8_t sha256[CERT_SHA256_LEN], int with_chain,
                             ProtobufCBinaryData **out, size_t *out_n, STATUS *err);

/* certificate_store_list answers ListCertificates: filters ANDed, newest import first,
 * page_size default 50 and at most 1000, opaque page tokens. */
int certificate_store_list(DB *db, const Smime__V1__ListCertificatesRequest *req, time_t now,
                           Smime__V1__ListCertificatesResponse **out, STATUS *err);

/* certificate_store_delete deletes certificate |sha256| and its private key on |conn|,
 * returning what was deleted in |*out_deleted| and whether it had a key. NOT_FOUND when
 * it is not stored. */
int certificate_store_delete(PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN], time_t now,
                             Smime__V1__Certificate **out_deleted, int *out_had_key,
                             int *out_broken, STATUS *err);

/* certificate_store_delete_key deletes the private key of certificate |sha256| on
 * |conn|. NOT_FOUND when the certificate is not stored or has no private key. */
int certificate_store_delete_key(PGconn *conn, const uint8_t sha256[CERT_SHA256_LEN],
                                 time_t now, Smime__V1__Certificate **out_cert,
                                 int *out_broken, STATUS *err);

#endif /* SMIMED_DB_CERTIFICATE_STORE_H */
