/* db_cache_test.c: db_exec_cached, db_note_change, the change listener and migration 2
 * against a real PostgreSQL, with two DB handles on one database standing for two
 * replicas A and B:
 *   - a repeated read is served from A's cache (hits grow, and a change that nothing
 *     announces is not seen until db_note_change);
 *   - B's write, announced only by migration 2's triggers (NOTIFY), reaches A's cache
 *     within 2 s; each of the six cached tables announces its changes;
 *   - db_note_change makes A's very next read fresh;
 *   - inside a transaction the cache is bypassed both ways;
 *   - parameters, their boundaries and the result format are part of the key; a NULL
 *     parameter is not cached;
 *   - while A's listener cannot connect the cache is off, and a change made meanwhile
 *     is not served stale once it is back; the same across a real restart of the
 *     cluster, after which NOTIFY works again. */
#include "service/db/db.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/common/status.h"
#include "service/db/db_testutil.h"
#include "service/db/pg_cluster.h"

static const char *kReadSettings = "SELECT enabled FROM settings";
static const char *kReadProbe = "SELECT v FROM cache_probe";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static QUERY_CACHE_STATS stats(DB *db) {
  QUERY_CACHE_STATS st;
  db_cache_stats(db, &st);
  return st;
}

/* cached_on runs |sql| with db_exec_cached on |conn| and copies the first value into
 * |out| ("" when there is no row). Returns 0 on failure. */
static int cached_on(DB *db, PGconn *conn, const char *sql, char *out, size_t out_len) {
  PGresult *res = db_exec_cached(db, conn, sql, 0, NULL, NULL, NULL, 0);
  int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
  if (ok) {
    snprintf(out, out_len, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
  } else {
    fprintf(stderr, "%s: %s\n", sql, res != NULL ? PQresultErrorMessage(res) : "no result");
  }
  PQclear(res);
  return ok;
}

/* cached runs cached_on on a pooled connection of |db|. */
static int cached(DB *db, const char *sql, char *out, size_t out_len) {
  STATUS err;
  status_clear(&err);
  PGconn *conn = db_acquire(db, &err);
  if (conn == NULL) {
    fprintf(stderr, "db_acquire: %s\n", err.message);
    return 0;
  }
  int ok = cached_on(db, conn, sql, out, out_len);
  db_release(db, conn, PQstatus(conn) != CONNECTION_OK);
  return ok;
}

/* exec_on runs |sql| directly (no cache, no db_note_change) on a pooled connection of
 * |db|. Returns 0 on failure. */
static int exec_on(DB *db, const char *sql) {
  STATUS err;
  status_clear(&err);
  PGconn *conn = db_acquire(db, &err);
  if (conn == NULL) {
    fprintf(stderr, "%s: db_acquire: %s\n", sql, err.message);
    return 0;
  }
  PGresult *res = PQexec(conn, sql);
  ExecStatusType s = PQresultStatus(res);
  int ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  if (!ok) {
    fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(res));
  }
  PQclear(res);
  db_release(db, conn, PQstatus(conn) != CONNECTION_OK);
  return ok;
}

/* exec_retry is exec_on, tried for up to 10 s (a restarted server). */
static int exec_retry(DB *db, const char *sql) {
  double deadline = now_s() + 10;
  while (!exec_on(db, sql)) {
    if (now_s() > deadline) {
      return 0;
    }
    sleep_ms(100);
  }
  return 1;
}

/* poll_value reads |sql| through |db|'s cache until it returns |want|, for up to
 * |seconds|. Returns the time it took, or -1. */
static double poll_value(DB *db, const char *sql, const char *want, double seconds) {
  double start = now_s();
  char v[64];
  do {
    if (cached(db, sql, v, sizeof(v)) && strcmp(v, want) == 0) {
      return now_s() - start;
    }
    sleep_ms(10);
  } while (now_s() - start < seconds);
  return -1;
}

