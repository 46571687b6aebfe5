/* change_listener.h: a thread that keeps one PostgreSQL connection LISTENing on the
 * channel that the schema's triggers NOTIFY when settings, certificates or private keys
 * change (migration 2), so that every replica drops its query cache when any replica
 * changes them. While it is not connected (PostgreSQL down or restarting), the cache is
 * off: a change made meanwhile by another replica would go unseen. It reconnects every
 * second and, once LISTENing again, turns the cache back on, empty.
 *
 * NOTIFY is asynchronous: another replica drops its cache a moment after the commit.
 * A write that must be seen "at once" everywhere (a deleted key, S/MIME disabled) calls
 * change_listener_sync after its commit: it sends a marker on the same channel, which
 * PostgreSQL delivers to each listener after the change, and waits until every
 * connected listener (every replica) has answered it on CHANGE_ACK_CHANNEL, i.e. has
 * dropped its cache. Writes are rare admin calls; reads stay free of round trips. */
#ifndef SMIMED_DB_CHANGE_LISTENER_H
#define SMIMED_DB_CHANGE_LISTENER_H

#include <libpq-fe.h>

#include "service/common/status.h"
#include "service/db/query_cache.h"

/* CHANGE_CHANNEL is the NOTIFY channel of migration 2's triggers (payload "") and of
 * the sync markers (payload "sync:TOKEN"). */
#define CHANGE_CHANNEL "smimed_changes"
/* CHANGE_ACK_CHANNEL carries the listeners' answers to sync markers (payload TOKEN). */
#define CHANGE_ACK_CHANNEL "smimed_changes_seen"
/* CHANGE_LISTENER_APP is the application_name of the listeners' connections, by which
 * change_listener_sync counts them in pg_stat_activity. */
#define CHANGE_LISTENER_APP "smimed-listener"

typedef struct change_listener_st CHANGE_LISTENER;

/* change_listener_start connects to |conninfo| (as db_open's connections do) and starts
 * the thread, which drives |cache|. The first connection is made before it returns, so
 * the cache is on from the first call. NULL with |err| when the thread cannot start
 * (a connection failure is not an error: the thread keeps trying). */
CHANGE_LISTENER *change_listener_start(const char *conninfo, QUERY_CACHE *cache, STATUS *err);

/* change_listener_sync sends a sync marker on |conn| (a pooled connection, outside a
 * transaction) and waits up to |timeout_ms| for every listener connected to the
 * database to answer it. Returns 1 when all did, 0 on timeout or failure (logged: the
 * change still reaches them, a moment later). */
int change_listener_sync(CHANGE_LISTENER *l, PGconn *conn, int timeout_ms);

/* change_listener_stop stops the thread and closes its connection. Accepts NULL. */
void change_listener_stop(CHANGE_LISTENER *l);

#endif /* SMIMED_DB_CHANGE_LISTENER_H */
