/* migrations.c: see migrations.h. */
#include "service/db/migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/common/log.h"
#include "service/db/db.h"

/* LOGS_ORDER_LOCK_KEY_SQL is the advisory lock that orders inserts into logs
 * ("smlogs" in ASCII); distinct from MIGRATIONS_LOCK_KEY. */
#define LOGS_ORDER_LOCK_KEY_SQL "126913807869811"

/* kSchemaV1 is everything the product stores: settings, group defaults, the
 * key-encryption key's check value, certificates with their addresses and wrapped
 * private keys, and the audit log with what ListRetryable needs.
 *
 * Conventions: times are timestamptz (UTC on the wire); fingerprints and DER values are
 * bytea; enums hold the proto's numeric values; text columns that the protos carry as
 * proto3 strings are NOT NULL DEFAULT '' so that "unset" has one spelling. */
static const char kSchemaV1[] =
    /* settings: exactly one row (singleton is always true), created here so that readers
     * never need to handle "no row". updated_at and updated_by stay NULL until the first
     * change. */
    "CREATE TABLE settings (\n"
    "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),\n"
    "  enabled boolean NOT NULL DEFAULT false,\n"
    "  updated_at timestamptz,\n"
    "  updated_by text\n"
    ");\n"
    "INSERT INTO settings (singleton) VALUES (true);\n"

    /* group_defaults: one row per helpdesk group with composer defaults. Names are
     * compared exactly (the helpdesk's own spelling). */
    "CREATE TABLE group_defaults (\n"
    "  group_name text PRIMARY KEY\n"
    "    CHECK (char_length(group_name) BETWEEN 1 AND 200),\n"
    "  default_sign boolean NOT NULL DEFAULT false,\n"
    "  default_encrypt boolean NOT NULL DEFAULT false\n"
    ");\n"

    /* key_encryption_key: the check value (ServiceStatus.kek_check_value) of the KEK the
     * private keys below are wrapped with, recorded on first start, so that a replica
     * started with another KEK refuses to run instead of failing every decryption. */
    "CREATE TABLE key_encryption_key (\n"
    "  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),\n"
    "  check_value text NOT NULL,\n"
    "  created_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"

    /* certificates: every certificate an admin imported (end-entity and CA; all are
     * trust anchors). Columns filled by the engine's parse:
     *   sha256, sha1      fingerprints of der
     *   subject, issuer   RFC 4514-style text for people; subject_der, issuer_der the
     *                     DER Names, to find issuers when building chains and to match
     *                     issuerAndSerialNumber recipient and signer identifiers
     *   serial            hex for people; serial_der the INTEGER's content octets
     *   subject_key_id    the SKI extension, for subjectKeyIdentifier identifiers;
     *   authority_key_id  the AKI keyIdentifier, for chain building
     *   spki_sha256       SHA-256 of the SubjectPublicKeyInfo, to attach an imported
     *                     private key to every certificate of its public key
     *   status            the proto's CertificateStatus as far as it does not depend
     *                     on time (NOT_FOR_SMIME, else VALID); expired and not yet
     *                     valid are computed from not_before/not_after when read
     *   created_at        import_time */
    "CREATE TABLE certificates (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  sha256 bytea NOT NULL UNIQUE CHECK (length(sha256) = 32),\n"
    "  sha1 bytea NOT NULL CHECK (length(sha1) = 20),\n"
    "  der bytea NOT NULL,\n"
    "  subject text NOT NULL DEFAULT '',\n"
    "  issuer text NOT NULL DEFAULT '',\n"
    "  serial text NOT NULL DEFAULT '',\n"
    "  subject_der bytea,\n"
    "  issuer_der bytea,\n"
    "  serial_der bytea,\n"
    "  subject_key_id bytea,\n"
    "  authority_key_id bytea,\n"
    "  spki_sha256 bytea,\n"
    "  not_before timestamptz NOT NULL,\n"
    "  not_after timestamptz NOT NULL,\n"
    "  key_algorithm integer NOT NULL DEFAULT 0,\n"
    "  key_bits integer NOT NULL DEFAULT 0,\n"
    "  can_sign boolean NOT NULL DEFAULT false,\n"
    "  can_encrypt boolean NOT NULL DEFAULT false,\n"
    "  is_ca boolean NOT NULL DEFAULT false,\n"
    "  status integer NOT NULL DEFAULT 0,\n"
    "  status_reason text NOT NULL DEFAULT '',\n"
    "  created_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"
    "CREATE INDEX certificates_sha1 ON certificates (sha1);\n"
    "CREATE INDEX certificates_issuer_serial ON certificates (issuer_der, serial_der);\n"
    "CREATE INDEX certificates_subject_der ON certificates (subject_der);\n"
    "CREATE INDEX certificates_subject_key_id ON certificates (subject_key_id);\n"
    "CREATE INDEX certificates_spki_sha256 ON certificates (spki_sha256);\n"
    "CREATE INDEX certificates_not_after ON certificates (not_after);\n"
    "CREATE INDEX certificates_is_ca ON certificates (id) WHERE is_ca;\n"

    /* certificate_emails: the addresses of a certificate (SAN rfc822Name and subject
     * emailAddress), stored lowercased, for "newest usable certificate for address". */
    "CREATE TABLE certificate_emails (\n"
    "  certificate_id bigint NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,\n"
    "  email text NOT NULL,\n"
    "  PRIMARY KEY (certificate_id, email)\n"
    ");\n"
    "CREATE INDEX certificate_emails_email ON certificate_emails (email, certificate_id);\n"

    /* private_keys: a certificate's private key, wrapped (AES-256-GCM) by the keystore
     * with the KEK whose check value is kek_check; the front never sees it unwrapped.
     * A key shared by several certificates (renewals) has one row per certificate. */
    "CREATE TABLE private_keys (\n"
    "  certificate_id bigint PRIMARY KEY\n"
    "    REFERENCES certificates (id) ON DELETE CASCADE,\n"
    "  wrapped bytea NOT NULL,\n"
    "  kek_check text NOT NULL DEFAULT '',\n"
    "  created_at timestamptz NOT NULL DEFAULT now()\n"
    ");\n"

    /* logs: the audit log (LogEntry).
     *
     * Order: the trigger below gives each row its id and created_at while holding a
     * transaction-level advisory lock, so that id order, created_at order and commit
     * order all agree (created_at never decreases, even if the clock steps back).
     * ListLogs relies on it: a time range is turned into an id range (two lookups in
     * the created_at index) and every listing is a walk down the primary key, and a
     * page token (the last id seen) can never skip a row committed later with a lower
     * id. The price is that writers of log rows queue for that lock until they commit:
     * write the audit entry last in a transaction.
     *
     * Indexes serve ListLogs' filters, each returning the newest matches first without
     * sorting a large set: (column, id) btrees for the equality filters, one partial
     * index per operation (ids of the rows that include it), GIN for addresses, and
     * (created_at, id) for the time range lookups. */
    "CREATE SEQUENCE logs_id_seq;\n"
    "CREATE TABLE logs (\n"
    "  id bigint PRIMARY KEY,\n"
    "  created_at timestamptz NOT NULL DEFAULT now(),\n"
    "  direction smallint NOT NULL DEFAULT 0,\n"
    "  operations smallint[] NOT NULL DEFAULT '{}',\n"
    "  status smallint NOT NULL DEFAULT 0,\n"
    "  message_id text NOT NULL DEFAULT '',\n"
    "  addresses text[] NOT NULL DEFAULT '{}',\n"
    "  caller text NOT NULL DEFAULT '',\n"
    "  rpc text NOT NULL DEFAULT '',\n"
    "  comment text NOT NULL DEFAULT '',\n"
    "  certificate_sha256 text[] NOT NULL DEFAULT '{}'\n"
    ");\n"
    "ALTER SEQUENCE logs_id_seq OWNED BY logs.id;\n"
    "CREATE FUNCTION logs_assign_order() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(" LOGS_ORDER_LOCK_KEY_SQL ");\n"
    "  NEW.id := nextval('logs_id_seq');\n"
    "  NEW.created_at := greatest(clock_timestamp(),\n"
    "    (SELECT created_at FROM logs ORDER BY id DESC LIMIT 1));\n"
    "  RETURN NEW;\n"
    "END\n"
    "$f$;\n"
    "CREATE TRIGGER logs_assign_order BEFORE INSERT ON logs\n"
    "  FOR EACH ROW EXECUTE FUNCTION logs_assign_order();\n"
    "CREATE INDEX logs_created_at ON logs (created_at, id);\n"
    "CREATE INDEX logs_message_id ON logs (message_id, id);\n"
    "CREATE INDEX logs_direction ON logs (direction, id);\n"
    "CREATE INDEX logs_status ON logs (status, id);\n"
    "CREATE INDEX logs_addresses ON logs USING gin (addresses);\n"
    "CREATE INDEX logs_certificate_sha256 ON logs USING gin (certificate_sha256);\n"
    "CREATE INDEX logs_op_sign ON logs (id) WHERE operations @> '{1}'::smallint[];\n"
    "CREATE INDEX logs_op_encrypt ON logs (id) WHERE operations @> '{2}'::smallint[];\n"
    "CREATE INDEX logs_op_verify ON logs (id) WHERE operations @> '{3}'::smallint[];\n"
    "CREATE INDEX logs_op_decrypt ON logs (id) WHERE operations @> '{4}'::smallint[];\n"
    "CREATE INDEX logs_op_import_certificate ON logs (id)\n"
    "  WHERE operations @> '{5}'::smallint[];\n"
    "CREATE INDEX logs_op_import_private_key ON logs (id)\n"
    "  WHERE operations @> '{6}'::smallint[];\n"
    "CREATE INDEX logs_op_delete_certificate ON logs (id)\n"
    "  WHERE operations @> '{7}'::smallint[];\n"
    "CREATE INDEX logs_op_delete_private_key ON logs (id)\n"
    "  WHERE operations @> '{8}'::smallint[];\n"
    "CREATE INDEX logs_op_update_settings ON logs (id)\n"
    "  WHERE operations @> '{9}'::smallint[];\n"
    "\n"
    /* log_retry_hints: for a DecryptVerify that failed for want of a private key (need
     * 1: a key for one of the message's recipient identifiers) or of a trusted
     * certificate (need 2: the signer's certificate or its issuer), the identifiers
     * that would have helped. ListRetryable joins these with certificates and
     * private_keys imported after logs.created_at. The message itself is never
     * stored: the helpdesk retries with its own copy, found by message_id. */
    "CREATE TABLE log_retry_hints (\n"
    "  id bigserial PRIMARY KEY,\n"
    "  log_id bigint NOT NULL REFERENCES logs (id) ON DELETE CASCADE,\n"
    "  need smallint NOT NULL,\n"
    "  issuer_der bytea,\n"
    "  serial_der bytea,\n"
    "  subject_key_id bytea,\n"
    "  resolved_at timestamptz\n"
    ");\n"
    "CREATE INDEX log_retry_hints_log_id ON log_retry_hints (log_id);\n"
    "CREATE INDEX log_retry_hints_issuer_serial ON log_retry_hints (issuer_der, serial_der)\n"
    "  WHERE resolved_at IS NULL;\n"
    "CREATE INDEX log_retry_hints_subject_key_id ON log_retry_hints (subject_key_id)\n"
    "  WHERE resolved_at IS NULL;\n";

