/* db.h: the front's PostgreSQL connections (libpq), schema migrations, and the
 * translation of database failures into statuses (UNAVAILABLE when the server is
 * unreachable; the next call reconnects by itself). */
#ifndef SMIMED_DB_DB_H
#define SMIMED_DB_DB_H

#include <libpq-fe.h>

#include "service/common/status.h"
#include "service/db/query_cache.h"

typedef struct db_st DB;

/* db_open connects up to |connections| (>= 1) times to |conninfo| and applies every
 * pending migration (service/db/migrations.c) under an advisory lock, so replicas
 * starting together do not race. Returns NULL and fills |err| on failure. */
DB *db_open(const char *conninfo, unsigned connections, STATUS *err);

/* db_close closes every connection and frees |db|. Accepts NULL. */
void db_close(DB *db);

/* db_schema_version is the highest migration applied. */
unsigned db_schema_version(DB *db);

/* db_connect_as opens one connection to |conninfo| with smimed's settings (connect
 * timeout, UTF-8, warnings to the log) under |application_name|, outside the pool (the
 * change listener's). Check PQstatus; PQfinish it. */
PGconn *db_connect_as(const char *conninfo, const char *application_name);

/* db_acquire takes a free connection (waiting for one), reconnecting it if it was
 * broken. Returns NULL with |err| UNAVAILABLE if the server cannot be reached. */
PGconn *db_acquire(DB *db, STATUS *err);

/* db_release gives |conn| back. If the last command on it failed because the connection
 * broke, pass |broken| = 1 so it is reset before its next use. */
void db_release(DB *db, PGconn *conn, int broken);

/* db_result_status turns a failed PGresult (or NULL) on |conn| into |err|: UNAVAILABLE
 * for a lost connection, INTERNAL otherwise, with the server's message. Returns 0.
 * Sets |*out_broken| to 1 if the connection is unusable. A few SQLSTATEs get a more
 * precise code: 23505 unique_violation -> ALREADY_EXISTS, class 22 (data exception,
 * e.g. a string that is not valid UTF-8) -> INVALID_ARGUMENT, 40001/40P01
 * (serialization failure, deadlock) -> ABORTED, 57014 (statement timeout or cancel) ->
 * DEADLINE_EXCEEDED, class 08 and 57P01-57P03 (server shutting down) -> UNAVAILABLE.
 * The message starts with |what|, e.g. "listing logs: ...". */
int db_result_status(PGconn *conn, const PGresult *res, const char *what, int *out_broken,
                     STATUS *err);

/* db_exec runs |sql|, a fixed command without parameters and without user values
 * (BEGIN, COMMIT, ROLLBACK, ...), on |conn|. On failure fills |err| as
 * db_result_status does and sets |*out_broken|. */
int db_exec(PGconn *conn, const char *sql, int *out_broken, STATUS *err);

/* db_exec_cached is PQexecParams(conn, ...) for a read whose result depends only on the
 * database's content, not on the time it runs: when |conn| is not inside a transaction
 * the result may come from the query cache (query_cache.h) without a round trip. The
 * result is the caller's to PQclear, as PQexecParams's. |db| NULL: no cache. */
PGresult *db_exec_cached(DB *db, PGconn *conn, const char *sql, int n_params,
                         const char *const *values, const int *lengths, const int *formats,
                         int result_format);

/* db_note_change tells the query caches that this replica changed settings,
 * certificates or private keys: call it right after the COMMIT, before answering the
 * call. It empties this replica's cache, then waits (up to 3 s) until every replica's
 * change listener has emptied its own (change_listener_sync), so that the very next
 * call, to any replica, sees the change. |conn|: the caller's connection, idle after
 * its COMMIT (NULL: one from the pool). */
void db_note_change(DB *db, PGconn *conn);

/* db_cache_stats reads the query cache's counters. */
void db_cache_stats(DB *db, QUERY_CACHE_STATS *out);

/* db_ping checks that the database answers (SELECT 1 on a pooled connection), for the
 * health service. Returns 0 with |err| UNAVAILABLE if not. */
int db_ping(DB *db, STATUS *err);

/* db_check_kek compares |kek_check_value| (ServiceStatus.kek_check_value of the
 * keystore's key-encryption key) with the one recorded in the database, recording it
 * if none is (first start). Returns 0 with |err| FAILED_PRECONDITION if the database
 * was set up with another key-encryption key: its wrapped private keys would not open. */
int db_check_kek(DB *db, const char *kek_check_value, STATUS *err);

#endif /* SMIMED_DB_DB_H */
