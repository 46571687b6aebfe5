/* change_listener.h: a thread that keeps one PostgreSQL connection LISTENing on the
 * channel that the schema's triggers NOTIFY when settings, certificates or private keys
 * change (migration 2), so that every replica drops its query cache when any replica
 * changes them. While it is not connected (PostgreSQL down or restarting), the cache is
 * off: a change made meanwhile by another replica would go unseen. It reconnects every
 * second and, once LISTENing again, turns the cache back on, empty. */
#ifndef SMIMED_DB_CHANGE_LISTENER_H
#define SMIMED_DB_CHANGE_LISTENER_H

#include "service/common/status.h"
#include "service/db/query_cache.h"

/* CHANGE_CHANNEL is the NOTIFY channel of migration 2's triggers. */
#define CHANGE_CHANNEL "smimed_changes"

typedef struct change_listener_st CHANGE_LISTENER;

/* change_listener_start connects to |conninfo| (as db_open's connections do) and starts
 * the thread, which drives |cache|. The first connection is made before it returns, so
 * the cache is on from the first call. NULL with |err| when the thread cannot start
 * (a connection failure is not an error: the thread keeps trying). */
CHANGE_LISTENER *change_listener_start(const char *conninfo, QUERY_CACHE *cache, STATUS *err);

/* change_listener_stop stops the thread and closes its connection. Accepts NULL. */
void change_listener_stop(CHANGE_LISTENER *l);

#endif /* SMIMED_DB_CHANGE_LISTENER_H */
