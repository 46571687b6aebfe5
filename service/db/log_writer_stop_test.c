/* log_writer_stop_test.c: log_writer_stop while callers are still inside
 * log_writer_run, under ThreadSanitizer. The database layer is stubbed (every entry
 * commits at once), so that only the writer's own locking is exercised: a caller woken
 * by the last batch must be out of log_writer_run before log_writer_stop destroys the
 * mutex and frees the writer. TSan reports the race otherwise (halt_on_error). */
#include "service/db/log_writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

/* The stubs: a connection that is never used, batches that commit. */
PGconn *db_acquire(DB *db, STATUS *err) {
  (void)db;
  (void)err;
  return (PGconn *)1;
}

void db_release(DB *db, PGconn *conn, int broken) {
  (void)db;
  (void)conn;
  (void)broken;
}

/* log_batch_write commits every entry: the entry's "statement" sets its id. */
int log_batch_write(PGconn *conn, LOG_ENTRY **entries, size_t n, STATUS *fatal) {
  (void)conn;
  (void)fatal;
  for (size_t i = 0; i < n; i++) {
    entries[i]->ok = 1;
    entries[i]->id = (int64_t)(intptr_t)entries[i]->arg;
  }
  return 1;
}

static int write_one(PGconn *conn, void *arg, int *out_id_statement, STATUS *err) {
  (void)conn;
  (void)arg;
  (void)err;
  *out_id_statement = 0;
  return 1;
}

#define CALLERS 16
#define ROUNDS 60

static atomic_int g_finished;
static atomic_int g_bad;

typedef struct caller_st {
  LOG_WRITER *w;
  intptr_t n;
} CALLER;

static void *caller_main(void *arg) {
  CALLER *c = arg;
  int64_t id = -1;
  STATUS err;
  status_clear(&err);
  if (!log_writer_run(c->w, write_one, (void *)c->n, &id, &err) || id != c->n) {
    atomic_fetch_add(&g_bad, 1);
  }
  atomic_fetch_add(&g_finished, 1);
  return NULL;
}

int main(void) {
  STATUS err;
  for (int round = 0; round < ROUNDS; round++) {
    LOG_WRITER *w = log_writer_start((DB *)1, &err);
    if (w == NULL) {
      fprintf(stderr, "log_writer_start: %s\n", err.message);
      return 1;
    }
    CALLER callers[CALLERS];
    pthread_t t[CALLERS];
    atomic_store(&g_finished, 0);
    for (int i = 0; i < CALLERS; i++) {
      callers[i].w = w;
      callers[i].n = round * CALLERS + i + 1;
      pthread_create(&t[i], NULL, caller_main, &callers[i]);
    }
    /* Every caller is inside log_writer_run (queued, being written, or done) before
     * the stop: calling it after log_writer_stop returned would be the test's fault. */
    while (log_writer_depth(w) + (size_t)atomic_load(&g_finished) < CALLERS) {
      usleep(100);
    }
    log_writer_stop(w);
    for (int i = 0; i < CALLERS; i++) {
      pthread_join(t[i], NULL);
    }
  }
  int bad = atomic_load(&g_bad);
  printf("log_writer_stop_test: %d rounds, %d bad calls\n", ROUNDS, bad);
  return bad == 0 ? 0 : 1;
}
