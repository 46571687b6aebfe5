/* pg_cluster_test.c: the embedded cluster: first start creates it, a restart keeps the
 * data, a postmaster left behind by a killed daemon (or started by hand) is handled,
 * and a data directory too long for a Unix socket, or a missing run-as user, fail
 * with a clear message. A postmaster killed -9 is noticed and restarted (by
 * pg_cluster_restart, and by the supervisor of pg_supervisor.h), a clean stop is told
 * apart, and one started outside is adopted. */
#include "service/db/pg_cluster.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/common/status.h"
#include "service/db/db_testutil.h"
#include "service/db/pg_supervisor.h"

/* exec_sql runs |sql| on the cluster; returns the first value of the first row (static
 * buffer) or NULL on failure. */
static const char *exec_sql(const PG_CLUSTER *c, const char *sql) {
  static char value[256];
  const char *ret = NULL;
  PGconn *conn = PQconnectdb(pg_cluster_conninfo(c));
  PGresult *res = NULL;
  if (PQstatus(conn) != CONNECTION_OK) {
    fprintf(stderr, "connect: %s", PQerrorMessage(conn));
    goto out;
  }
  res = PQexec(conn, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
    fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
    goto out;
  }
  value[0] = '\0';
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
    snprintf(value, sizeof(value), "%s", PQgetvalue(res, 0, 0));
  }
  ret = value;

out:
  PQclear(res);
  PQfinish(conn);
  return ret;
}

static int alive(pid_t pid) {
  char path[64];
  char buf[256];
  FILE *f;
  char *p;
  if (kill(pid, 0) != 0 && errno != EPERM) {
    return 0;
  }
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  f = fopen(path, "r");
  if (f == NULL) {
    return 0;
  }
  p = fgets(buf, sizeof(buf), f);
  fclose(f);
  p = p != NULL ? strrchr(buf, ')') : NULL;
  return p == NULL || (p[2] != 'Z' && p[2] != 'X');
}

/* start_foreign_postmaster starts postgres in |dir| the way an administrator would,
 * nobody's child here (double fork, as after a crash or with pg_ctl), and waits until
 * it accepts connections. Returns its pid. */
static pid_t start_foreign_postmaster(const char *dir) {
  char pgdata[300], ping[400];
  int fds[2];
  pid_t first;
  pid_t leftover = 0;
  int wstatus;
  time_t deadline;

  snprintf(pgdata, sizeof(pgdata), "%s/pgdata", dir);
  snprintf(ping, sizeof(ping), "host=%s port=5432 dbname=postgres user=smimed", dir);
  CHECK(pipe(fds) == 0);
  /* Double fork, so that the postmaster is nobody's child here (as after a crash). */
  first = fork();
  if (first == 0) {
    pid_t second = fork();
    if (second == 0) {
      char *argv[] = {PG_CLUSTER_DEFAULT_BINDIR "/postgres", "-D", pgdata, "-k", (char *)dir, "-p",
                      "5432", "-c", "listen_addresses=", NULL};
      close(fds[0]);
      close(fds[1]);
      if (geteuid() == 0) {
        struct passwd *pw = getpwnam("smimed");
        if (pw == NULL || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
          _exit(3);
        }
      }
      setsid();
      execv(argv[0], argv);
      _exit(4);
    }
    if (write(fds[1], &second, sizeof(second)) != sizeof(second)) {
      _exit(3);
    }
    _exit(0);
  }
  close(fds[1]);
  CHECK(read(fds[0], &leftover, sizeof(leftover)) == sizeof(leftover));
  close(fds[0]);
  waitpid(first, &wstatus, 0);
  deadline = time(NULL) + 60;
  while (PQping(ping) != PQPING_OK && time(NULL) < deadline) {
    usleep(100000);
  }
  CHECK(PQping(ping) == PQPING_OK);
  CHECK(alive(leftover));
  return leftover;
}

static void test_start_stop_restart(const char *tmp) {
  char dir[256];
  struct stat st;
  PG_CLUSTER *c;
  pid_t pid;
  const char *v;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  c = test_start_cluster(dir);
  pid = pg_cluster_pid(c);
  CHECK(pid > 0 && alive(pid));
  CHECK(strstr(pg_cluster_conninfo(c), "dbname=smimed") != NULL);
  CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("smimed");
    CHECK(pw != NULL && st.st_uid == pw->pw_uid);
  }
  CHECK(exec_sql(c, "CREATE TABLE kept (v text)") != NULL);
  CHECK(exec_sql(c, "INSERT INTO kept VALUES ('still here')") != NULL);
  /* No TCP listener: listen_addresses is empty. */
  v = exec_sql(c, "SHOW listen_addresses");
  CHECK(v != NULL && strcmp(v, "") == 0);

  pg_cluster_stop(c);
  CHECK(!alive(pid));

  c = test_start_cluster(dir);
  CHECK(pg_cluster_pid(c) > 0);
  v = exec_sql(c, "SELECT v FROM kept");
  CHECK(v != NULL && strcmp(v, "still here") == 0);
  pg_cluster_stop(c);
  pg_cluster_stop(NULL);
}

