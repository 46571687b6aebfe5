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
   * not every thread queued behind it (a wake-up is a context switch here). */
  pthread_cond_t finished;
} ITEM;

struct log_writer_st {
  DB *db;
  pthread_mutex_t mu;
  pthread_cond_t work;    /* items queued, or stopping */
  pthread_cond_t drained; /* the last caller left log_writer_run while stopping */
  ITEM *head, *tail;
  size_t depth;
  size_t callers; /* threads inside log_writer_run: log_writer_stop waits for them */
  int stopping;
  pthread_t thread;
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

static void *writer_main(void *arg) {
  LOG_WRITER *w = arg;
  ITEM *batch[LOG_BATCH_MAX];
  for (;;) {
    pthread_mutex_lock(&w->mu);
    while (w->head == NULL && !w->stopping) {
      pthread_cond_wait(&w->work, &w->mu);
    }
    if (w->head == NULL) {
      pthread_mutex_unlock(&w->mu);
      break;
    }
    size_t n = 0;
    while (w->head != NULL && n < LOG_BATCH_MAX) {
      batch[n++] = w->head;
      w->head = w->head->next;
    }
    if (w->head == NULL) {
      w->tail = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    write_items(w, batch, n);
  }
  return NULL;
}

LOG_WRITER *log_writer_start(DB *db, STATUS *err) {
  LOG_WRITER *w = calloc(1, sizeof(*w));
  if (w == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "log writer: out of memory");
    return NULL;
  }
  w->db = db;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->work, NULL);
  pthread_cond_init(&w->drained, NULL);
  int rc = pthread_create(&w->thread, NULL, writer_main, w);
  if (rc != 0) {
    status_set(err, STATUS_INTERNAL, "log writer: pthread_create: %s", strerror(rc));
    pthread_cond_destroy(&w->drained);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return NULL;
  }
  return w;
}

void log_writer_stop(LOG_WRITER *w) {
  if (w == NULL) {
    return;
  }
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  /* Callers woken by the last batch may not have left log_writer_run yet. */
  pthread_mutex_lock(&w->mu);
  while (w->callers > 0) {
    pthread_cond_wait(&w->drained, &w->mu);
  }
  pthread_mutex_unlock(&w->mu);
  pthread_cond_destroy(&w->drained);
  pthread_cond_destroy(&w->work);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

int log_writer_run(LOG_WRITER *w, LOG_WRITE_FN fn, void *arg, int64_t *out_id, STATUS *err) {
  ITEM item;
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
  pthread_cond_signal(&w->work);
  while (!item.done) {
    pthread_cond_wait(&item.finished, &w->mu);
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