/* kSchemaV2: every change to what the front caches (query_cache.h) is announced on the
 * channel smimed_changes, once per statement, on commit (PostgreSQL folds the repeats
 * of one transaction into one), so that every replica drops its cache. */
static const char kSchemaV2[] =
    "CREATE FUNCTION smimed_notify_change() RETURNS trigger LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  PERFORM pg_notify('smimed_changes', '');\n"
    "  RETURN NULL;\n"
    "END\n"
    "$f$;\n"
    "CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON settings FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    "CREATE TRIGGER group_defaults_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON group_defaults FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    "CREATE TRIGGER certificates_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON certificates FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    "CREATE TRIGGER certificate_emails_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON certificate_emails FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    "CREATE TRIGGER private_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON private_keys FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    "CREATE TRIGGER key_encryption_key_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE\n"
    "  ON key_encryption_key FOR EACH STATEMENT EXECUTE FUNCTION smimed_notify_change();\n"
    /* smimed_resolve_hints marks the open retry hints of a message resolved (every
     * successful DecryptVerify calls it). In PL/pgSQL its plan is made once per
     * connection instead of once per call: measured 180 -> 45 us of server CPU. */
    "CREATE FUNCTION smimed_resolve_hints(p_message_id text) RETURNS void\n"
    "LANGUAGE plpgsql AS $f$\n"
    "BEGIN\n"
    "  UPDATE log_retry_hints h SET resolved_at = now()\n"
    "   WHERE h.resolved_at IS NULL\n"
    "     AND EXISTS (SELECT 1 FROM logs l WHERE l.id = h.log_id\n"
    "                 AND l.message_id = p_message_id);\n"
    "END\n"
    "$f$;\n";

