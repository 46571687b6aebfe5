/* log_writer.c: see log_writer.h. */
#include "service/db/log_writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "service/common/log.h"

typedef struct item_st {
  struct item_st *next;
  LOG_ENTRY entry;
  int done;
  /* Each caller waits on its own condition: a batch's end wakes exactly its callers,
   * not every thread queued behind it (a wake-up is a context switch here), and the
   * next leader is woken alone. */
  pthread_cond_t finished;
} ITEM;

struct log_writer_st {
  DB *db;
  pthread_mutex_t mu;
  pthread_cond_t drained; /* the last caller left log_writer_run while stopping */
  ITEM *head, *tail;
  size_t depth;
  size_t callers; /* threads inside log_writer_run: log_writer_stop waits for them */
  int writing;    /* a caller is writing a batch (the leader) */
  int stopping;
};

/* finish_all marks |n| items finished with their own results (|why| NULL) or |why|. */
static void finish_all(LOG_WRITER *w, ITEM **items, size_t n, const STATUS *why) {
  pthread_mutex_lock(&w->mu);
  for (size_t i = 0; i < n; i++) {
    if (why != NULL) {
      items[i]->entry.ok = 0;
      items[i]->entry.err = *why;
    }
    items[i]->done = 1;
    pthread_cond_signal(&items[i]->finished);
  }
  w->depth -= n;
  pthread_mutex_unlock(&w->mu);
}

/* write_items writes a batch and finishes its items. */
static void write_items(LOG_WRITER *w, ITEM **items, size_t n) {
  LOG_ENTRY *entries[LOG_BATCH_MAX];
  STATUS fatal;
  status_clear(&fatal);
  PGconn *conn = db_acquire(w->db, &fatal);
  if (conn == NULL) {
    finish_all(w, items, n, &fatal);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    entries[i] = &items[i]->entry;
  }
  int rc = log_batch_write(conn, entries, n, &fatal);
  if (rc == 0) {
    /* One entry failed: each again in a transaction of its own. */
    for (size_t i = 0; i < n && rc != -1; i++) {
      rc = log_batch_write(conn, &entries[i], 1, &fatal);
      if (rc == -1) {
        finish_all(w, &items[i], n - i, &fatal);
        n = i;
      } else {
        finish_all(w, &items[i], 1, NULL);
      }
    }
    db_release(w->db, conn, rc == -1);
    return;
  }
  db_release(w->db, conn, rc == -1);
  finish_all(w, items, n, rc == 1 ? NULL : &fatal);
}

/* take_batch unlinks the first LOG_BATCH_MAX queued items into |batch|. Called with
 * |w->mu| held. */
static size_t take_batch(LOG_WRITER *w, ITEM **batch) {
  size_t n = 0;
  while (w->head != NULL && n < LOG_BATCH_MAX) {
    batch[n++] = w->head;
    w->head = w->head->next;
  }
  if (w->head == NULL) {
    w->tail = NULL;
  }
  return n;
}

LOG_WRITER *log_writer_start(DB *db, STATUS *err) {
  LOG_WRITER *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "log writer: out of memory");
    return NULL;
  }
  w->db = db;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->drained, NULL);
  return w;
}

void log_writer_stop(LOG_WRITER *w) {
  if (w == NULL) {
    return;
  }
  /* Every queued entry belongs to a caller still inside log_writer_run, whose turn as
   * leader (or another's) writes it: waiting for the callers to leave is waiting for
   * the queue to be written. */
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  while (w->callers > 0) {
    pthread_cond_wait(&w->drained, &w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  pthread_cond_destroy(&w->drained);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int log_writer_run(LOG_WRITER *w, LOG_WRITE_FN fn, void *arg, int64_t *out_id, STATUS *err) {
  ITEM item;
  ITEM *batch[LOG_BATCH_MAX];
  memset(&item, 0, sizeof(item));
  item.entry.fn = fn;
  item.entry.arg = arg;
  pthread_mutex_lock(&w->mu);
  if (w->stopping) {
    pthread_mutex_unlock(&w->mu);
    return status_set(err, STATUS_UNAVAILABLE, "the audit log writer is stopping");
  }
  pthread_cond_init(&item.finished, NULL);
  if (w->tail != NULL) {
    w->tail->next = &item;
  } else {
    w->head = &item;
  }
  w->tail = &item;
  w->depth++;
  w->callers++;
  while (!item.done) {
    if (w->writing) {
      pthread_cond_wait(&item.finished, &w->mu);
      continue;
    }
    /* Nobody is writing: this caller leads, writing everything queued (its own entry
     * and those of callers that came while the previous batch committed) on its own
     * thread. A caller alone thus hands its entry to no other thread. */
    w->writing = 1;
    size_t n = take_batch(w, batch);
    pthread_mutex_unlock(&w->mu);
    write_items(w, batch, n);
    pthread_mutex_lock(&w->mu);
    w->writing = 0;
    if (item.done && w->head != NULL) {
      /* Entries queued meanwhile: their first caller leads the next batch. */
      pthread_cond_signal(&w->head->finished);
    }
  }
  if (--w->callers == 0 && w->stopping) {
    pthread_cond_signal(&w->drained);
  }
  pthread_mutex_unlock(&w->mu);
  pthread_cond_destroy(&item.finished);
  if (!item.entry.ok) {
    *err = item.entry.err;
    return 0;
  }
  *out_id = item.entry.id;
  return 1;
}

size_t log_writer_depth(LOG_WRITER *w) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->depth;
  pthread_mutex_unlock(&w->mu);
  return n;
}
