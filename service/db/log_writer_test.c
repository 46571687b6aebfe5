/* log_writer_test.c: group commit against a real PostgreSQL:
 *   - 8 threads x 200 calls all succeed with distinct ids, the table holds exactly their
 *     1600 rows (each with the id its call returned), and fewer transactions than calls
 *     were used (distinct txid_current() of the rows): entries shared commits;
 *   - in a batch with failing entries (unique violations) those fail alone, with their
 *     own status, and the others' rows are there;
 *   - an entry whose connection dies under it (while libpq still thinks it is fine)
 *     fails UNAVAILABLE, not with an empty status, and the writer recovers;
 *   - with the database stopped every call fails UNAVAILABLE and none hangs; calls work
 *     again once it is back;
 *   - a batch whose statements and answers exceed the socket buffers both ways goes
 *     through (libpq reads while its writes would block);
 *   - log_batch_send's statements are prepared after a connection's first batch and
 *     run prepared from then on, again after a reset;
 *   - log_writer_stop writes what is queued (every waiting caller gets its answer) and
 *     refuses calls that come while it does, also when repeated 100 times with 16
 *     callers (the race of callers still waking up while the writer is freed is
 *     log_writer_stop_test's, under ThreadSanitizer: ASan does not see it). */
#include "service/db/log_writer.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/db_testutil.h"
#include "service/db/pg_cluster.h"

#define THREADS 8
#define CALLS 200

static char *g_conninfo;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

/* watchdog ends the test if it has not finished within its time: a hang is a failure
 * with a message, not a Bazel timeout. */
static atomic_int g_phase;
static void *watchdog(void *arg) {
  int seconds = *(int *)arg;
  sleep((unsigned)seconds);
  fprintf(stderr, "log_writer_test: hung (phase %d) after %d s\n", atomic_load(&g_phase),
          seconds);
  _exit(3);
  return NULL;
}

/* exec_side runs |sql| on a connection of its own and copies the first value. */
static int exec_side(const char *sql, char *out, size_t out_len) {
  PGconn *conn = PQconnectdb(g_conninfo);
  int ok = 0;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult *res = PQexec(conn, sql);
    ExecStatusType s = PQresultStatus(res);
    ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
    if (!ok) {
      fprintf(stderr, "%s: %s\n", sql, PQresultErrorMessage(res));
    }
    if (out != NULL) {
      snprintf(out, out_len, "%s",
               s == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    }
    PQclear(res);
  } else {
    fprintf(stderr, "connecting: %s\n", PQerrorMessage(conn));
  }
  PQfinish(conn);
  return ok;
}

static long count_rows(const char *where) {
  char sql[512], v[64];
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM lw_rows WHERE %s", where);
  return exec_side(sql, v, sizeof(v)) ? strtol(v, NULL, 10) : -1;
}

/* ENTRY: what one call writes. |tag| is UNIQUE in lw_rows: a repeated tag fails. */
typedef struct entry_st {
  int thread, seq;
  char tag[64];
  atomic_int *gate; /* not NULL: wait until it is set before writing (holds the writer) */
  int kill_self;    /* terminate this connection's backend, then fail */
  int big;          /* first queue BIG_STATEMENTS large SELECTs (see test_big_batch) */
} ENTRY;

/* test_big_batch's entry: BIG_STATEMENTS statements each sending and answering
 * BIG_BYTES, megabytes both ways, more than any socket buffer holds. */
#define BIG_STATEMENTS 2000
#define BIG_BYTES 2048

/* insert_entry's statements sent through log_batch_send (prepared after a connection's
 * first batch), and one sent as text. */
static const char kInsertRow[] =
    "INSERT INTO lw_rows (thread, seq, tag, tx) VALUES ($1, $2, $3, txid_current()) "
    "RETURNING id";
static const char kTouchRow[] = "UPDATE lw_rows SET seq = seq WHERE id = currval('lw_rows_id_seq')";

