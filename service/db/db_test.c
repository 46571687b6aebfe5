/* db_test.c: the pool and the schema: migrations are applied once (also by replicas
 * starting together), a newer schema is refused, the KEK check value is recorded and
 * enforced, errors map to the right codes, and a restarted database is reconnected to
 * by itself. */
#include "service/db/db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/common/status.h"
#include "service/db/db_testutil.h"
#include "service/db/migrations.h"
#include "service/db/pg_cluster.h"

static const char *g_conninfo;

/* query_value runs |sql| on a pooled connection and copies the first value. */
static int query_value(DB *db, const char *sql, char *out, size_t out_len) {
  STATUS err;
  int broken = 0;
  int ok = 0;
  PGconn *conn = db_acquire(db, &err);
  PGresult *res;
  if (conn == NULL) {
    return 0;
  }
  res = PQexec(conn, sql);
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
    snprintf(out, out_len, "%s", PQgetvalue(res, 0, 0));
    ok = 1;
  } else if (PQresultStatus(res) == PGRES_COMMAND_OK) {
    out[0] = '\0';
    ok = 1;
  } else {
    db_result_status(conn, res, "query", &broken, &err);
    fprintf(stderr, "%s: %s\n", sql, err.message);
  }
  PQclear(res);
  db_release(db, conn, broken);
  return ok;
}

static void *open_thread(void *arg) {
  STATUS err;
  DB *db = db_open(g_conninfo, 1, &err);
  (void)arg;
  if (db == NULL) {
    fprintf(stderr, "concurrent db_open: %s\n", err.message);
    return (void *)1;
  }
  db_close(db);
  return NULL;
}

static void test_migrations(DB *db) {
  STATUS err;
  char v[64];
  pthread_t threads[4];
  int all_ok = 1;
  DB *again;

  CHECK(db_schema_version(db) == kMigrations[kMigrationsCount - 1].version);
  CHECK(query_value(db, "SELECT count(*) FROM schema_migrations", v, sizeof(v)));
  CHECK(strtoul(v, NULL, 10) == kMigrationsCount);
  CHECK(query_value(db, "SELECT enabled FROM settings", v, sizeof(v)) &&
        strcmp(v, "f") == 0);

  /* Replicas starting together: one migrates (already done here), all succeed. */
  for (int i = 0; i < 4; i++) {
    pthread_create(&threads[i], NULL, open_thread, NULL);
  }
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(threads[i], &r);
    all_ok = all_ok && r == NULL;
  }
  CHECK(all_ok);
  CHECK(query_value(db, "SELECT count(*) FROM schema_migrations", v, sizeof(v)));
  CHECK(strtoul(v, NULL, 10) == kMigrationsCount);

  /* A schema from a newer smimed is refused rather than written to. */
  CHECK(query_value(db,
                    "INSERT INTO schema_migrations (version, description) "
                    "VALUES (9999, 'from the future')",
                    v, sizeof(v)));
  status_clear(&err);
  again = db_open(g_conninfo, 1, &err);
  CHECK(again == NULL);
  CHECK_STATUS(err, STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "9999") != NULL);
  db_close(again);
  CHECK(query_value(db, "DELETE FROM schema_migrations WHERE version = 9999", v,
                    sizeof(v)));
}

static void test_kek(DB *db) {
  STATUS err;
  status_clear(&err);
  CHECK(db_check_kek(db, "0123456789abcdef", &err));
  CHECK(db_check_kek(db, "0123456789abcdef", &err));
  CHECK(db_check_kek(db, "0123456789ABCDEF", &err));
  status_clear(&err);
  CHECK(!db_check_kek(db, "fedcba9876543210", &err));
  CHECK_STATUS(err, STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "another key-encryption key") != NULL);
  status_clear(&err);
  CHECK(!db_check_kek(db, "", &err));
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
}

