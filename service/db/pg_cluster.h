/* pg_cluster.h: the embedded PostgreSQL of `smimed --data-dir DIR`: a private cluster in
 * DIR/pgdata, created with initdb on first start, run as a child of the daemon
 * (listening only on a Unix socket in DIR, no TCP), stopped with the daemon.
 *
 * PostgreSQL refuses to run as root: when the daemon runs as root, initdb and postgres
 * run as |run_as_user| (the system user "smimed" that scripts/setup.sh creates), DIR is
 * chowned to it (mode 0700). The child gets PR_SET_PDEATHSIG so that it shuts down if
 * the daemon dies without stopping it. A postmaster left running by a crashed daemon
 * (postmaster.pid with a live pid) is stopped and restarted cleanly. */
#ifndef SMIMED_DB_PG_CLUSTER_H
#define SMIMED_DB_PG_CLUSTER_H

#include <sys/types.h>

#include "service/common/status.h"

typedef struct pg_cluster_st PG_CLUSTER;

/* PG_CLUSTER_DEFAULT_BINDIR is where Debian's postgresql-15 installs its servers. */
#define PG_CLUSTER_DEFAULT_BINDIR "/usr/lib/postgresql/15/bin"

typedef struct pg_cluster_config_st {
  const char *data_dir;     /* DIR: must exist or be creatable; path short enough for a
                               Unix socket (DIR/.s.PGSQL.5432 under 107 bytes) */
  const char *bindir;       /* NULL: PG_CLUSTER_DEFAULT_BINDIR */
  const char *run_as_user;  /* used only when running as root; NULL: "smimed" */
} PG_CLUSTER_CONFIG;

/* pg_cluster_start creates the cluster if needed, starts postgres and waits (up to 60 s)
 * until it accepts connections. Returns NULL and fills |err| (naming the step and
 * pointing at DIR/postgresql.log) on failure.
 *
 * It forks, so call it before grpc_init, and from the main thread: the death signal is
 * tied to the thread that forked, so postgres would shut down when that thread ended.
 * The postmaster is a child of the daemon: a SIGCHLD handler that reaps every child
 * (waitpid(-1, ...)) is tolerated (pg_cluster_stop then watches the pid instead). */
PG_CLUSTER *pg_cluster_start(const PG_CLUSTER_CONFIG *config, STATUS *err);

/* pg_cluster_conninfo is a libpq connection string for the cluster, e.g.
 * "host=DIR dbname=smimed user=smimed". Owned by |cluster|. */
const char *pg_cluster_conninfo(const PG_CLUSTER *cluster);

/* pg_cluster_pid is the postmaster's pid. */
pid_t pg_cluster_pid(const PG_CLUSTER *cluster);

/* pg_cluster_stop asks postgres for a fast shutdown (SIGINT), waits for it (up to 30 s,
 * then SIGQUIT), and frees |cluster|. Accepts NULL. */
void pg_cluster_stop(PG_CLUSTER *cluster);

#endif /* SMIMED_DB_PG_CLUSTER_H */
