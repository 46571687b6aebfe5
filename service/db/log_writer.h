/* log_writer.h: group commit for the audit log. Each SignEncrypt, DecryptVerify and
 * refused call writes one audit entry and may be answered only once it is durable; a
 * transaction per entry costs a commit (WAL flush) and a turn at the log's ordering
 * lock per call. Here one thread writes every entry that queued while the previous
 * transaction committed, in one transaction, and then wakes their callers: under load
 * many entries share one commit; alone, an entry waits for nothing but its own.
 *
 * An entry is a function that queues its statements on the writer's connection inside
 * the writer's transaction (no BEGIN or COMMIT of its own; log_batch.h: the batch is
 * one round trip). If one entry fails while the connection is fine, the batch is
 * rolled back and its entries are written again one transaction each, so that one bad
 * entry fails alone. If the connection is lost, every entry of the batch fails
 * UNAVAILABLE: none of them was acknowledged. */
#ifndef SMIMED_DB_LOG_WRITER_H
#define SMIMED_DB_LOG_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/log_batch.h"

typedef struct log_writer_st LOG_WRITER;

/* log_writer_start starts the writer thread on |db|'s pool. NULL with |err| if it
 * cannot. */
LOG_WRITER *log_writer_start(DB *db, STATUS *err);

/* log_writer_stop writes what is queued, then stops the thread. Accepts NULL. */
void log_writer_stop(LOG_WRITER *w);

/* log_writer_run queues |fn(arg)| and waits until its transaction has committed
 * (returns 1, |*out_id| set) or failed (0, |err|). */
int log_writer_run(LOG_WRITER *w, LOG_WRITE_FN fn, void *arg, int64_t *out_id, STATUS *err);

/* log_writer_depth is the number of entries queued or being written, for metrics. */
size_t log_writer_depth(LOG_WRITER *w);

#endif /* SMIMED_DB_LOG_WRITER_H */
