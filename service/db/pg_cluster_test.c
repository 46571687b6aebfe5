/* pg_cluster_test.c: the embedded cluster: first start creates it, a restart keeps the
 * data, a postmaster left behind by a killed daemon (or started by hand) is handled,
 * and a data directory too long for a Unix socket, or a missing run-as user, fail
 * with a clear message. */
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
  char dir[256], pgdata[300], ping[400];
  int fds[2];
  pid_t first;
  pid_t leftover = 0;
  int wstatus;
  PG_CLUSTER *c;
  const char *v;
  time_t deadline;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  snprintf(pgdata, sizeof(pgdata), "%s/pgdata", dir);
  snprintf(ping, sizeof(ping), "host=%s port=5432 dbname=postgres user=smimed", dir);
  CHECK(pipe(fds) == 0);
  /* Double fork, so that the postmaster is nobody's child here (as after a crash). */
  first = fork();
  if (first == 0) {
    pid_t second = fork();
    if (second == 0) {
      char *argv[] = {PG_CLUSTER_DEFAULT_BINDIR "/postgres", "-D", pgdata, "-k", dir, "-p",
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
  test_too_long(tmp);
  test_missing_user(tmp);
  test_bad_bindir(tmp);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("pg_cluster_test");
}
