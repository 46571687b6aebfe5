/* outgoing_store_test.c: outgoing_store_choose_all on a real PostgreSQL holding
 * many certificates with private keys, after VACUUM (as autovacuum leaves a
 * table that has grown):
 *   - the choice itself: a signer with its key, a recipient, an unknown
 * address;
 *   - the plan of its query, generic (what a pooled connection runs after five
 * calls) and custom: no "hashed SubPlan". With the has-a-key column written as
 * EXISTS, PostgreSQL read every private_keys row into a hash table on every
 * call once VACUUM had marked the table all-visible (14 to 30 ms per call with
 * 100,000 keys, instead of about 1 ms); this test fails on that form. */
#include "service/db/outgoing_store.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/db_testutil.h"
#include "service/db/pg_cluster.h"

/* kCertificates is how many certificates (each with a key) the table holds:
 * enough for a hashed subplan to look cheaper to the planner than a probe per
 * row. */
enum { kCertificates = 5000 };

/* kFill stores kCertificates valid leaves user000000@plan.example ... with a
 * key each. The DER is not a certificate: the choice never parses it. */
static const char kFill[] =
    "INSERT INTO certificates (sha256, sha1, der, subject, serial, not_before, "
    "not_after,"
    "  key_algorithm, key_bits, can_sign, can_encrypt, status)"
    " SELECT sha256(int8send(g)), substring(sha256(int8send(-g)) FROM 1 FOR "
    "20),"
    "  '\\x3000'::bytea, 'CN=User ' || g, to_hex(g), now() - interval '1 day',"
    "  now() + interval '1 year', 1, 2048, true, true, 1"
    " FROM generate_series(0, 4999) g;"
    "INSERT INTO certificate_emails (certificate_id, email)"
    " SELECT id, 'user' || lpad(substring(subject FROM 9), 6, '0') || "
    "'@plan.example'"
    " FROM certificates;"
    "INSERT INTO private_keys (certificate_id, wrapped) SELECT id, "
    "'\\x00'::bytea"
    " FROM certificates;";

/* exec_ok runs |sql| on |conn| and reports whether it succeeded. */
static int exec_ok(PGconn *conn, const char *sql) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(res);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) {
    fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(conn));
  }
  PQclear(res);
  return ok;
}

/* acquire takes a pooled connection for SQL of the test's own, counting a
 * failure. */
static PGconn *acquire(DB *db) {
  STATUS err;
  status_clear(&err);
  PGconn *conn = db_acquire(db, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    fprintf(stderr, "db_acquire: %s\n", err.message);
  }
  return conn;
}

static void fill(DB *db) {
  PGconn *conn = acquire(db);
  if (conn == NULL) {
    return;
  }
  CHECK(exec_ok(conn, kFill));
  /* VACUUM runs alone: not inside the implicit transaction of a multi-statement
   * text. */
  CHECK(exec_ok(conn, "VACUUM (ANALYZE) certificates"));
  CHECK(exec_ok(conn, "VACUUM (ANALYZE) certificate_emails"));
  CHECK(exec_ok(conn, "VACUUM (ANALYZE) private_keys"));
  db_release(db, conn, 0);
}

static void test_choice(DB *db) {
  /* The sender is asked for twice, as SignEncrypt and GetSecurityOptions do: for signing
   * and as a recipient of its own copy. */
  const char *addresses[4] = {"user000042@plan.example", "user004999@plan.example",
                              "nobody@plan.example", "user000042@plan.example"};
  const int purposes[4] = {OUTGOING_PURPOSE_SIGN, OUTGOING_PURPOSE_ENCRYPT,
                           OUTGOING_PURPOSE_ENCRYPT, OUTGOING_PURPOSE_ENCRYPT};
  OUTGOING_CHOICE out[4];
  STATUS err;
  status_clear(&err);
  int ok = outgoing_store_choose_all(db, addresses, purposes, 4, 0, time(NULL), out, &err);
  CHECK_STATUS(err, STATUS_OK);
  CHECK(ok);
  if (!ok) {
    return;
  }
  CHECK(out[0].cert != NULL && out[0].cert->has_private_key &&
        strcmp(out[0].cert->subject, "CN=User 42") == 0);
  CHECK(out[1].cert != NULL && strcmp(out[1].cert->subject, "CN=User 4999") == 0);
  CHECK(out[2].cert == NULL && strstr(out[2].reason, "nobody@plan.example") != NULL);
  CHECK(out[3].cert != NULL && out[3].cert != out[0].cert &&
        memcmp(out[3].sha256, out[0].sha256, CERT_SHA256_LEN) == 0 && out[3].der.len > 0);
  for (int i = 0; i < 4; i++) {
    outgoing_choice_cleanup(&out[i]);
  }
}

/* plan_has reports whether EXPLAIN (VERBOSE) of the prepared query, under
 * |cache_mode|, has a line containing |needle| (a hashed subplan shows only in
 * the Output lines of VERBOSE); -1 when EXPLAIN fails. */
static int plan_has(PGconn *conn, const char *cache_mode, const char *needle) {
  char set[96];
  snprintf(set, sizeof(set), "SET plan_cache_mode = %s", cache_mode);
  if (!exec_ok(conn, set)) {
    return -1;
  }
  PGresult *res = PQexec(conn, "EXPLAIN (VERBOSE) EXECUTE choose_all("
                               "'{user000001@plan.example,user000002@plan.example,"
                               "user000003@plan.example}')");
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    fprintf(stderr, "EXPLAIN: %s\n", PQerrorMessage(conn));
    PQclear(res);
    return -1;
  }
  int found = 0;
  for (int i = 0; i < PQntuples(res); i++) {
    if (strstr(PQgetvalue(res, i, 0), needle) != NULL) {
      fprintf(stderr, "%s plan: %.300s\n", cache_mode, PQgetvalue(res, i, 0));
      found = 1;
    }
  }
  PQclear(res);
  return found;
}

static void test_plan(DB *db) {
  PGconn *conn = acquire(db);
  if (conn == NULL) {
    return;
  }
  size_t len = strlen(kOutgoingChooseAllSql) + 64;
  char *prepare = malloc(len);
  CHECK(prepare != NULL);
  if (prepare == NULL) {
    db_release(db, conn, 1);
    return;
  }
  snprintf(prepare, len, "PREPARE choose_all(text[]) AS %s", kOutgoingChooseAllSql);
  CHECK(exec_ok(conn, prepare));
  CHECK(plan_has(conn, "force_generic_plan", "hashed SubPlan") == 0);
  CHECK(plan_has(conn, "force_custom_plan", "hashed SubPlan") == 0);
  /* The pooled connection goes back as the service uses it. */
  CHECK(exec_ok(conn, "DEALLOCATE choose_all"));
  CHECK(exec_ok(conn, "RESET plan_cache_mode"));
  db_release(db, conn, 0);
  free(prepare);
}

int main(void) {
  char *tmp = test_tmpdir();
  char dir[256];
  STATUS err;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  PG_CLUSTER *cluster = test_start_cluster(dir);
  status_clear(&err);
  DB *db = db_open(pg_cluster_conninfo(cluster), 1, &err);
  CHECK(db != NULL);
  if (db == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
    return 1;
  }
  fill(db);
  test_choice(db);
  test_plan(db);
  db_close(db);
  pg_cluster_stop(cluster);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("outgoing_store_test");
}