/* poll_enabled waits up to |seconds| for |db|'s cache to be on (|want| 1) or off. */
static int poll_enabled(DB *db, int want, double seconds) {
  double deadline = now_s() + seconds;
  do {
    if (stats(db).enabled == want) {
      return 1;
    }
    sleep_ms(10);
  } while (now_s() < deadline);
  return 0;
}

/* poll_invalidated waits up to |seconds| for |db|'s invalidation count to pass |than|. */
static int poll_invalidated(DB *db, uint64_t than, double seconds) {
  double deadline = now_s() + seconds;
  do {
    if (stats(db).invalidations > than) {
      return 1;
    }
    sleep_ms(10);
  } while (now_s() < deadline);
  return 0;
}

/* settle waits (up to 3 s) until |db|'s invalidation count has not moved for 300 ms:
 * notifications of earlier writes, late under load, would otherwise land in the middle
 * of a check that counts hits. */
static void settle(DB *db) {
  double deadline = now_s() + 3;
  uint64_t last = stats(db).invalidations;
  double since = now_s();
  while (now_s() < deadline && now_s() - since < 0.3) {
    sleep_ms(10);
    uint64_t inv = stats(db).invalidations;
    if (inv != last) {
      last = inv;
      since = now_s();
    }
  }
}

/* served_from_cache reads |sql| through |db|'s cache until a read is a hit, for up to
 * 2 s; every read must return |want| (never a stale value). A notification still on its
 * way may turn the first read or two into misses. */
static int served_from_cache(DB *db, const char *sql, const char *want) {
  double deadline = now_s() + 2;
  char v[64];
  do {
    uint64_t hits = stats(db).hits;
    if (!cached(db, sql, v, sizeof(v)) || strcmp(v, want) != 0) {
      fprintf(stderr, "%s: got %s, want %s\n", sql, v, want);
      return 0;
    }
    if (stats(db).hits > hits) {
      return 1;
    }
    sleep_ms(10);
  } while (now_s() < deadline);
  return 0;
}

/* A read repeated is a hit; B's write (NOTIFY only) reaches A within 2 s. */
static void test_hits_and_notify(DB *a, DB *b) {
  char v[64];
  QUERY_CACHE_STATS st0 = stats(a), st;
  CHECK(st0.enabled == 1);
  CHECK(exec_on(b, "UPDATE settings SET enabled = false"));
  CHECK(poll_value(a, kReadSettings, "f", 2) >= 0);

  settle(a);
  st0 = stats(a);
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, "f") == 0);
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, "f") == 0);
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, "f") == 0);
  st = stats(a);
  CHECK(st.hits >= st0.hits + 2);
  CHECK(st.entries >= 1);

  /* B writes through its own pool, without db_note_change: only the trigger's NOTIFY
   * can tell A. */
  uint64_t inv = stats(a).invalidations;
  CHECK(exec_on(b, "UPDATE settings SET enabled = true"));
  double took = poll_value(a, kReadSettings, "t", 2);
  CHECK(took >= 0);
  CHECK(stats(a).invalidations > inv);
  printf("B's change seen by A after %.3f s\n", took);
  /* And cached again. */
  CHECK(served_from_cache(a, kReadSettings, "t"));

  /* Each cached table announces changes, even a statement that changes no row. */
  static const char *const kChanges[] = {
      "UPDATE settings SET updated_by = 'db_cache_test'",
      "INSERT INTO group_defaults (group_name) VALUES ('db-cache-test')",
      "UPDATE group_defaults SET default_sign = true WHERE group_name = 'db-cache-test'",
      "DELETE FROM group_defaults WHERE group_name = 'db-cache-test'",
      "TRUNCATE group_defaults",
      "DELETE FROM certificates WHERE false",
      "UPDATE certificates SET der = der WHERE false",
      "DELETE FROM certificate_emails WHERE false",
      "DELETE FROM private_keys WHERE false",
      "UPDATE key_encryption_key SET check_value = check_value",
  };
  for (size_t i = 0; i < sizeof(kChanges) / sizeof(kChanges[0]); i++) {
    CHECK(cached(a, kReadSettings, v, sizeof(v)));
    CHECK(cached(a, kReadSettings, v, sizeof(v)));
    CHECK(stats(a).entries >= 1);
    inv = stats(a).invalidations;
    CHECK(exec_on(b, kChanges[i]));
    int seen = poll_invalidated(a, inv, 2);
    CHECK(seen);
    if (!seen) {
      fprintf(stderr, "no invalidation after: %s\n", kChanges[i]);
    }
  }
  /* A rolled back write announces nothing. */
  CHECK(cached(a, kReadSettings, v, sizeof(v)));
  inv = stats(a).invalidations;
  CHECK(exec_on(b, "BEGIN; UPDATE settings SET updated_by = 'x'; "
                   "UPDATE settings SET updated_by = 'y'; ROLLBACK"));
  sleep_ms(300);
  CHECK(stats(a).invalidations == inv);
  CHECK(stats(a).entries >= 1);
}