static void test_error_mapping(DB *db) {
  STATUS err;
  int broken = 0;
  PGconn *conn;
  PGresult *res;

  status_clear(&err);
  conn = db_acquire(db, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    return;
  }
  res = PQexec(conn, "SELECT 'x'::integer");
  db_result_status(conn, res, "casting", &broken, &err);
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  CHECK(strncmp(err.message, "casting: ", 9) == 0);
  CHECK(!broken);
  PQclear(res);

  res = PQexec(conn, "INSERT INTO group_defaults (group_name) VALUES ('dup'), ('dup')");
  db_result_status(conn, res, "inserting", &broken, &err);
  CHECK_STATUS(err, STATUS_ALREADY_EXISTS);
  PQclear(res);

  res = PQexec(conn, "SELECT no_such_column FROM settings");
  db_result_status(conn, res, "selecting", &broken, &err);
  CHECK_STATUS(err, STATUS_INTERNAL);
  PQclear(res);

  /* A transaction left open is rolled back on release, not inherited. */
  CHECK(db_exec(conn, "BEGIN", &broken, &err));
  CHECK(db_exec(conn, "INSERT INTO group_defaults (group_name) VALUES ('left-open')",
                &broken, &err));
  db_release(db, conn, 0);
  {
    char v[32];
    CHECK(query_value(db, "SELECT count(*) FROM group_defaults", v, sizeof(v)) &&
          strcmp(v, "0") == 0);
  }
}

typedef struct waiter_st {
  DB *db;
  PGconn *got;
} WAITER;

static void *acquire_thread(void *arg) {
  WAITER *w = arg;
  STATUS err;
  w->got = db_acquire(w->db, &err);
  return NULL;
}

static void test_pool_waits(void) {
  STATUS err;
  DB *db = db_open(g_conninfo, 2, &err);
  PGconn *a, *b;
  WAITER w = {db, NULL};
  pthread_t t;

  CHECK(db != NULL);
  if (db == NULL) {
    return;
  }
  a = db_acquire(db, &err);
  b = db_acquire(db, &err);
  CHECK(a != NULL && b != NULL && a != b);
  pthread_create(&t, NULL, acquire_thread, &w);
  usleep(200000);
  CHECK(w.got == NULL); /* both taken: it waits */
  db_release(db, a, 0);
  pthread_join(t, NULL);
  CHECK(w.got == a);
  db_release(db, w.got, 0);
  db_release(db, b, 0);
  db_close(db);
}

static void test_reconnect(const char *dir, PG_CLUSTER **cluster, DB *db) {
  STATUS err;
  PGconn *conns[3];

  /* Open several pooled connections, so that all of them see the restart. */
  for (int i = 0; i < 3; i++) {
    conns[i] = db_acquire(db, &err);
    CHECK(conns[i] != NULL);
  }
  for (int i = 0; i < 3; i++) {
    db_release(db, conns[i], 0);
  }
  CHECK(db_ping(db, &err));

  pg_cluster_stop(*cluster);
  *cluster = NULL;
  status_clear(&err);
  CHECK(!db_ping(db, &err));
  CHECK_STATUS(err, STATUS_UNAVAILABLE);
  CHECK(strstr(err.message, "database unavailable") != NULL);

  *cluster = test_start_cluster(dir);
  /* Every pooled connection must work again without the caller doing anything. */
  for (int i = 0; i < 6; i++) {
    status_clear(&err);
    CHECK(db_ping(db, &err));
    if (err.code != STATUS_OK) {
      fprintf(stderr, "ping %d: %s\n", i, err.message);
    }
  }
}

static void test_unreachable(const char *tmp) {
  STATUS err;
  char info[300];
  DB *db;
  time_t start = time(NULL);

  snprintf(info, sizeof(info), "host=%s/nothing-here dbname=smimed user=smimed", tmp);
  status_clear(&err);
  db = db_open(info, 2, &err);
  CHECK(db == NULL);
  CHECK_STATUS(err, STATUS_UNAVAILABLE);
  CHECK(time(NULL) - start < 10);
  status_clear(&err);
  CHECK(db_open(info, 0, &err) == NULL);
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
}

int main(void) {
  char *tmp = test_tmpdir();
  char dir[256];
  PG_CLUSTER *cluster;
  STATUS err;
  DB *db;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  cluster = test_start_cluster(dir);
  g_conninfo = strdup(pg_cluster_conninfo(cluster));
  status_clear(&err);
  db = db_open(g_conninfo, 4, &err);
  CHECK(db != NULL);
  if (db == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
  } else {
    char v[64];
    CHECK(query_value(db, "SHOW application_name", v, sizeof(v)) &&
          strcmp(v, "smimed") == 0);
    test_migrations(db);
    test_kek(db);
    test_error_mapping(db);
    test_pool_waits();
    test_reconnect(dir, &cluster, db);
    db_close(db);
  }
  test_unreachable(tmp);
  db_close(NULL);
  pg_cluster_stop(cluster);
  free((char *)g_conninfo);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("db_test");
}
