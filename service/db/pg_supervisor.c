/* pg_supervisor.c: see pg_supervisor.h. */
#include "service/db/pg_supervisor.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/log.h"

/* BACKOFF_*: the delay before restarting a postmaster that died; it doubles with each
 * attempt so that one that keeps dying (a full disk, a corrupt cluster) does not
 * flood the logs, and returns to the first value once PostgreSQL has run STABLE_S. */
#define BACKOFF_FIRST_S 1
#define BACKOFF_MAX_S 30
#define STABLE_S 60

struct pg_supervisor_st {
  PG_CLUSTER *cluster;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled by pg_supervisor_stop */
  atomic_int stop;   /* also pg_cluster_restart's cancel flag */
  atomic_uint restarts;
};

/* SUPERVISION is the supervising thread's own state. */
typedef struct supervision_st {
  PG_CLUSTER_STATE last; /* what the previous look found */
  double up_since;       /* when PostgreSQL was last seen starting to run */
  double next_try;       /* when to try the next restart, while it is down */
  int delay_s;           /* the backoff for the next restart */
  unsigned attempt;      /* restarts tried since it went down */
} SUPERVISION;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* wait_ms sleeps |ms|, or less if told to stop. Returns 0 once stopping. */
static int wait_ms(PG_SUPERVISOR *s, long ms) {
  struct timespec deadline;

  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += ms / 1000;
  deadline.tv_nsec += (ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&s->mu);
  while (!atomic_load(&s->stop)) {
    if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return !atomic_load(&s->stop);
}

/* next_delay doubles the backoff, up to BACKOFF_MAX_S. */
static int next_delay(int delay_s) {
  return delay_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : delay_s * 2;
}

/* went_down logs, loudly, the look that first found PostgreSQL gone, and schedules
 * the restart of one that died. */
static void went_down(SUPERVISION *v, PG_CLUSTER_STATE st, pid_t pid, const char *why) {
  if (st == PG_CLUSTER_STOPPED) {
    log_warn("PostgreSQL (pid %d) %s: stopped from outside smimed (pg_ctl stop?), so it "
             "is not restarted; calls fail with UNAVAILABLE until it is started again "
             "(pg_ctl start, or restart smimed)",
             (int)pid, why);
    return;
  }
  v->attempt = 0;
  v->next_try = now_s() + v->delay_s;
  log_warn("PostgreSQL (pid %d) died: %s; calls fail with UNAVAILABLE until it is back; "
           "restarting it in %d s",
           (int)pid, why, v->delay_s);
}

/* try_restart starts PostgreSQL again. Returns 0 if told to stop meanwhile. */
static int try_restart(PG_SUPERVISOR *s, SUPERVISION *v) {
  STATUS err;
  double t0 = now_s();

  status_clear(&err);
  v->attempt++;
  log_info("restarting PostgreSQL (attempt %u)", v->attempt);
  if (pg_cluster_restart(s->cluster, &s->stop, &err)) {
    atomic_fetch_add(&s->restarts, 1);
    log_warn("PostgreSQL restarted (pid %d) after %.1f s of recovery; calls work again",
             (int)pg_cluster_pid(s->cluster), now_s() - t0);
    v->last = PG_CLUSTER_RUNNING;
    v->up_since = now_s();
    v->delay_s = next_delay(v->delay_s);
    return 1;
  }
  if (atomic_load(&s->stop)) {
    return 0;
  }
  v->delay_s = next_delay(v->delay_s);
  v->next_try = now_s() + v->delay_s;
  log_error("restarting PostgreSQL failed (attempt %u): %s; next attempt in %d s",
            v->attempt, err.message, v->delay_s);
  return 1;
}

/* look checks PostgreSQL once and acts on what it finds. Returns 0 if told to stop. */
static int look(PG_SUPERVISOR *s, SUPERVISION *v) {
  char why[512];
  pid_t pid = pg_cluster_pid(s->cluster);
  PG_CLUSTER_STATE st = pg_cluster_check(s->cluster, why, sizeof(why));

  if (st == PG_CLUSTER_RUNNING) {
    if (v->last != PG_CLUSTER_RUNNING) {
      /* Started by someone else while it was down (pg_cluster_check logged it). */
      v->up_since = now_s();
    } else if (v->delay_s > BACKOFF_FIRST_S && now_s() - v->up_since >= STABLE_S) {
      v->delay_s = BACKOFF_FIRST_S;
    }
    v->last = PG_CLUSTER_RUNNING;
    return 1;
  }
  if (why[0] != '\0') {
    went_down(v, st, pid, why);
  }
  v->last = st;
  if (st == PG_CLUSTER_CRASHED && now_s() >= v->next_try) {
    return try_restart(s, v);
  }
  return 1;
}

static void *supervise(void *arg) {
  PG_SUPERVISOR *s = arg;
  SUPERVISION v;

  memset(&v, 0, sizeof(v));
  v.last = PG_CLUSTER_RUNNING;
  v.up_since = now_s();
  v.delay_s = BACKOFF_FIRST_S;
  while (wait_ms(s, PG_SUPERVISOR_POLL_MS) && look(s, &v)) {
  }
  return NULL;
}

PG_SUPERVISOR *pg_supervisor_start(PG_CLUSTER *cluster, STATUS *err) {
  PG_SUPERVISOR *s;
  pthread_condattr_t attr;
  int rc;

  if (cluster == NULL) {
    status_set(err, STATUS_INVALID_ARGUMENT, "no PostgreSQL cluster to supervise");
    return NULL;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  s->cluster = cluster;
  atomic_init(&s->stop, 0);
  atomic_init(&s->restarts, 0);
  pthread_mutex_init(&s->mu, NULL);
  /* Monotonic, so that a change of the wall clock neither stalls nor hurries it. */
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &attr);
  pthread_condattr_destroy(&attr);
  rc = pthread_create(&s->thread, NULL, supervise, s);
  if (rc != 0) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED,
               "starting the PostgreSQL supervisor thread: %s", strerror(rc));
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
  }
  return s;
}

unsigned pg_supervisor_restarts(PG_SUPERVISOR *sup) { return atomic_load(&sup->restarts); }

void pg_supervisor_stop(PG_SUPERVISOR *sup) {
  if (sup == NULL) {
    return;
  }
  pthread_mutex_lock(&sup->mu);
  atomic_store(&sup->stop, 1);
  pthread_cond_broadcast(&sup->cv);
  pthread_mutex_unlock(&sup->mu);
  pthread_join(sup->thread, NULL);
  pthread_cond_destroy(&sup->cv);
  pthread_mutex_destroy(&sup->mu);
  free(sup);
}