static int insert_entry(PGconn *conn, void *arg, int *out_id_statement, STATUS *err) {
  ENTRY *e = arg;
  int broken = 0;
  if (e->gate != NULL) {
    while (!atomic_load(e->gate)) {
      sleep_ms(5);
    }
  }
  if (e->kill_self) {
    /* From another connection, and waiting until the backend is gone; libpq on |conn|
     * has not read the termination yet, so PQstatus still says CONNECTION_OK. */
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d, 5000)", PQbackendPID(conn));
    exec_side(sql, NULL, 0);
    return status_set(err, STATUS_INTERNAL, "this entry failed");
  }
  int n_big = 0;
  if (e->big) {
    static char payload[BIG_BYTES + 1];
    memset(payload, 'x', BIG_BYTES);
    const char *p[1] = {payload};
    for (; n_big < BIG_STATEMENTS; n_big++) {
      if (!PQsendQueryParams(conn, "SELECT $1::text", 1, NULL, p, NULL, NULL, 0)) {
        db_result_status(conn, NULL, "queueing", &broken, err);
        return 0;
      }
    }
  }
  char thread[16], seq[16];
  snprintf(thread, sizeof(thread), "%d", e->thread);
  snprintf(seq, sizeof(seq), "%d", e->seq);
  const char *values[3] = {thread, seq, e->tag};
  /* A statement before the one that gives the id, and one after that uses it, as
   * DecryptVerify's entries have (resolve, entry, hints). */
  if (!PQsendQueryParams(conn, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0) ||
      !log_batch_send(conn, kInsertRow, 3, values, NULL, NULL) ||
      !log_batch_send(conn, kTouchRow, 0, NULL, NULL, NULL)) {
    db_result_status(conn, NULL, "queueing", &broken, err);
    return 0;
  }
  *out_id_statement = n_big + 1;
  return n_big + 3;
}

/* CALLER: a thread making |n| calls. */
typedef struct caller_st {
  LOG_WRITER *w;
  ENTRY *entries;
  int n;
  int64_t *ids;
  int *ok;
  STATUS *errs;
  atomic_int *started;
  atomic_int finished;
} CALLER;

static void *caller_main(void *arg) {
  CALLER *c = arg;
  for (int i = 0; i < c->n; i++) {
    status_clear(&c->errs[i]);
    c->ids[i] = -1;
    if (c->started != NULL) {
      atomic_fetch_add(c->started, 1);
    }
    c->ok[i] = log_writer_run(c->w, insert_entry, &c->entries[i], &c->ids[i], &c->errs[i]);
  }
  atomic_store(&c->finished, 1);
  return NULL;
}

static CALLER *caller_new(LOG_WRITER *w, int n) {
  CALLER *c = calloc(1, sizeof(*c));
  c->w = w;
  c->n = n;
  c->entries = calloc((size_t)n, sizeof(ENTRY));
  c->ids = calloc((size_t)n, sizeof(int64_t));
  c->ok = calloc((size_t)n, sizeof(int));
  c->errs = calloc((size_t)n, sizeof(STATUS));
  return c;
}

