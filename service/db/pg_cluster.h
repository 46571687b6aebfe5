/* pg_cluster.h: the embedded PostgreSQL of `smimed --data-dir DIR`: a private cluster in
 * DIR/pgdata, created with initdb on first start, run as a child of the daemon
 * (listening only on a Unix socket in DIR, no TCP), stopped with the daemon.
 *
 * PostgreSQL refuses to run as root: when the daemon runs as root, initdb and postgres
 * run as |run_as_user| (the system user "smimed" that scripts/setup.sh creates), DIR is
 * chowned to it (mode 0700). The child gets PR_SET_PDEATHSIG so that it shuts down if
 * the daemon dies without stopping it. A postmaster left running by a crashed daemon
 * (postmaster.pid with a live pid) is stopped and restarted cleanly.
 *
 * After start, pg_cluster_check and pg_cluster_restart let a supervisor (see
 * pg_supervisor.h) notice a postmaster that died and start it again. */
#ifndef SMIMED_DB_PG_CLUSTER_H
#define SMIMED_DB_PG_CLUSTER_H

#include <stdatomic.h>
#include <stddef.h>
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

/* PG_CLUSTER_STATE is what pg_cluster_check found. */
typedef enum pg_cluster_state_t {
  PG_CLUSTER_RUNNING, /* a postmaster of this cluster runs: ours, or one that
                         postmaster.pid names (pg_ctl start by an administrator) */
  PG_CLUSTER_STOPPED, /* it shut down cleanly (exit status 0, postmaster.pid removed):
                         someone stopped it on purpose (pg_ctl stop) */
  PG_CLUSTER_CRASHED, /* it died: killed by a signal (kill -9, the OOM killer),
                         crashed, or exited with a failure status */
} PG_CLUSTER_STATE;

/* pg_cluster_check looks whether the postmaster still runs: waitpid if it is our
 * child, else kill(pid, 0) and /proc (a "postgres" process in DIR/pgdata). When it is
 * gone, a postmaster that postmaster.pid names is adopted (watched and stopped with
 * the daemon from then on). |why| (one line) says why it went away, on the call that
 * first notices; "" otherwise. Cheap: meant to be called every fraction of a second.
 *
 * pg_cluster_check and pg_cluster_restart are for one thread (the supervisor) at a
 * time; pg_cluster_pid may be called from any thread; pg_cluster_stop only once that
 * thread no longer calls them. */
PG_CLUSTER_STATE pg_cluster_check(PG_CLUSTER *cluster, char *why, size_t why_len);

/* pg_cluster_restart starts the postmaster again, as pg_cluster_start did (same data
 * directory, user, socket and settings; PostgreSQL runs crash recovery itself), and
 * waits until it accepts connections: as long as it answers "starting up" (a long
 * crash recovery), else up to 60 s. A stale postmaster.pid naming a dead pid is left
 * to PostgreSQL, one naming an unrelated live process is removed; if a postmaster of
 * this cluster already runs, it is adopted instead. Safe after grpc_init, from any
 * thread: the fork happens on a thread of this module that lives until
 * pg_cluster_stop (the death signal is tied to the thread that forked), and the child
 * makes only async-signal-safe calls before exec. Gives up with STATUS_CANCELLED once
 * |*cancel| (may be NULL) is set, leaving a postmaster it started to pg_cluster_stop.
 * Returns 0 with the reason (PostgreSQL's own last log lines) in |err|: e.g. while
 * backends of a killed postmaster still hold its shared memory, which ends on its own
 * within seconds; call again later. */
int pg_cluster_restart(PG_CLUSTER *cluster, const atomic_int *cancel, STATUS *err);

/* pg_cluster_stop asks postgres (ours, or one pg_cluster_check adopted) for a fast
 * shutdown (SIGINT), waits for it (up to 30 s, then SIGQUIT), and frees |cluster|.
 * Accepts NULL. */
void pg_cluster_stop(PG_CLUSTER *cluster);

#endif /* SMIMED_DB_PG_CLUSTER_H */