/* A change nothing announces (a table without trigger) stays unseen until
 * db_note_change, which makes the very next read fresh; the same for settings written
 * with its trigger disabled, as the brief's "raw connection of A" scenario. */
static void test_note_change(DB *a) {
  char v[64];
  STATUS err;
  int broken = 0;
  settle(a);
  CHECK(exec_on(a, "CREATE TABLE cache_probe (v text)"));
  CHECK(exec_on(a, "INSERT INTO cache_probe VALUES ('one')"));
  db_note_change(a, NULL);
  CHECK(cached(a, kReadProbe, v, sizeof(v)) && strcmp(v, "one") == 0);
  uint64_t hits = stats(a).hits;
  CHECK(cached(a, kReadProbe, v, sizeof(v)) && strcmp(v, "one") == 0);
  CHECK(stats(a).hits == hits + 1);

  /* Written in a transaction on a raw connection of A, committed: still the cached
   * value (proof that reads come from the cache) ... */
  status_clear(&err);
  PGconn *conn = db_acquire(a, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    return;
  }
  CHECK(db_exec(conn, "BEGIN", &broken, &err));
  CHECK(db_exec(conn, "UPDATE cache_probe SET v = 'two'", &broken, &err));
  CHECK(db_exec(conn, "COMMIT", &broken, &err));
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "one") == 0);
  sleep_ms(300);
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "one") == 0);
  /* ... until db_note_change: the very next read is fresh. */
  db_note_change(a, conn);
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0);

  /* settings, its NOTIFY trigger off so that only db_note_change can tell. */
  CHECK(db_exec(conn, "ALTER TABLE settings DISABLE TRIGGER settings_changed", &broken,
                &err));
  char before[8], after[8];
  CHECK(cached_on(a, conn, kReadSettings, before, sizeof(before)));
  CHECK(cached_on(a, conn, kReadSettings, before, sizeof(before)));
  CHECK(db_exec(conn, "BEGIN", &broken, &err));
  CHECK(db_exec(conn, "UPDATE settings SET enabled = NOT enabled", &broken, &err));
  CHECK(db_exec(conn, "COMMIT", &broken, &err));
  db_note_change(a, conn);
  CHECK(cached_on(a, conn, kReadSettings, after, sizeof(after)));
  CHECK(strcmp(before, after) != 0);
  CHECK(db_exec(conn, "ALTER TABLE settings ENABLE TRIGGER settings_changed", &broken,
                &err));
  db_release(a, conn, broken);
}

