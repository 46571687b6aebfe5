/* log_batch.h: one group commit of audit entries on one connection (log_writer.h
 * decides what goes into a batch; this is the exchange with PostgreSQL).
 *
 * The batch is sent in libpq's pipeline mode: BEGIN, every entry's statements, COMMIT
 * and a Sync leave in one write and their results come back in one read. One round trip
 * per batch, however many entries share it, instead of one per statement: on this
 * machine every round trip costs both processes a wake-up (paravirtual context
 * switches), which was most of PostgreSQL's CPU per audit entry. */
#ifndef SMIMED_DB_LOG_BATCH_H
#define SMIMED_DB_LOG_BATCH_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* LOG_BATCH_MAX bounds one batch: a burst must not hold the log's ordering lock for
 * long. (A batch of any size is safe to send whole before reading: libpq reads the
 * server's answers whenever a write would block; log_writer_test sends 4 MiB.) */
#define LOG_BATCH_MAX 128

/* LOG_WRITE_FN queues one entry's statements on |conn|, which is in pipeline mode
 * inside the batch's transaction, with log_batch_send (nothing can be read back
 * before the batch ends: a statement that needs the entry's id uses
 * currval('logs_id_seq'), which the INSERT INTO logs set in this session). Returns the
 * number of statements queued (>= 1) and sets |*out_id_statement| to the index among
 * them of the one whose single row is the entry's log id; 0 with |err| if it could not
 * queue them (the batch is then rolled back and the entry fails alone). It may run
 * twice (log_writer.h). */
typedef int (*LOG_WRITE_FN)(PGconn *conn, void *arg, int *out_id_statement, STATUS *err);

/* LOG_ENTRY: one entry of a batch; ok, id and err are log_batch_write's results. */
typedef struct log_entry_st {
  LOG_WRITE_FN fn;
  void *arg;
  int ok;
  int64_t id;
  STATUS err;
} LOG_ENTRY;

/* log_batch_send queues |sql| with its parameters, as PQsendQueryParams would with
 * text results, for a LOG_WRITE_FN. The first batch that uses |sql| on a connection sends the text; after that batch the text
 * is prepared on the connection (prepared.h), and later batches send only the
 * parameters of the prepared statement (parsing and planning the insert were a fifth of
 * PostgreSQL's time per message). Pipeline mode cannot wait for a Prepare's answer
 * before using it, hence the one batch's delay. Returns PQsendQuery*'s result. */
int log_batch_send(PGconn *conn, const char *sql, int n_params, const char *const *values,
                   const int *lengths, const int *formats);

/* log_batch_write writes |entries| in one transaction on |conn|. Returns 1 if it
 * committed (each entry ok, with its id); 0 if an entry failed while the connection
 * stayed usable (rolled back: that entry's err says why, the others were not written);
 * -1 with |fatal| when the connection failed (nothing acknowledged). */
int log_batch_write(PGconn *conn, LOG_ENTRY **entries, size_t n, STATUS *fatal);

#endif /* SMIMED_DB_LOG_BATCH_H */