/* test_killed_daemon: a daemon (a child here) starts the cluster and is killed -9; its
 * postmaster gets SIGINT from PR_SET_PDEATHSIG and may still be shutting down when the
 * next daemon starts. */
static void test_killed_daemon(const char *tmp) {
  char dir[256];
  int fds[2];
  pid_t daemon_pid;
  pid_t old_pid = 0;
  int wstatus;
  PG_CLUSTER *c;
  const char *v;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  CHECK(pipe(fds) == 0);
  daemon_pid = fork();
  if (daemon_pid == 0) {
    PG_CLUSTER *dc;
    close(fds[0]);
    dc = test_start_cluster(dir);
    old_pid = pg_cluster_pid(dc);
    if (write(fds[1], &old_pid, sizeof(old_pid)) != sizeof(old_pid)) {
      _exit(3);
    }
    for (;;) {
      pause();
    }
  }
  close(fds[1]);
  CHECK(read(fds[0], &old_pid, sizeof(old_pid)) == sizeof(old_pid));
  close(fds[0]);
  CHECK(old_pid > 0 && alive(old_pid));
  kill(daemon_pid, SIGKILL);
  waitpid(daemon_pid, &wstatus, 0);

  c = test_start_cluster(dir);
  CHECK(pg_cluster_pid(c) != old_pid);
  CHECK(!alive(old_pid));
  v = exec_sql(c, "SELECT v FROM kept");
  CHECK(v != NULL && strcmp(v, "still here") == 0);
  pg_cluster_stop(c);
}

/* test_live_leftover: a postmaster without a death signal (as if started by hand, or
 * left over when PDEATHSIG could not work) still runs in the data directory: the start
 * stops it and runs its own. */
static void test_live_leftover(const char *tmp) {
  char dir[256];
  pid_t leftover;
  PG_CLUSTER *c;
  const char *v;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  leftover = start_foreign_postmaster(dir);
  CHECK(alive(leftover));

  c = test_start_cluster(dir);
  CHECK(pg_cluster_pid(c) != leftover);
  CHECK(!alive(leftover));
  v = exec_sql(c, "SELECT v FROM kept");
  CHECK(v != NULL && strcmp(v, "still here") == 0);
  pg_cluster_stop(c);
}

/* test_stale_pid_file: postmaster.pid names a live process that is not a postmaster of
 * this cluster (pid reuse after a reboot): PostgreSQL alone would refuse to start. */
static void test_stale_pid_file(const char *tmp) {
  char path[300];
  char dir[256];
  FILE *f;
  PG_CLUSTER *c;
  pid_t other;
  int wstatus;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  snprintf(path, sizeof(path), "%s/pgdata/postmaster.pid", dir);
  f = fopen(path, "w");
  CHECK(f != NULL);
  if (f == NULL) {
    return;
  }
  /* A live process that is neither a postmaster here nor an ancestor of the new one
   * (PostgreSQL itself ignores its own parent's and grandparent's pids). */
  other = fork();
  if (other == 0) {
    for (;;) {
      pause();
    }
  }
  fprintf(f, "%d\n%s/pgdata\n", (int)other, dir);
  fclose(f);
  c = test_start_cluster(dir);
  CHECK(exec_sql(c, "SELECT 1") != NULL);
  pg_cluster_stop(c);
  kill(other, SIGKILL);
  waitpid(other, &wstatus, 0);
}

/* wait_down polls pg_cluster_check (as the supervisor does) until it no longer finds
 * PostgreSQL running, for up to 5 s; |why| gets the reason of the first such look. */
static PG_CLUSTER_STATE wait_down(PG_CLUSTER *c, char *why, size_t why_len) {
  time_t deadline = time(NULL) + 5;
  PG_CLUSTER_STATE st;
  while ((st = pg_cluster_check(c, why, why_len)) == PG_CLUSTER_RUNNING &&
         time(NULL) < deadline) {
    usleep(50000);
  }
  return st;
}

/* restart_within retries pg_cluster_restart for up to |seconds|, as the supervisor
 * does: backends of a killed postmaster may hold its shared memory for a moment. */
static int restart_within(PG_CLUSTER *c, int seconds) {
  time_t deadline = time(NULL) + seconds;
  STATUS err;
  for (;;) {
    status_clear(&err);
    if (pg_cluster_restart(c, NULL, &err)) {
      return 1;
    }
    if (time(NULL) >= deadline) {
      fprintf(stderr, "pg_cluster_restart: %s\n", err.message);
      return 0;
    }
    sleep(1);
  }
}

