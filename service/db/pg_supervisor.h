/* pg_supervisor.h: keeps the embedded PostgreSQL (pg_cluster.h) running.
 *
 * A thread looks at the postmaster every PG_SUPERVISOR_POLL_MS. When it has died
 * (kill -9, the OOM killer, a crash) the supervisor logs a warning with the reason and
 * starts it again in the same data directory, as the same user, with the same
 * settings; PostgreSQL runs crash recovery itself. Meanwhile calls fail with
 * UNAVAILABLE and the health check answers NOT_SERVING (the database does not
 * answer); the connection pool reconnects by itself afterwards. A postmaster that
 * keeps dying is restarted after 1 s, 2 s, 4 s ... up to 30 s; the delay returns to
 * 1 s once it has run for a minute.
 *
 * A clean shutdown (exit status 0, postmaster.pid removed: pg_ctl stop) is taken as
 * an administrator's decision and logged, not undone; a postmaster someone then
 * starts (pg_ctl start) is adopted and supervised like ours. */
#ifndef SMIMED_DB_PG_SUPERVISOR_H
#define SMIMED_DB_PG_SUPERVISOR_H

#include "service/common/status.h"
#include "service/db/pg_cluster.h"

#define PG_SUPERVISOR_POLL_MS 250

typedef struct pg_supervisor_st PG_SUPERVISOR;

/* pg_supervisor_start starts supervising |cluster| (which must outlive the
 * supervisor). Call it once everything is up; it may be called after grpc_init.
 * Returns NULL and fills |err| if the thread cannot be started. */
PG_SUPERVISOR *pg_supervisor_start(PG_CLUSTER *cluster, STATUS *err);

/* pg_supervisor_restarts is how many times the supervisor restarted PostgreSQL. */
unsigned pg_supervisor_restarts(PG_SUPERVISOR *sup);

/* pg_supervisor_stop stops supervising (a restart in progress gives up; no restart
 * happens after it returns), joins the thread and frees |sup|. Call it first at
 * shutdown, before the calls in flight are drained and pg_cluster_stop runs, so that
 * it never restarts the PostgreSQL being stopped. Accepts NULL. */
void pg_supervisor_stop(PG_SUPERVISOR *sup);

#endif /* SMIMED_DB_PG_SUPERVISOR_H */