static void caller_free(CALLER *c) {
  free(c->entries);
  free(c->ids);
  free(c->ok);
  free(c->errs);
  free(c);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* start_writer starts a writer on |db| (NULL, and the test failed, if it cannot). */
static LOG_WRITER *start_writer(DB *db) {
  STATUS err;
  status_clear(&err);
  LOG_WRITER *w = log_writer_start(db, &err);
  CHECK(w != NULL);
  return w;
}

/* write_tagged writes one plain entry tagged |tag| and checks its row is there. */
static void write_tagged(LOG_WRITER *w, const char *tag) {
  ENTRY e;
  char where[128];
  int64_t id = -1;
  STATUS err;
  memset(&e, 0, sizeof(e));
  snprintf(e.tag, sizeof(e.tag), "%s", tag);
  status_clear(&err);
  CHECK(log_writer_run(w, insert_entry, &e, &id, &err));
  snprintf(where, sizeof(where), "tag = '%s'", tag);
  CHECK(count_rows(where) == 1);
}

/* wait_depth waits (at most 10 s) until |n| entries are queued or being written, and
 * checks that they are. */
static void wait_depth(LOG_WRITER *w, size_t n) {
  double deadline = now_s() + 10;
  while (log_writer_depth(w) < n && now_s() < deadline) {
    sleep_ms(1);
  }
  CHECK(log_writer_depth(w) == n);
}

/* hold_writer starts, on thread |*t|, a caller whose entry |tag| waits for |*gate|:
 * the writer is busy with it until the gate opens, and what is queued meanwhile forms
 * the next batch. */
static CALLER *hold_writer(LOG_WRITER *w, atomic_int *gate, const char *tag, pthread_t *t) {
  CALLER *holder = caller_new(w, 1);
  holder->entries[0].gate = gate;
  snprintf(holder->entries[0].tag, sizeof(holder->entries[0].tag), "%s", tag);
  pthread_create(t, NULL, caller_main, holder);
  wait_depth(w, 1);
  return holder;
}

/* test_batching: many callers at once share transactions, and every call gets the id
 * of its own row. */
static void test_batching(DB *db) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  CHECK(log_writer_depth(w) == 0);
  CALLER *callers[THREADS];
  pthread_t t[THREADS];
  double start = now_s();
  for (int i = 0; i < THREADS; i++) {
    callers[i] = caller_new(w, CALLS);
    for (int j = 0; j < CALLS; j++) {
      ENTRY *e = &callers[i]->entries[j];
      e->thread = i;
      e->seq = j;
      snprintf(e->tag, sizeof(e->tag), "batch-%d-%d", i, j);
    }
    pthread_create(&t[i], NULL, caller_main, callers[i]);
  }
  int64_t *all = calloc(THREADS * CALLS, sizeof(int64_t));
  int all_ok = 1;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    for (int j = 0; j < CALLS; j++) {
      if (!callers[i]->ok[j] || callers[i]->ids[j] <= 0) {
        if (all_ok) {
          fprintf(stderr, "call %d/%d: %s\n", i, j, callers[i]->errs[j].message);
        }
        all_ok = 0;
      }
      all[i * CALLS + j] = callers[i]->ids[j];
    }
  }
  double took = now_s() - start;
  CHECK(all_ok);
  CHECK(log_writer_depth(w) == 0);
  qsort(all, THREADS * CALLS, sizeof(int64_t), cmp_i64);
  int distinct = 1;
  for (int i = 1; i < THREADS * CALLS; i++) {
    distinct = distinct && all[i] != all[i - 1];
  }
  CHECK(distinct);
  free(all);

  char v[64];
  CHECK(count_rows("tag LIKE 'batch-%'") == THREADS * CALLS);
  /* Each call's id is its own row. */
  long matched = 0;
  PGconn *conn = PQconnectdb(g_conninfo);
  PGresult *res = PQexec(conn, "SELECT id, thread, seq FROM lw_rows WHERE tag LIKE 'batch-%'");
  CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
  for (int r = 0; r < PQntuples(res); r++) {
    int64_t id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
    int th = atoi(PQgetvalue(res, r, 1)), seq = atoi(PQgetvalue(res, r, 2));
    if (th >= 0 && th < THREADS && seq >= 0 && seq < CALLS && callers[th]->ids[seq] == id) {
      matched++;
    }
  }
  PQclear(res);
  PQfinish(conn);
  CHECK(matched == THREADS * CALLS);
  /* Fewer transactions than calls: they were batched. */
  CHECK(exec_side("SELECT count(DISTINCT tx) FROM lw_rows WHERE tag LIKE 'batch-%'", v,
                  sizeof(v)));
  long txs = strtol(v, NULL, 10);
  CHECK(txs >= 1 && txs < THREADS * CALLS);
  CHECK(txs <= THREADS * CALLS / 2); /* eight callers at once: far fewer */
  printf("batching: %d calls in %ld transactions, %.2f s\n", THREADS * CALLS, txs, took);
  for (int i = 0; i < THREADS; i++) {
    caller_free(callers[i]);
  }
  log_writer_stop(w);
}

/* test_failure_alone: a batch of 10 queued behind a held entry, two of which repeat a
 * tag: those two fail ALREADY_EXISTS, the eight others and the held one succeed. */