/* Inside a transaction the cache is neither read nor written. */
static void test_transaction_bypass(DB *a) {
  char v[64];
  STATUS err;
  int broken = 0;
  CHECK(cached(a, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0);
  CHECK(cached(a, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0); /* cached */

  status_clear(&err);
  PGconn *conn = db_acquire(a, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    return;
  }
  QUERY_CACHE_STATS st0 = stats(a);
  CHECK(db_exec(conn, "BEGIN", &broken, &err));
  CHECK(db_exec(conn, "UPDATE cache_probe SET v = 'uncommitted'", &broken, &err));
  /* Sees its own write, not the cached "two". */
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "uncommitted") == 0);
  QUERY_CACHE_STATS st = stats(a);
  CHECK(st.hits == st0.hits && st.misses == st0.misses);

  /* With the cache empty, the transaction's read is not stored either. (The change is
   * announced on another connection: this one is inside a transaction.) */
  db_note_change(a, NULL);
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "uncommitted") == 0);
  CHECK(stats(a).entries == 0);
  CHECK(db_exec(conn, "ROLLBACK", &broken, &err));
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0);
  CHECK(cached_on(a, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0);

  /* A failed transaction (INERROR) bypasses it too. */
  CHECK(db_exec(conn, "BEGIN", &broken, &err));
  CHECK(!db_exec(conn, "SELECT 1/0", &broken, &err));
  PGresult *res = db_exec_cached(a, conn, kReadProbe, 0, NULL, NULL, NULL, 0);
  CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR); /* not the cached "two" */
  PQclear(res);
  CHECK(db_exec(conn, "ROLLBACK", &broken, &err));
  db_release(a, conn, broken);

  /* db NULL: no cache at all. */
  conn = db_acquire(a, &err);
  CHECK(conn != NULL);
  if (conn != NULL) {
    st0 = stats(a);
    CHECK(cached_on(NULL, conn, kReadProbe, v, sizeof(v)) && strcmp(v, "two") == 0);
    st = stats(a);
    CHECK(st.hits == st0.hits && st.misses == st0.misses);
    db_release(a, conn, 0);
  }
}

/* param_read runs "SELECT $1 || '|' || $2" through the cache. */
static int param_read(DB *a, const char *p1, const char *p2, char *out, size_t out_len) {
  STATUS err;
  PGconn *conn = db_acquire(a, &err);
  if (conn == NULL) {
    return 0;
  }
  const char *values[2] = {p1, p2};
  PGresult *res = db_exec_cached(a, conn, "SELECT coalesce($1::text, 'NULL') || '|' || $2::text",
                                 2, values, NULL, NULL, 0);
  int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  if (ok) {
    snprintf(out, out_len, "%s", PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  db_release(a, conn, 0);
  return ok;
}

static void test_params(DB *a) {
  char v[64];
  settle(a);
  db_note_change(a, NULL);
  for (int round = 0; round < 2; round++) {
    uint64_t hits = stats(a).hits;
    CHECK(param_read(a, "ab", "c", v, sizeof(v)) && strcmp(v, "ab|c") == 0);
    CHECK(param_read(a, "a", "bc", v, sizeof(v)) && strcmp(v, "a|bc") == 0);
    CHECK(param_read(a, "", "abc", v, sizeof(v)) && strcmp(v, "|abc") == 0);
    CHECK(param_read(a, "abc", "", v, sizeof(v)) && strcmp(v, "abc|") == 0);
    /* Second round: all four from the cache, each its own. */
    CHECK(stats(a).hits == hits + (round == 0 ? 0 : 4));
  }
  /* A NULL parameter: not cached (neither a hit nor a miss counted). */
  QUERY_CACHE_STATS st0 = stats(a);
  CHECK(param_read(a, NULL, "x", v, sizeof(v)) && strcmp(v, "NULL|x") == 0);
  CHECK(param_read(a, NULL, "x", v, sizeof(v)) && strcmp(v, "NULL|x") == 0);
  QUERY_CACHE_STATS st = stats(a);
  CHECK(st.hits == st0.hits && st.misses == st0.misses);

  /* The result format is part of the key. */
  STATUS err;
  PGconn *conn = db_acquire(a, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    return;
  }
  for (int round = 0; round < 2; round++) {
    PGresult *text = db_exec_cached(a, conn, "SELECT 258::int4", 0, NULL, NULL, NULL, 0);
    PGresult *bin = db_exec_cached(a, conn, "SELECT 258::int4", 0, NULL, NULL, NULL, 1);
    CHECK(PQresultStatus(text) == PGRES_TUPLES_OK && PQfformat(text, 0) == 0 &&
          strcmp(PQgetvalue(text, 0, 0), "258") == 0);
    CHECK(PQresultStatus(bin) == PGRES_TUPLES_OK && PQfformat(bin, 0) == 1 &&
          PQgetlength(bin, 0, 0) == 4 && memcmp(PQgetvalue(bin, 0, 0), "\0\0\1\2", 4) == 0);
    PQclear(text);
    PQclear(bin);
  }
  /* Binary parameters: bytes with NULs, told apart by length. */
  for (int round = 0; round < 2; round++) {
    const char *values[1];
    int lengths[1], formats[1] = {1};
    values[0] = "a\0b";
    lengths[0] = 3;
    PGresult *r3 = db_exec_cached(a, conn, "SELECT length($1::bytea)", 1, values, lengths,
                                  formats, 0);
    lengths[0] = 1;
    PGresult *r1 = db_exec_cached(a, conn, "SELECT length($1::bytea)", 1, values, lengths,
                                  formats, 0);
    CHECK(PQresultStatus(r3) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r3, 0, 0), "3") == 0);
    CHECK(PQresultStatus(r1) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r1, 0, 0), "1") == 0);
    PQclear(r3);
    PQclear(r1);
  }
  /* An error is not cached: the table appears, the next read sees it. */
  PGresult *res = db_exec_cached(a, conn, "SELECT count(*) FROM later_table", 0, NULL, NULL,
                                 NULL, 0);
  CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
  PQclear(res);
  db_release(a, conn, 0);
  CHECK(exec_on(a, "CREATE TABLE later_table (x int)"));
  CHECK(cached(a, "SELECT count(*) FROM later_table", v, sizeof(v)) && strcmp(v, "0") == 0);
}

