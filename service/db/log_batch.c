/* log_batch.c: see log_batch.h. */
#include "service/db/log_batch.h"

#include <stdlib.h>

#include "service/db/db.h"
#include "service/db/prepared.h"

int log_batch_send(PGconn *conn, const char *sql, int n_params, const char *const *values,
                   const int *lengths, const int *formats) {
  char name[PREPARED_NAME_LEN];
  if (prepared_name(conn, sql, name)) {
    return PQsendQueryPrepared(conn, name, n_params, values, lengths, formats, 0);
  }
  prepared_later(conn, sql, n_params);
  return PQsendQueryParams(conn, sql, n_params, NULL, values, lengths, formats, 0);
}

/* send_fixed queues a statement without parameters (BEGIN, COMMIT, ROLLBACK). Pipeline
 * mode allows only the extended protocol, hence PQsendQueryParams. */
static int send_fixed(PGconn *conn, const char *sql) {
  return PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* BATCH_READ: where the results of a batch go as they are read, in the order the
 * statements were queued: BEGIN, each entry's |counts[i]| statements, COMMIT (or the
 * ROLLBACK that replaced it). */
typedef struct batch_read_st {
  LOG_ENTRY **entries;
  const int *counts;
  const int *id_at;
  size_t n;
  size_t entry;  /* entry of the next statement; n once past the entries */
  int statement; /* index of the next statement within that entry */
  int begun;     /* BEGIN's result was read */
  int failed;    /* an entry's statement failed */
  int committed; /* COMMIT answered COMMAND_OK */
} BATCH_READ;

/* take_result files one statement's result. Returns 0 if the connection failed. */
static int take_result(PGconn *conn, BATCH_READ *r, PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  int broken = 0;
  if (!r->begun) {
    r->begun = 1;
  } else if (r->entry < r->n) {
    LOG_ENTRY *e = r->entries[r->entry];
    if (st == PGRES_FATAL_ERROR) {
      db_result_status(conn, res, "writing the audit log", &broken, &e->err);
      r->failed = 1;
    } else if (r->statement == r->id_at[r->entry]) {
      if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1) {
        e->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
      } else if (st != PGRES_PIPELINE_ABORTED) {
        db_result_status(conn, res, "writing the audit log", &broken, &e->err);
        r->failed = 1;
      }
    }
    if (++r->statement == r->counts[r->entry]) {
      r->statement = 0;
      r->entry++;
    }
  } else {
    r->committed = st == PGRES_COMMAND_OK;
  }
  return !broken && PQstatus(conn) == CONNECTION_OK;
}

/* read_batch reads every result up to the Sync's. Returns 0 if the connection failed. */
static int read_batch(PGconn *conn, BATCH_READ *r) {
  int nulls = 0;
  for (;;) {
    PGresult *res = PQgetResult(conn);
    if (res == NULL) {
      /* One NULL ends each statement's results; two in a row, or a dead connection,
       * mean the Sync's result will never come. */
      if (PQstatus(conn) != CONNECTION_OK || ++nulls > 1) {
        return 0;
      }
      continue;
    }
    nulls = 0;
    if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      return 1;
    }
    int ok = take_result(conn, r, res);
    PQclear(res);
    if (!ok) {
      return 0;
    }
  }
}

int log_batch_write(PGconn *conn, LOG_ENTRY **entries, size_t n, STATUS *fatal) {
  int counts[LOG_BATCH_MAX], id_at[LOG_BATCH_MAX];
  BATCH_READ r = {.entries = entries, .counts = counts, .id_at = id_at, .n = 0};
  int queue_failed = 0, broken = 0;

  if (n == 0 || n > LOG_BATCH_MAX) {
    status_set(fatal, STATUS_INTERNAL, "log batch of %zu entries", n);
    return -1;
  }
  if (!PQenterPipelineMode(conn) || !send_fixed(conn, "BEGIN")) {
    db_result_status(conn, NULL, "writing the audit log", &broken, fatal);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    LOG_ENTRY *e = entries[i];
    e->ok = 0;
    e->id = 0;
    status_clear(&e->err);
    id_at[i] = -1;
    counts[i] = e->fn(conn, e->arg, &id_at[i], &e->err);
    if (counts[i] <= 0) {
      /* Some of its statements may be queued: the ROLLBACK below undoes them, and
       * their results are read without being filed (r.n stops before this entry). */
      queue_failed = 1;
      break;
    }
    r.n = i + 1;
  }
  if (!send_fixed(conn, queue_failed ? "ROLLBACK" : "COMMIT") || !PQpipelineSync(conn) ||
      !read_batch(conn, &r) || !PQexitPipelineMode(conn)) {
    /* A COMMIT whose answer is lost leaves the outcome unknown: the entries are not
     * acknowledged (UNAVAILABLE), as a lone transaction's would not be. */
    db_result_status(conn, NULL, "writing the audit log", &broken, fatal);
    fatal->code = STATUS_UNAVAILABLE;
    return -1;
  }
  if (PQtransactionStatus(conn) == PQTRANS_IDLE) {
    prepared_pending(conn);
  }
  if (r.committed && !queue_failed && !r.failed) {
    for (size_t i = 0; i < n; i++) {
      entries[i]->ok = 1;
    }
    return 1;
  }
  /* An error inside BEGIN ... leaves the transaction aborted until a ROLLBACK. */
  if (PQtransactionStatus(conn) == PQTRANS_INERROR &&
      !db_exec(conn, "ROLLBACK", &broken, fatal)) {
    return -1;
  }
  if (!queue_failed && !r.failed) {
    /* COMMIT itself failed with the connection fine (e.g. a serialization failure):
     * each entry again alone says which fails. */
    for (size_t i = 0; i < n; i++) {
      status_set(&entries[i]->err, STATUS_ABORTED, "the audit log's commit failed");
    }
  }
  return 0;
}
