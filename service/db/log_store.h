/* log_store.h: the audit log: one row per admin action and per mail operation. */
#ifndef SMIMED_DB_LOG_STORE_H
#define SMIMED_DB_LOG_STORE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "smime/v1/log.pb-c.h"

/* log_store_insert writes |entry| (id and create_time are ignored: the database assigns
 * them) on |conn|, which may be inside the caller's transaction. Addresses are stored
 * lowercased. Sets |*out_id|.
 *
 * Entries are ordered under a lock that a writer holds until its transaction commits
 * (migrations.c): inside a transaction, write the entry last, just before COMMIT. Calls
 * not part of a larger transaction go through the log writer (log_writer.h). */
int log_store_insert(PGconn *conn, const Smime__V1__LogEntry *entry, int64_t *out_id,
                     STATUS *err);

/* log_store_send_insert queues the same INSERT on |conn| with PQsendQueryParams (for
 * the log writer's pipelined batches, log_batch.h): its result is one row, the id. */
int log_store_send_insert(PGconn *conn, const Smime__V1__LogEntry *entry, STATUS *err);

/* log_store_list answers ListLogs: filters ANDed, newest first, page_size default 50 and
 * at most 1000 (more -> INVALID_ARGUMENT), page_token opaque (a bad one ->
 * INVALID_ARGUMENT "page_token is not one this service issued"). |*out| is allocated;
 * free with smime__v1__list_logs_response__free_unpacked(out, NULL). */
int log_store_list(DB *db, const Smime__V1__ListLogsRequest *req,
                   Smime__V1__ListLogsResponse **out, STATUS *err);

#endif /* SMIMED_DB_LOG_STORE_H */