/* ping_ok says whether the cluster accepts connections. */
static int ping_ok(const PG_CLUSTER *c) { return PQping(pg_cluster_conninfo(c)) == PQPING_OK; }

/* test_killed_postmaster: kill -9 of the postmaster (the OOM killer) leaves
 * postmaster.pid behind; pg_cluster_check says why it went, once, and
 * pg_cluster_restart brings it back with the data (crash recovery). */
static void test_killed_postmaster(const char *tmp) {
  char dir[256], pidfile[300], why[256];
  PG_CLUSTER *c;
  pid_t old;
  FILE *f;
  long named = 0;
  const char *v;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  snprintf(pidfile, sizeof(pidfile), "%s/pgdata/postmaster.pid", dir);
  c = test_start_cluster(dir);
  old = pg_cluster_pid(c);
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_RUNNING && why[0] == '\0');
  CHECK(exec_sql(c, "INSERT INTO kept VALUES ('before the crash')") != NULL);

  kill(old, SIGKILL);
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_CRASHED);
  CHECK(strstr(why, "killed by signal 9") != NULL);
  /* Said once: later looks report the state without a reason. */
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_CRASHED && why[0] == '\0');
  CHECK(pg_cluster_pid(c) == -1);
  f = fopen(pidfile, "r");
  CHECK(f != NULL);
  if (f != NULL) {
    CHECK(fscanf(f, "%ld", &named) == 1 && named == (long)old);
    fclose(f);
  }

  CHECK(restart_within(c, 30));
  CHECK(pg_cluster_pid(c) > 0 && pg_cluster_pid(c) != old && alive(pg_cluster_pid(c)));
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_RUNNING);
  v = exec_sql(c, "SELECT count(*) FROM kept WHERE v = 'before the crash'");
  CHECK(v != NULL && strcmp(v, "1") == 0);
  CHECK(exec_sql(c, "DELETE FROM kept WHERE v = 'before the crash'") != NULL);
  pg_cluster_stop(c);
}

/* test_orphaned_backend: a backend of the killed postmaster that has not exited yet
 * (stopped here with SIGSTOP; normally it exits within moments) still holds the old
 * shared memory: PostgreSQL refuses to start, pg_cluster_restart says why, and a
 * later attempt, once the backend is gone, succeeds. */
static void test_orphaned_backend(const char *tmp) {
  char dir[256], why[256];
  PG_CLUSTER *c;
  PGconn *conn;
  PGresult *res;
  pid_t backend = 0;
  STATUS err;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  c = test_start_cluster(dir);
  conn = PQconnectdb(pg_cluster_conninfo(c));
  res = PQexec(conn, "SELECT pg_backend_pid()");
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    backend = (pid_t)atoi(PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  CHECK(backend > 0);
  if (backend <= 0) {
    PQfinish(conn);
    pg_cluster_stop(c);
    return;
  }
  kill(backend, SIGSTOP);
  kill(pg_cluster_pid(c), SIGKILL);
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_CRASHED);
  status_clear(&err);
  CHECK(!pg_cluster_restart(c, NULL, &err));
  CHECK(strstr(err.message, "shared memory") != NULL);
  printf("restart refused as expected: %s\n", err.message);
  CHECK(strstr(err.message, "postgresql.log") != NULL);
  kill(backend, SIGCONT);
  CHECK(restart_within(c, 30));
  CHECK(!alive(backend));
  CHECK(ping_ok(c));
  PQfinish(conn);
  pg_cluster_stop(c);
}

/* test_clean_stop_adopted: a postmaster that shuts down cleanly (pg_ctl stop) is
 * STOPPED, not CRASHED; one then started outside (pg_ctl start) is adopted, and
 * pg_cluster_stop stops it too. */
static void test_clean_stop_adopted(const char *tmp) {
  char dir[256], why[256];
  PG_CLUSTER *c;
  pid_t old;
  pid_t foreign;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  c = test_start_cluster(dir);
  old = pg_cluster_pid(c);
  kill(old, SIGINT); /* what pg_ctl stop -m fast sends */
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_STOPPED);
  CHECK(strstr(why, "exit status 0") != NULL);
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_STOPPED && why[0] == '\0');

  foreign = start_foreign_postmaster(dir);
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_RUNNING);
  CHECK(pg_cluster_pid(c) == foreign);
  /* Not our child: killed, it is noticed from /proc and the pid file it leaves. */
  kill(foreign, SIGKILL);
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_CRASHED);
  CHECK(strstr(why, "left postmaster.pid behind") != NULL);
  CHECK(restart_within(c, 30));
  CHECK(ping_ok(c));
  pg_cluster_stop(c);

  /* An adopted postmaster is stopped with the cluster. */
  foreign = start_foreign_postmaster(dir);
  c = test_start_cluster(dir); /* stops the leftover, starts its own */
  CHECK(!alive(foreign));
  kill(pg_cluster_pid(c), SIGINT);
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_STOPPED);
  foreign = start_foreign_postmaster(dir);
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_RUNNING);
  pg_cluster_stop(c);
  CHECK(!alive(foreign));
}