/* set_allow_connections lets new connections to the test's database in, or not (the
 * open ones stay). PostgreSQL refuses this from a connection to the database itself:
 * it runs on one to "postgres". */
static int set_allow_connections(const char *conninfo, int allow) {
  const char *const keys[] = {"dbname", "dbname", NULL};
  const char *const values[] = {conninfo, "postgres", NULL};
  PGconn *conn = PQconnectdbParams(keys, values, 1);
  int ok = 0;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult *res = PQexec(conn, allow ? "ALTER DATABASE smimed ALLOW_CONNECTIONS true"
                                       : "ALTER DATABASE smimed ALLOW_CONNECTIONS false");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
      fprintf(stderr, "ALTER DATABASE: %s\n", PQresultErrorMessage(res));
    }
    PQclear(res);
  } else {
    fprintf(stderr, "connecting to postgres: %s\n", PQerrorMessage(conn));
  }
  PQfinish(conn);
  return ok;
}

/* The listener loses its connection and cannot come back (new connections refused,
 * pooled ones still open): A's cache is off for as long, and B's change made meanwhile
 * (whose NOTIFY A cannot hear) is what A reads, then and after the listener is back. */
static void test_listener_down(const char *conninfo, DB *a, DB *b) {
  char v[64], was[8], now[8];
  CHECK(cached(a, kReadSettings, was, sizeof(was)));
  CHECK(cached(a, kReadSettings, was, sizeof(was)));
  CHECK(stats(a).enabled == 1 && stats(a).entries >= 1);

  CHECK(set_allow_connections(conninfo, 0));
  CHECK(exec_on(b, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   "WHERE application_name = 'smimed-listener'"));
  CHECK(poll_enabled(a, 0, 3));
  CHECK(stats(a).entries == 0);

  CHECK(exec_on(b, "UPDATE settings SET enabled = NOT enabled"));
  sleep_ms(1500); /* the listener tries again, and fails */
  CHECK(stats(a).enabled == 0);
  uint64_t hits = stats(a).hits;
  CHECK(cached(a, kReadSettings, now, sizeof(now)));
  CHECK(strcmp(now, was) != 0);
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, now) == 0);
  CHECK(stats(a).hits == hits && stats(a).entries == 0); /* off: not stored */

  CHECK(set_allow_connections(conninfo, 1));
  CHECK(poll_enabled(a, 1, 4));
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, now) == 0);
  CHECK(served_from_cache(a, kReadSettings, now));
  /* And it hears NOTIFY again. */
  CHECK(exec_on(b, "UPDATE settings SET enabled = NOT enabled"));
  CHECK(poll_value(a, kReadSettings, was, 2) >= 0);
}