static void test_failure_alone(DB *db) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  CHECK(exec_side("INSERT INTO lw_rows (thread, seq, tag, tx) VALUES (-1, 0, 'taken', 0)",
                  NULL, 0));
  atomic_int gate = 0;
  pthread_t th, t[10];
  CALLER *holder = hold_writer(w, &gate, "fail-holder", &th);
  CALLER *callers[10];
  for (int i = 0; i < 10; i++) {
    callers[i] = caller_new(w, 1);
    ENTRY *e = &callers[i]->entries[0];
    e->thread = i;
    if (i == 3 || i == 7) {
      snprintf(e->tag, sizeof(e->tag), "taken");
    } else {
      snprintf(e->tag, sizeof(e->tag), "fail-ok-%d", i);
    }
    pthread_create(&t[i], NULL, caller_main, callers[i]);
  }
  /* All ten queue behind the held entry: one batch. */
  wait_depth(w, 11);
  atomic_store(&gate, 1);
  pthread_join(th, NULL);
  CHECK(holder->ok[0]);
  for (int i = 0; i < 10; i++) {
    pthread_join(t[i], NULL);
    if (i == 3 || i == 7) {
      CHECK(!callers[i]->ok[0]);
      CHECK_STATUS(callers[i]->errs[0], STATUS_ALREADY_EXISTS);
    } else {
      CHECK(callers[i]->ok[0] && callers[i]->ids[0] > 0);
      if (!callers[i]->ok[0]) {
        fprintf(stderr, "entry %d: %s\n", i, callers[i]->errs[0].message);
      }
    }
  }
  CHECK(count_rows("tag LIKE 'fail-ok-%'") == 8);
  CHECK(count_rows("tag = 'fail-holder'") == 1);
  CHECK(count_rows("tag = 'taken'") == 1);
  /* The ids returned are those of the rows (written again after the rollback). */
  for (int i = 0; i < 10; i++) {
    if (i != 3 && i != 7) {
      char where[128];
      snprintf(where, sizeof(where), "tag = 'fail-ok-%d' AND id = %lld", i,
               (long long)callers[i]->ids[0]);
      CHECK(count_rows(where) == 1);
    }
    caller_free(callers[i]);
  }
  caller_free(holder);
  CHECK(log_writer_depth(w) == 0);
  log_writer_stop(w);
}

/* test_connection_dies: the entry's backend is terminated under it; libpq notices only
 * at the writer's ROLLBACK. The call must fail UNAVAILABLE (the header: "If the
 * connection is lost, every entry of the batch fails UNAVAILABLE"), and the next call
 * must work. */
static void test_connection_dies(DB *db) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  ENTRY e;
  memset(&e, 0, sizeof(e));
  e.kill_self = 1;
  int64_t id = -1;
  STATUS err;
  status_clear(&err);
  CHECK(!log_writer_run(w, insert_entry, &e, &id, &err));
  CHECK(err.code != STATUS_OK);
  CHECK_STATUS(err, STATUS_UNAVAILABLE);
  CHECK(id == -1);
  write_tagged(w, "after-kill");
  log_writer_stop(w);
}

/* test_big_batch: an entry whose statements send and answer about 4 MiB each way, more
 * than the socket buffers hold. The writer sends the whole batch before it reads; it
 * relies on libpq, which reads what the server sends whenever a write would block, so
 * that neither side waits on the other's full socket. A hang would end the test by
 * the watchdog. */
static void test_big_batch(DB *db) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  ENTRY e;
  memset(&e, 0, sizeof(e));
  e.big = 1;
  snprintf(e.tag, sizeof(e.tag), "big-batch");
  int64_t id = -1;
  STATUS err;
  status_clear(&err);
  CHECK(log_writer_run(w, insert_entry, &e, &id, &err));
  CHECK(id > 0);
  CHECK(count_rows("tag = 'big-batch'") == 1);
  /* The connection went back to the pool usable. */
  write_tagged(w, "after-big-batch");
  log_writer_stop(w);
}

/* test_database_down: every call fails UNAVAILABLE, quickly; back up, calls work. */
static void test_database_down(DB *db, const char *dir, PG_CLUSTER **cluster) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  pg_cluster_stop(*cluster);
  *cluster = NULL;

  CALLER *callers[THREADS];
  pthread_t t[THREADS];
  double start = now_s();
  for (int i = 0; i < THREADS; i++) {
    callers[i] = caller_new(w, 5);
    for (int j = 0; j < 5; j++) {
      snprintf(callers[i]->entries[j].tag, sizeof(callers[i]->entries[j].tag), "down-%d-%d",
               i, j);
    }
    pthread_create(&t[i], NULL, caller_main, callers[i]);
  }
  int failed_unavailable = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    for (int j = 0; j < 5; j++) {
      if (!callers[i]->ok[j] && callers[i]->errs[j].code == STATUS_UNAVAILABLE) {
        failed_unavailable++;
      } else {
        fprintf(stderr, "down %d/%d: ok %d, status %d: %s\n", i, j, callers[i]->ok[j],
                callers[i]->errs[j].code, callers[i]->errs[j].message);
      }
    }
    caller_free(callers[i]);
  }
  double took = now_s() - start;
  CHECK(failed_unavailable == THREADS * 5);
  CHECK(took < 15);
  CHECK(log_writer_depth(w) == 0);
  printf("database down: %d calls failed UNAVAILABLE in %.2f s\n", failed_unavailable, took);

  *cluster = test_start_cluster(dir);
  ENTRY e;
  memset(&e, 0, sizeof(e));
  snprintf(e.tag, sizeof(e.tag), "back-up");
  int64_t id = -1;
  int ok = 0;
  STATUS err;
  for (int i = 0; i < 20 && !ok; i++) {
    status_clear(&err);
    ok = log_writer_run(w, insert_entry, &e, &id, &err);
    if (!ok) {
      sleep_ms(250);
    }
  }
  CHECK(ok);
  CHECK(count_rows("tag LIKE 'down-%'") == 0);
  CHECK(count_rows("tag = 'back-up'") == 1);
  log_writer_stop(w);
}