/* test_supervisor: the supervisor restarts a postmaster killed -9 within seconds;
 * the restarted one outlives the supervisor's thread (its death signal is tied to the
 * thread that forked it); once stopped, the supervisor restarts nothing. */
static void test_supervisor(const char *tmp) {
  char dir[256], why[256];
  PG_CLUSTER *c;
  PG_SUPERVISOR *sup;
  STATUS err;
  pid_t old;
  pid_t restarted;
  time_t deadline;
  const char *v;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  c = test_start_cluster(dir);
  status_clear(&err);
  sup = pg_supervisor_start(c, &err);
  CHECK(sup != NULL);
  if (sup == NULL) {
    pg_cluster_stop(c);
    return;
  }
  old = pg_cluster_pid(c);
  kill(old, SIGKILL);
  deadline = time(NULL) + 20;
  while ((pg_supervisor_restarts(sup) == 0 || !ping_ok(c)) && time(NULL) < deadline) {
    usleep(100000);
  }
  CHECK(pg_supervisor_restarts(sup) == 1);
  restarted = pg_cluster_pid(c);
  CHECK(restarted > 0 && restarted != old && ping_ok(c));
  v = exec_sql(c, "SELECT v FROM kept");
  CHECK(v != NULL && strcmp(v, "still here") == 0);

  pg_supervisor_stop(sup);
  sleep(1);
  CHECK(alive(restarted) && ping_ok(c));

  kill(restarted, SIGKILL);
  CHECK(wait_down(c, why, sizeof(why)) == PG_CLUSTER_CRASHED);
  sleep(2);
  CHECK(pg_cluster_check(c, why, sizeof(why)) == PG_CLUSTER_CRASHED);
  CHECK(!ping_ok(c));
  pg_cluster_stop(c);
  pg_supervisor_stop(NULL);
}

static void test_too_long(const char *tmp) {
  char dir[400];
  STATUS err;
  PG_CLUSTER_CONFIG config = {dir, NULL, NULL};
  struct stat st;

  snprintf(dir, sizeof(dir), "%s/%s", tmp,
           "a-data-directory-whose-name-is-far-too-long-for-the-unix-socket-of-postgresql"
           "-to-fit-in-sun-path");
  status_clear(&err);
  CHECK(pg_cluster_start(&config, &err) == NULL);
  CHECK_STATUS(err, STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "too long") != NULL);
  CHECK(strstr(err.message, ".s.PGSQL.5432") != NULL);
  /* Refused before anything was created. */
  CHECK(stat(dir, &st) != 0);
}

static void test_missing_user(const char *tmp) {
  char dir[256];
  STATUS err;
  PG_CLUSTER_CONFIG config = {dir, NULL, "smimed-no-such-user"};

  if (geteuid() != 0) {
    return; /* the run-as user matters only to root */
  }
  snprintf(dir, sizeof(dir), "%s/nouser", tmp);
  status_clear(&err);
  CHECK(pg_cluster_start(&config, &err) == NULL);
  CHECK_STATUS(err, STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "system user \"smimed-no-such-user\" does not exist") != NULL);
  CHECK(strstr(err.message, "useradd --system") != NULL);
}

static void test_bad_bindir(const char *tmp) {
  char dir[256];
  STATUS err;
  PG_CLUSTER_CONFIG config = {dir, "/nonexistent/bin", NULL};

  snprintf(dir, sizeof(dir), "%s/badbin", tmp);
  status_clear(&err);
  CHECK(pg_cluster_start(&config, &err) == NULL);
  CHECK(err.code != STATUS_OK);
  CHECK(strstr(err.message, "postgresql.log") != NULL);
  CHECK(strstr(err.message, "could not execute") != NULL);
}

int main(void) {
  char *tmp = test_tmpdir();
  test_start_stop_restart(tmp);
  test_killed_daemon(tmp);
  test_live_leftover(tmp);
  test_stale_pid_file(tmp);
  test_killed_postmaster(tmp);
  test_orphaned_backend(tmp);
  test_clean_stop_adopted(tmp);
  test_supervisor(tmp);
  test_too_long(tmp);
  test_missing_user(tmp);
  test_bad_bindir(tmp);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("pg_cluster_test");
}