const MIGRATION kMigrations[] = {
    {1, "initial schema", kSchemaV1},
    {2, "announce changes to cached tables; resolve retry hints in a function", kSchemaV2},
};

const size_t kMigrationsCount = sizeof(kMigrations) / sizeof(kMigrations[0]);

/* exec_ok runs |sql| (no parameters) and checks it succeeded. */
static int exec_ok(PGconn *conn, const char *sql, const char *what, int *out_broken,
                   STATUS *err) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    db_result_status(conn, res, what, out_broken, err);
    PQclear(res);
    return 0;
  }
  PQclear(res);
  return 1;
}

int migrations_apply(PGconn *conn, unsigned *out_version, int *out_broken, STATUS *err) {
  int ret = 0;
  int in_tx = 0;
  PGresult *res = NULL;
  char lock_sql[96];
  unsigned current = 0;
  unsigned latest = kMigrations[kMigrationsCount - 1].version;

  *out_version = 0;
  *out_broken = 0;

  if (!exec_ok(conn, "BEGIN", "starting the migration transaction", out_broken, err)) {
    goto err;
  }
  in_tx = 1;
  /* The lock is taken before even looking at schema_migrations, so that of several
   * replicas starting together one migrates and the others then find nothing to do. */
  snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_xact_lock(%lld)",
           (long long)MIGRATIONS_LOCK_KEY);
  if (!exec_ok(conn, lock_sql, "taking the migration lock", out_broken, err) ||
      !exec_ok(conn,
               "CREATE TABLE IF NOT EXISTS schema_migrations (\n"
               "  version integer PRIMARY KEY,\n"
               "  description text NOT NULL,\n"
               "  applied_at timestamptz NOT NULL DEFAULT now()\n"
               ")",
               "creating schema_migrations", out_broken, err)) {
    goto err;
  }

  res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "reading the schema version", out_broken, err);
    goto err;
  }
  current = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  res = NULL;

  if (current > latest) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "the database schema is version %u, newer than this smimed knows (%u): "
               "a newer smimed has used this database; run that version",
               current, latest);
    goto err;
  }

  for (size_t i = 0; i < kMigrationsCount; i++) {
    const MIGRATION *m = &kMigrations[i];
    char version[16];
    const char *params[2];
    char what[160];

    if (m->version <= current) {
      continue;
    }
    snprintf(what, sizeof(what), "applying migration %u (%s)", m->version,
             m->description);
    if (!exec_ok(conn, m->sql, what, out_broken, err)) {
      goto err;
    }
    snprintf(version, sizeof(version), "%u", m->version);
    params[0] = version;
    params[1] = m->description;
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, description) "
                       "VALUES ($1::integer, $2)",
                       2, NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
      db_result_status(conn, res, what, out_broken, err);
      goto err;
    }
    PQclear(res);
    res = NULL;
    log_info("database: applied migration %u (%s)", m->version, m->description);
  }

  if (!exec_ok(conn, "COMMIT", "committing the migrations", out_broken, err)) {
    in_tx = 0;
    goto err;
  }
  in_tx = 0;
  *out_version = latest;
  ret = 1;

err:
  PQclear(res);
  if (in_tx && !*out_broken) {
    PQclear(PQexec(conn, "ROLLBACK"));
  }
  return ret;
}