typedef struct stopper_st {
  LOG_WRITER *w;
  atomic_int done;
} STOPPER;

static void *stopper_main(void *arg) {
  STOPPER *s = arg;
  log_writer_stop(s->w);
  atomic_store(&s->done, 1);
  return NULL;
}

/* test_stop_drains: with the writer held by one entry and 20 callers queued behind it,
 * log_writer_stop (from another thread) waits; a call made meanwhile is refused
 * UNAVAILABLE; once the held entry goes, all 21 are written and answered. */
static void test_stop_drains(DB *db) {
  LOG_WRITER *w = start_writer(db);
  if (w == NULL) {
    return;
  }
  atomic_int gate = 0;
  pthread_t th, t[20], ts;
  CALLER *holder = hold_writer(w, &gate, "drain-holder", &th);
  CALLER *callers[20];
  for (int i = 0; i < 20; i++) {
    callers[i] = caller_new(w, 1);
    snprintf(callers[i]->entries[0].tag, sizeof(callers[i]->entries[0].tag), "drain-%d", i);
    pthread_create(&t[i], NULL, caller_main, callers[i]);
  }
  wait_depth(w, 21);

  STOPPER s = {w, 0};
  pthread_create(&ts, NULL, stopper_main, &s);
  sleep_ms(200);
  CHECK(!atomic_load(&s.done)); /* held: it waits for the queue */
  ENTRY late;
  memset(&late, 0, sizeof(late));
  snprintf(late.tag, sizeof(late.tag), "drain-late");
  int64_t id = -1;
  STATUS err;
  status_clear(&err);
  CHECK(!log_writer_run(w, insert_entry, &late, &id, &err));
  CHECK_STATUS(err, STATUS_UNAVAILABLE);

  atomic_store(&gate, 1);
  pthread_join(ts, NULL);
  pthread_join(th, NULL);
  CHECK(holder->ok[0]);
  int all_ok = 1;
  for (int i = 0; i < 20; i++) {
    pthread_join(t[i], NULL);
    all_ok = all_ok && callers[i]->ok[0] && callers[i]->ids[0] > 0;
    caller_free(callers[i]);
  }
  caller_free(holder);
  CHECK(all_ok);
  CHECK(count_rows("tag LIKE 'drain-%'") == 21);
  CHECK(count_rows("tag = 'drain-late'") == 0);
  /* Again and again, stopping as soon as 16 callers are queued: each must return OK. */
  int stress_ok = 1;
  for (int round = 0; round < 100 && stress_ok; round++) {
    LOG_WRITER *sw = log_writer_start(db, &err);
    CALLER *sc[16];
    pthread_t st[16];
    for (int i = 0; i < 16; i++) {
      sc[i] = caller_new(sw, 1);
      snprintf(sc[i]->entries[0].tag, sizeof(sc[i]->entries[0].tag), "stress-%d-%d", round,
               i);
      pthread_create(&st[i], NULL, caller_main, sc[i]);
    }
    while (log_writer_depth(sw) < 16) {
      int finished = 0;
      for (int i = 0; i < 16; i++) {
        finished += atomic_load(&sc[i]->finished);
      }
      if (log_writer_depth(sw) + (size_t)finished >= 16) {
        break;
      }
      sched_yield();
    }
    log_writer_stop(sw);
    for (int i = 0; i < 16; i++) {
      pthread_join(st[i], NULL);
      stress_ok = stress_ok && sc[i]->ok[0];
      caller_free(sc[i]);
    }
  }
  CHECK(stress_ok);
  CHECK(count_rows("tag LIKE 'stress-%'") == 1600);

  /* Stopping an idle writer, and NULL. */
  w = log_writer_start(db, &err);
  CHECK(w != NULL);
  log_writer_stop(w);
  log_writer_stop(NULL);
}