/* A real restart: off while the server is down, on again once the listener is back;
 * a change made right after the restart is not served stale, and NOTIFY works again. */
static void test_restart(const char *dir, PG_CLUSTER **cluster, DB *a, DB *b) {
  char v[64], was[8], now[8];
  CHECK(cached(a, kReadSettings, was, sizeof(was)));
  CHECK(cached(a, kReadSettings, was, sizeof(was)));
  CHECK(stats(a).enabled == 1 && stats(a).entries >= 1);

  pg_cluster_stop(*cluster);
  *cluster = NULL;
  CHECK(poll_enabled(a, 0, 5));
  CHECK(stats(a).entries == 0);
  /* Down for longer than the listener's retry period. */
  sleep_ms(1200);
  CHECK(stats(a).enabled == 0);

  *cluster = test_start_cluster(dir);
  int off_at_change = stats(a).enabled == 0;
  CHECK(exec_retry(b, "UPDATE settings SET enabled = NOT enabled"));
  CHECK(cached(a, kReadSettings, now, sizeof(now)) || cached(a, kReadSettings, now, sizeof(now)));
  CHECK(strcmp(now, was) != 0);
  CHECK(poll_enabled(a, 1, 5));
  CHECK(cached(a, kReadSettings, v, sizeof(v)) && strcmp(v, now) == 0);
  CHECK(served_from_cache(a, kReadSettings, now));
  printf("restart: the change was made while A's listener was %s\n",
         off_at_change ? "down" : "already back");

  CHECK(exec_on(b, "UPDATE settings SET enabled = NOT enabled"));
  CHECK(poll_value(a, kReadSettings, was, 2) >= 0);
}

int main(void) {
  char *tmp = test_tmpdir();
  char dir[256];
  STATUS err;
  double start = now_s();

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  PG_CLUSTER *cluster = test_start_cluster(dir);
  char *conninfo = strdup(pg_cluster_conninfo(cluster));
  status_clear(&err);
  DB *a = db_open(conninfo, 2, &err);
  DB *b = db_open(conninfo, 2, &err);
  CHECK(a != NULL && b != NULL);
  if (a == NULL || b == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
    return 1;
  }
  /* Open both pooled connections of each now: test_listener_down refuses new ones. */
  for (int i = 0; i < 2; i++) {
    DB *db = i == 0 ? a : b;
    PGconn *c1 = db_acquire(db, &err), *c2 = db_acquire(db, &err);
    CHECK(c1 != NULL && c2 != NULL);
    db_release(db, c1, 0);
    db_release(db, c2, 0);
  }
  CHECK(db_schema_version(a) >= 2);

  test_hits_and_notify(a, b);
  test_note_change(a);
  test_transaction_bypass(a);
  test_params(a);
  test_listener_down(conninfo, a, b);
  test_restart(dir, &cluster, a, b);

  db_close(a);
  db_close(b);
  pg_cluster_stop(cluster);
  free(conninfo);
  test_rmtree(tmp);
  free(tmp);
  printf("took %.1f s\n", now_s() - start);
  return test_summary("db_cache_test");
}