/* prepared_use returns how many statements log_batch_send prepared on |conn|'s session
 * (|*runs|: how often they ran, from pg_prepared_statements' plan counts). */
static int prepared_use(PGconn *conn, long *runs) {
  PGresult *res = PQexec(conn,
                         "SELECT count(*), coalesce(sum(generic_plans + custom_plans), 0) "
                         "FROM pg_prepared_statements WHERE statement LIKE '%lw_rows%'");
  CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
  int n = atoi(PQgetvalue(res, 0, 0));
  *runs = atol(PQgetvalue(res, 0, 1));
  PQclear(res);
  return n;
}

/* write_on writes the entry |tag| with log_batch_write on |conn| (not through a
 * writer: the test watches that connection's session). */
static void write_on(PGconn *conn, const char *tag) {
  ENTRY e;
  memset(&e, 0, sizeof(e));
  snprintf(e.tag, sizeof(e.tag), "%s", tag);
  LOG_ENTRY le = {.fn = insert_entry, .arg = &e};
  LOG_ENTRY *entries[1] = {&le};
  STATUS fatal;
  status_clear(&fatal);
  CHECK(log_batch_write(conn, entries, 1, &fatal) == 1);
  CHECK(le.ok && le.id > 0);
}

/* test_prepared: a connection's first batch sends log_batch_send's texts and prepares
 * them after it; the next batches run the prepared statements; a reset session (which
 * has none) prepares them again. */
static void test_prepared(DB *db) {
  STATUS err;
  status_clear(&err);
  PGconn *conn = db_acquire(db, &err);
  CHECK(conn != NULL);
  long runs = -1;
  PQreset(conn);
  CHECK(prepared_use(conn, &runs) == 0);
  write_on(conn, "prepared-1");
  CHECK(prepared_use(conn, &runs) == 2 && runs == 0);
  write_on(conn, "prepared-2");
  write_on(conn, "prepared-3");
  CHECK(prepared_use(conn, &runs) == 2 && runs == 4);
  PQreset(conn);
  CHECK(PQstatus(conn) == CONNECTION_OK && prepared_use(conn, &runs) == 0);
  write_on(conn, "prepared-4");
  write_on(conn, "prepared-5");
  CHECK(prepared_use(conn, &runs) == 2 && runs == 2);
  db_release(db, conn, 0);
  CHECK(count_rows("tag LIKE 'prepared-%'") == 5);
}

int main(void) {
  char *tmp = test_tmpdir();
  char dir[256];
  STATUS err;
  double start = now_s();
  int limit = 120;
  pthread_t wd;
  pthread_create(&wd, NULL, watchdog, &limit);
  pthread_detach(wd);

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  PG_CLUSTER *cluster = test_start_cluster(dir);
  g_conninfo = strdup(pg_cluster_conninfo(cluster));
  status_clear(&err);
  DB *db = db_open(g_conninfo, 4, &err);
  CHECK(db != NULL);
  if (db == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
    return 1;
  }
  CHECK(exec_side("CREATE TABLE lw_rows (id bigserial PRIMARY KEY, thread int NOT NULL, "
                  "seq int NOT NULL, tag text NOT NULL UNIQUE, tx bigint NOT NULL)",
                  NULL, 0));
  atomic_store(&g_phase, 8);
  test_prepared(db);
  atomic_store(&g_phase, 1);
  test_batching(db);
  atomic_store(&g_phase, 2);
  test_failure_alone(db);
  atomic_store(&g_phase, 3);
  test_connection_dies(db);
  atomic_store(&g_phase, 4);
  test_stop_drains(db);
  atomic_store(&g_phase, 7);
  test_big_batch(db);
  atomic_store(&g_phase, 5);
  test_database_down(db, dir, &cluster);
  atomic_store(&g_phase, 6);

  db_close(db);
  pg_cluster_stop(cluster);
  free(g_conninfo);
  test_rmtree(tmp);
  free(tmp);
  printf("took %.1f s\n", now_s() - start);
  return test_summary("log_writer_test");
}
