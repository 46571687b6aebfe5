/* pg_cluster.c: see pg_cluster.h.
 *
 * Children are started with fork+exec, not posix_spawn, because initdb and postgres
 * must take the run-as user's identity (setgroups/setgid/setuid), which posix_spawn
 * cannot do. The first start runs before grpc_init, with one thread; a restart
 * (pg_cluster_restart) runs while gRPC's and libpq's threads exist. That is safe only
 * because everything the child needs (paths, argv, the supplementary groups, its error
 * messages) is prepared in the parent, so that the child between fork and exec makes
 * only async-signal-safe calls: no malloc, no stdio, no logging, no locks another
 * thread may have held at fork. gRPC's own fork handlers do nothing unless
 * GRPC_ENABLE_FORK_SUPPORT is set, which smimed never sets. */
#include "service/db/pg_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/common/log.h"

/* PG_PORT is fixed rather than taken from PGPORT: the socket name must be the same for
 * the server and for our libpq connections whatever the environment says. */
#define PG_PORT "5432"
#define PG_SOCKET_NAME "/.s.PGSQL." PG_PORT
/* PG_SOCKET_PATH_MAX: sun_path holds 108 bytes including the terminating NUL. */
#define PG_SOCKET_PATH_MAX 107
#define PG_DEFAULT_USER "smimed"
#define PG_DB_USER "smimed"
#define PG_DB_NAME "smimed"
#define PG_READY_TIMEOUT_S 60
#define PG_STOP_TIMEOUT_S 30
/* PG_LOG_ROTATE_BYTES: postgresql.log is renamed to postgresql.log.1 at start once it
 * has grown past this, so that a long-lived installation keeps two bounded files. */
#define PG_LOG_ROTATE_BYTES (10L * 1024 * 1024)

/* RUN_AS is the identity the children take when the daemon runs as root. */
typedef struct run_as_st {
  int drop; /* 0: keep ours (not root) */
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int ngroups;
} RUN_AS;

/* KEEPER is the thread that forks restarted postmasters. PR_SET_PDEATHSIG fires when
 * the *thread* that forked the child ends, not the process: a postmaster forked by a
 * short-lived thread (the supervisor, which stops first at shutdown) would get SIGINT
 * while calls in flight still need it. So restarts fork from this thread, which lives
 * until pg_cluster_stop has stopped the postmaster. Started on the first restart. */
typedef struct keeper_st {
  pthread_t thread;
  int running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int quit;
  /* The one job at a time: argv and log_fd in, pid and err out. */
  int has_job;
  int job_done;
  char *const *argv;
  int log_fd;
  pid_t pid;
  STATUS err;
} KEEPER;

struct pg_cluster_st {
  char *dir;      /* DIR, absolute */
  char *pgdata;   /* DIR/pgdata */
  char *log_path; /* DIR/postgresql.log */
  char *pidfile;  /* DIR/pgdata/postmaster.pid */
  char *conninfo;
  char *bindir;
  RUN_AS as;
  /* pid is the postmaster we watch (-1: none); read by pg_cluster_pid from any thread,
   * hence atomic. pid_is_child: we started it (waitpid gives its exit status); 0 for
   * one adopted from postmaster.pid (started with pg_ctl by someone else). */
  pid_t pid;
  int pid_is_child;
  PG_CLUSTER_STATE down_state; /* what pg_cluster_check last found when it went away */
  KEEPER keeper;
};

static pid_t get_pid(const PG_CLUSTER *c) { return __atomic_load_n(&c->pid, __ATOMIC_SEQ_CST); }

static void set_pid(PG_CLUSTER *c, pid_t pid, int is_child) {
  c->pid_is_child = is_child;
  __atomic_store_n(&c->pid, pid, __ATOMIC_SEQ_CST);
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *str_printf(const char *fmt, ...) {
  char *out = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&out, fmt, ap) < 0) {
    out = NULL;
  }
  va_end(ap);
  return out;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* log_tail writes into |out| the last few lines of |path|, joined with " | ", to quote
 * in an error: the person reading the error then sees PostgreSQL's own reason. */
static void log_tail(const char *path, char *out, size_t out_len) {
  char buf[1024];
  ssize_t n;
  off_t size;
  int lines = 0;
  size_t start;
  size_t j = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  out[0] = '\0';
  if (fd < 0) {
    return;
  }
  size = lseek(fd, 0, SEEK_END);
  if (size < 0) {
    close(fd);
    return;
  }
  if (size > (off_t)sizeof(buf) - 1) {
    lseek(fd, size - (off_t)(sizeof(buf) - 1), SEEK_SET);
  } else {
    lseek(fd, 0, SEEK_SET);
  }
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) {
    return;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
    n--;
  }
  buf[n] = '\0';
  /* Back up over the last 4 lines. */
  start = (size_t)n;
  while (start > 0) {
    if (buf[start - 1] == '\n' && ++lines == 4) {
      break;
    }
    start--;
  }
  /* Keep the end if it is still too long: the reason is usually on the last line. */
  if ((size_t)n - start > out_len - 8 && out_len > 8) {
    start = (size_t)n - (out_len - 8);
  }
  for (size_t i = start; i < (size_t)n && j + 4 < out_len; i++) {
    if (buf[i] == '\n') {
      out[j++] = ' ';
      out[j++] = '|';
      out[j++] = ' ';
    } else {
      out[j++] = buf[i];
    }
  }
  out[j] = '\0';
}

/* process_alive reports whether |pid| is a running process (not a zombie). */
static int process_alive(pid_t pid) {
  char path[64];
  char stat[512];
  ssize_t n;
  char *paren;
  int fd;

  if (kill(pid, 0) != 0 && errno != EPERM) {
    return 0;
  }
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 1; /* kill says it exists; without /proc, believe it */
  }
  n = read(fd, stat, sizeof(stat) - 1);
  close(fd);
  if (n <= 0) {
    return 1;
  }
  stat[n] = '\0';
  /* "pid (comm) S ...": comm may hold anything, so the state follows the last ')'. */
  paren = strrchr(stat, ')');
  if (paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X')) {
    return 0;
  }
  return 1;
}

/* wait_gone waits up to |timeout_s| for |pid| to end, reaping it if it is our child.
 * Returns 1 if it ended. */
static int wait_gone(pid_t pid, double timeout_s) {
  double deadline = now_s() + timeout_s;
  for (;;) {
    int wstatus;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) {
      return 1;
    }
    if (r < 0 && errno != EINTR) {
      /* Not our child (or SIGCHLD is ignored): watch it instead. */
      if (!process_alive(pid)) {
        return 1;
      }
    }
    if (now_s() >= deadline) {
      return 0;
    }
    sleep_ms(50);
  }
}

/* stop_pid stops a postmaster: SIGINT is PostgreSQL's fast shutdown (roll back open
 * transactions, checkpoint, exit), SIGQUIT its immediate shutdown (crash recovery at
 * next start), SIGKILL the last resort. Returns 1 once it is gone. */
static int stop_pid(pid_t pid, double timeout_s) {
  if (kill(pid, SIGINT) != 0 && errno == ESRCH) {
    return wait_gone(pid, 1);
  }
  if (wait_gone(pid, timeout_s)) {
    return 1;
  }
  log_warn("PostgreSQL (pid %d) did not stop within %.0f s; sending SIGQUIT", (int)pid,
           timeout_s);
  kill(pid, SIGQUIT);
  if (wait_gone(pid, 10)) {
    return 1;
  }
  log_warn("PostgreSQL (pid %d) ignored SIGQUIT; sending SIGKILL", (int)pid);
  kill(pid, SIGKILL);
  return wait_gone(pid, 10);
}

/* mkdir_p creates |path| and its missing parents (mode 0700 for what it creates). */
static int mkdir_p(const char *path, STATUS *err) {
  char buf[PATH_MAX];
  size_t len = strlen(path);

  if (len >= sizeof(buf)) {
    return status_set(err, STATUS_FAILED_PRECONDITION, "data directory path too long");
  }
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char saved = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        return status_set(err, STATUS_FAILED_PRECONDITION, "creating %s: %s", buf,
                          strerror(errno));
      }
      buf[i] = saved;
    }
  }
  return 1;
}

/* conninfo_for is the libpq connection string for database |dbname| of the cluster in
 * |dir|, the directory quoted as libpq wants (it may hold spaces or quotes). */
static char *conninfo_for(const char *dir, const char *dbname) {
  /* Worst case every character is escaped. */
  size_t len = strlen(dir);
  char *quoted = malloc(2 * len + 3);
  char *out;
  size_t j = 0;

  if (quoted == NULL) {
    return NULL;
  }
  quoted[j++] = '\'';
  for (size_t i = 0; i < len; i++) {
    if (dir[i] == '\'' || dir[i] == '\\') {
      quoted[j++] = '\\';
    }
    quoted[j++] = dir[i];
  }
  quoted[j++] = '\'';
  quoted[j] = '\0';
  out = str_printf("host=%s port=" PG_PORT " dbname=%s user=" PG_DB_USER, quoted,
                   dbname);
  free(quoted);
  return out;
}

/* spawn starts |argv| with stdout and stderr on |log_fd|, as |as|, in its own process
 * group (a Ctrl-C meant for the daemon must not stop PostgreSQL under its feet: the
 * daemon stops it after its own shutdown), with PR_SET_PDEATHSIG(SIGINT) so that it
 * shuts down if the daemon dies without stopping it.
 *
 * Between fork and exec the child calls only async-signal-safe functions (sigprocmask,
 * signal, setpgid, dup2, closefrom, setgroups/setgid/setuid, prctl, getppid, chdir,
 * strlen, write, execv, _exit): on a restart it is forked from a process whose other
 * threads (gRPC's, libpq's callers) may hold malloc's, stdio's or the logger's locks,
 * which the child must never take. Keep it that way: format in the parent. */
static pid_t spawn(char *const argv[], const char *cwd, int log_fd, const RUN_AS *as,
                   STATUS *err) {
  pid_t parent = getpid();
  pid_t pid;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  /* Formatted here: the child may only make async-signal-safe calls. */
  char *chdir_msg = str_printf(
      "smimed: cannot enter %s as %s: the data directory and every directory above it "
      "must be searchable by that user\n",
      cwd, as->drop ? "the run-as user" : "this user");

  if (null_fd < 0 || chdir_msg == NULL) {
    status_set(err, STATUS_INTERNAL, "%s",
               chdir_msg == NULL ? "out of memory" : "cannot open /dev/null");
    if (null_fd >= 0) {
      close(null_fd);
    }
    free(chdir_msg);
    return -1;
  }
  pid = fork();
  if (pid < 0) {
    status_set(err, STATUS_INTERNAL, "fork: %s", strerror(errno));
    close(null_fd);
    free(chdir_msg);
    return -1;
  }
  if (pid == 0) {
    static const char kSetid[] = "smimed: could not take the identity of the run-as user\n";
    static const char kExec[] = "smimed: could not execute the PostgreSQL program\n";
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Dispositions the daemon set to "ignore" would survive exec. */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    setpgid(0, 0);
    if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
      _exit(127);
    }
    closefrom(3);
    if (as->drop) {
      if (setgroups((size_t)as->ngroups, as->groups) != 0 || setgid(as->gid) != 0 ||
          setuid(as->uid) != 0 || setuid(0) == 0) {
        (void)!write(2, kSetid, sizeof(kSetid) - 1);
        _exit(127);
      }
    }
    /* After the credential change, which clears the death signal. */
    prctl(PR_SET_PDEATHSIG, SIGINT);
    if (getppid() != parent) {
      _exit(1); /* the daemon died before prctl: nobody will stop us */
    }
    if (chdir(cwd) != 0) {
      (void)!write(2, chdir_msg, strlen(chdir_msg));
      _exit(127);
    }
    execv(argv[0], argv);
    (void)!write(2, kExec, sizeof(kExec) - 1);
    _exit(127);
  }
  close(null_fd);
  free(chdir_msg);
  return pid;
}

/* open_log opens DIR/postgresql.log for appending, rotating it first if large. */
static int open_log(const PG_CLUSTER *c, const RUN_AS *as, STATUS *err) {
  struct stat st;
  int fd;

  if (stat(c->log_path, &st) == 0 && st.st_size > PG_LOG_ROTATE_BYTES) {
    char *old = str_printf("%s.1", c->log_path);
    if (old != NULL) {
      rename(c->log_path, old);
      free(old);
    }
  }
  fd = open(c->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "opening %s: %s", c->log_path,
               strerror(errno));
    return -1;
  }
  if (as->drop && fchown(fd, as->uid, as->gid) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "chown %s: %s", c->log_path,
               strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* run_initdb creates the cluster in DIR/pgdata. */
static int run_initdb(const PG_CLUSTER *c, const char *bindir, const RUN_AS *as,
                      STATUS *err) {
  int ret = 0;
  int fd = -1;
  int wstatus;
  pid_t pid;
  char tail[256];
  char *prog = str_printf("%s/initdb", bindir);
  char *argv[] = {prog,     "-D", c->pgdata, "-U",         PG_DB_USER, "-A",
                  "trust",  "-E", "UTF8",    "--locale=C", "--no-instructions",
                  NULL};

  if (prog == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  fd = open_log(c, as, err);
  if (fd < 0) {
    goto out;
  }
  log_info("creating the PostgreSQL cluster in %s", c->pgdata);
  pid = spawn(argv, c->dir, fd, as, err);
  if (pid < 0) {
    goto out;
  }
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      status_set(err, STATUS_INTERNAL, "waiting for initdb: %s", strerror(errno));
      goto out;
    }
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    log_tail(c->log_path, tail, sizeof(tail));
    status_set(err, STATUS_FAILED_PRECONDITION,
               "initdb %s failed (%s %d); see %s, which ends: %s", c->pgdata,
               WIFEXITED(wstatus) ? "exit status" : "signal",
               WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus), c->log_path,
               tail);
    goto out;
  }
  ret = 1;

out:
  if (fd >= 0) {
    close(fd);
  }
  free(prog);
  return ret;
}

/* pidfile_pid reads the pid on the first line of postmaster.pid: 0 if there is no
 * such file (PostgreSQL removes it when it shuts down cleanly), -1 if the file holds
 * no pid (yet: a starting server writes it in steps) or cannot be read. */
static long pidfile_pid(const PG_CLUSTER *c) {
  char line[32];
  FILE *f = fopen(c->pidfile, "re");
  long pid;

  if (f == NULL) {
    return errno == ENOENT ? 0 : -1;
  }
  if (fgets(line, sizeof(line), f) == NULL) {
    line[0] = '\0';
  }
  fclose(f);
  pid = strtol(line, NULL, 10);
  return pid > 0 && pid <= INT_MAX ? pid : -1;
}

/* postmaster_of reports whether |pid| is a live PostgreSQL server of this cluster:
 * command name "postgres", working directory DIR/pgdata. A pid read from a stale
 * postmaster.pid may since belong to anything, and kill(pid, 0) alone cannot tell. */
static int postmaster_of(const PG_CLUSTER *c, pid_t pid) {
  char path[64];
  char buf[PATH_MAX];
  ssize_t n;
  int fd;

  if (pid <= 0 || !process_alive(pid)) {
    return 0;
  }
  snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) {
    return 0;
  }
  buf[n] = '\0';
  buf[strcspn(buf, "\n")] = '\0';
  if (strcmp(buf, "postgres") != 0) {
    return 0;
  }
  snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
  n = readlink(path, buf, sizeof(buf) - 1);
  return n >= 0 && (size_t)n == strlen(c->pgdata) && memcmp(buf, c->pgdata, (size_t)n) == 0;
}

/* remove_foreign_pidfile removes postmaster.pid when it names a live process that is
 * not a postmaster of this cluster (pid reuse after a reboot or a crash): PostgreSQL
 * would refuse to start ("lock file already exists"). A pid that is gone needs
 * nothing: PostgreSQL replaces such a file itself. |pid| is pidfile_pid's answer. */
static int remove_foreign_pidfile(const PG_CLUSTER *c, long pid, STATUS *err) {
  if (pid <= 0 || !process_alive((pid_t)pid) || postmaster_of(c, (pid_t)pid)) {
    return 1;
  }
  log_warn("%s names pid %ld, which is not a PostgreSQL server of this cluster; "
           "removing the file",
           c->pidfile, pid);
  if (unlink(c->pidfile) != 0 && errno != ENOENT) {
    return status_set(err, STATUS_FAILED_PRECONDITION, "removing %s: %s", c->pidfile,
                      strerror(errno));
  }
  return 1;
}

/* clear_stale_postmaster handles a postmaster.pid left by an earlier run. If its
 * postmaster still runs in our data directory (the daemon was killed and it has not
 * finished shutting down, or it was started by hand), it is stopped so we start one
 * that is our child. A file naming an unrelated process is removed. */
static int clear_stale_postmaster(const PG_CLUSTER *c, STATUS *err) {
  long pid = pidfile_pid(c);

  if (pid <= 0 || !process_alive((pid_t)pid)) {
    return 1;
  }
  if (!postmaster_of(c, (pid_t)pid)) {
    return remove_foreign_pidfile(c, pid, err);
  }
  log_warn("PostgreSQL (pid %ld) from an earlier run is still running in %s; stopping it",
           pid, c->pgdata);
  if (!stop_pid((pid_t)pid, PG_STOP_TIMEOUT_S)) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "PostgreSQL (pid %ld) from an earlier run in %s does not stop", pid,
                      c->pgdata);
  }
  return 1;
}

/* create_database creates the smimed database on first start. */
static int create_database(const PG_CLUSTER *c, STATUS *err) {
  int ret = 0;
  PGresult *res = NULL;
  char *info = conninfo_for(c->dir, "postgres");
  PGconn *conn = NULL;

  if (info == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  conn = PQconnectdb(info);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
    status_set(err, STATUS_UNAVAILABLE, "connecting to the new PostgreSQL: %s",
               conn != NULL ? PQerrorMessage(conn) : "out of memory");
    goto out;
  }
  res = PQexec(conn, "SELECT 1 FROM pg_database WHERE datname = '" PG_DB_NAME "'");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    status_set(err, STATUS_INTERNAL, "looking for database " PG_DB_NAME ": %s",
               PQerrorMessage(conn));
    goto out;
  }
  if (PQntuples(res) == 0) {
    PQclear(res);
    res = PQexec(conn, "CREATE DATABASE " PG_DB_NAME);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
      status_set(err, STATUS_INTERNAL, "creating database " PG_DB_NAME ": %s",
                 PQerrorMessage(conn));
      goto out;
    }
    log_info("created database " PG_DB_NAME);
  }
  ret = 1;

out:
  PQclear(res);
  PQfinish(conn);
  free(info);
  return ret;
}

/* keeper_main runs the KEEPER's jobs until told to quit. */
static void *keeper_main(void *arg) {
  PG_CLUSTER *c = arg;
  KEEPER *k = &c->keeper;

  pthread_mutex_lock(&k->mu);
  for (;;) {
    while (!k->quit && !k->has_job) {
      pthread_cond_wait(&k->cv, &k->mu);
    }
    if (k->quit) {
      break;
    }
    pthread_mutex_unlock(&k->mu);
    status_clear(&k->err);
    k->pid = spawn(k->argv, c->dir, k->log_fd, &c->as, &k->err);
    pthread_mutex_lock(&k->mu);
    k->has_job = 0;
    k->job_done = 1;
    pthread_cond_broadcast(&k->cv);
  }
  pthread_mutex_unlock(&k->mu);
  return NULL;
}

/* keeper_spawn is spawn() run on the KEEPER thread, started if needed. */
static pid_t keeper_spawn(PG_CLUSTER *c, char *const argv[], int log_fd, STATUS *err) {
  KEEPER *k = &c->keeper;
  pid_t pid;
  int rc;

  pthread_mutex_lock(&k->mu);
  if (!k->running) {
    k->quit = 0;
    rc = pthread_create(&k->thread, NULL, keeper_main, c);
    if (rc != 0) {
      pthread_mutex_unlock(&k->mu);
      status_set(err, STATUS_RESOURCE_EXHAUSTED,
                 "starting the thread that restarts PostgreSQL: %s", strerror(rc));
      return -1;
    }
    k->running = 1;
  }
  k->argv = argv;
  k->log_fd = log_fd;
  k->job_done = 0;
  k->has_job = 1;
  pthread_cond_broadcast(&k->cv);
  while (!k->job_done) {
    pthread_cond_wait(&k->cv, &k->mu);
  }
  pid = k->pid;
  if (pid < 0) {
    *err = k->err;
  }
  pthread_mutex_unlock(&k->mu);
  return pid;
}

/* keeper_stop ends the KEEPER thread: only once no postmaster it forked runs, since
 * its end sends them the death signal. */
static void keeper_stop(PG_CLUSTER *c) {
  KEEPER *k = &c->keeper;

  pthread_mutex_lock(&k->mu);
  if (!k->running) {
    pthread_mutex_unlock(&k->mu);
    return;
  }
  k->quit = 1;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
  pthread_join(k->thread, NULL);
  k->running = 0;
}

/* cancelled reports whether the caller of a restart asked it to give up. */
static int cancelled(const atomic_int *cancel) {
  return cancel != NULL && atomic_load(cancel) != 0;
}

/* start_postgres runs the server and waits until it accepts connections. |restart|:
 * fork on the KEEPER thread (see KEEPER), and give up waiting once |*cancel| is set,
 * leaving the new postmaster to pg_cluster_stop. */
static int start_postgres(PG_CLUSTER *c, int restart, const atomic_int *cancel,
                          STATUS *err) {
  int ret = 0;
  int fd = -1;
  pid_t pid = -1;
  double deadline;
  char tail[256];
  char *prog = str_printf("%s/postgres", c->bindir);
  char *ping = conninfo_for(c->dir, "postgres");
  char *argv[] = {prog, "-D", c->pgdata, "-k", c->dir, "-p", PG_PORT,
                  "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
                  NULL};

  if (prog == NULL || ping == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }
  fd = open_log(c, &c->as, err);
  if (fd < 0) {
    goto out;
  }
  pid = restart ? keeper_spawn(c, argv, fd, err) : spawn(argv, c->dir, fd, &c->as, err);
  if (pid < 0) {
    goto out;
  }
  deadline = now_s() + PG_READY_TIMEOUT_S;
  for (;;) {
    int wstatus;
    PGPing ping_result;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) {
      log_tail(c->log_path, tail, sizeof(tail));
      status_set(err, STATUS_UNAVAILABLE,
                 "PostgreSQL exited (%s %d) before accepting connections; see %s, "
                 "which ends: %s",
                 WIFEXITED(wstatus) ? "exit status" : "signal",
                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus),
                 c->log_path, tail);
      pid = -1;
      goto out;
    }
    ping_result = PQping(ping);
    if (ping_result == PQPING_OK) {
      break;
    }
    if (restart && ping_result == PQPING_REJECT) {
      /* "The database system is starting up": crash recovery, which replays the WAL
       * written since the last checkpoint, takes as long as it takes; stopping it
       * would only start it over. */
      deadline = now_s() + PG_READY_TIMEOUT_S;
    }
    if (cancelled(cancel)) {
      /* Shutting down: pg_cluster_stop stops it, whatever state it is in. */
      set_pid(c, pid, 1);
      pid = -1;
      status_set(err, STATUS_CANCELLED, "restart of PostgreSQL cancelled");
      goto out;
    }
    if (now_s() >= deadline) {
      log_tail(c->log_path, tail, sizeof(tail));
      status_set(err, STATUS_UNAVAILABLE,
                 "PostgreSQL did not accept connections within %d s; see %s, which "
                 "ends: %s",
                 PG_READY_TIMEOUT_S, c->log_path, tail);
      goto out;
    }
    sleep_ms(100);
  }
  set_pid(c, pid, 1);
  pid = -1;
  ret = 1;

out:
  if (pid > 0) {
    stop_pid(pid, 5);
  }
  if (fd >= 0) {
    close(fd);
  }
  free(prog);
  free(ping);
  return ret;
}

/* cluster_free frees |c| without touching any process. */
static void cluster_free(PG_CLUSTER *c) {
  if (c == NULL) {
    return;
  }
  free(c->dir);
  free(c->pgdata);
  free(c->log_path);
  free(c->pidfile);
  free(c->conninfo);
  free(c->bindir);
  free(c->as.groups);
  pthread_cond_destroy(&c->keeper.cv);
  pthread_mutex_destroy(&c->keeper.mu);
  free(c);
}

/* socket_path_ok checks that DIR's socket name fits in sun_path. */
static int socket_path_ok(const char *dir, STATUS *err) {
  size_t len = strlen(dir);
  if (len + strlen(PG_SOCKET_NAME) > PG_SOCKET_PATH_MAX) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "data directory %s is too long (%zu bytes) for PostgreSQL's Unix "
                      "socket %s/.s.PGSQL.5432 (at most %d bytes): use a data directory "
                      "of at most %zu bytes",
                      dir, len, dir, PG_SOCKET_PATH_MAX,
                      (size_t)PG_SOCKET_PATH_MAX - strlen(PG_SOCKET_NAME));
  }
  return 1;
}

PG_CLUSTER *pg_cluster_start(const PG_CLUSTER_CONFIG *config, STATUS *err) {
  PG_CLUSTER *c = NULL;
  RUN_AS as;
  const char *bindir;
  const char *user;
  char *abs = NULL;
  char version_path[PATH_MAX];
  struct stat st;

  memset(&as, 0, sizeof(as));
  if (config == NULL || config->data_dir == NULL || config->data_dir[0] == '\0') {
    status_set(err, STATUS_INVALID_ARGUMENT, "no data directory given");
    return NULL;
  }
  bindir = config->bindir != NULL ? config->bindir : PG_CLUSTER_DEFAULT_BINDIR;
  user = config->run_as_user != NULL ? config->run_as_user : PG_DEFAULT_USER;

  /* The length check comes before creating anything, on the path as it will be. */
  if (config->data_dir[0] == '/') {
    abs = strdup(config->data_dir);
  } else {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
      status_set(err, STATUS_FAILED_PRECONDITION, "getcwd: %s", strerror(errno));
      goto err;
    }
    abs = str_printf("%s/%s", cwd, config->data_dir);
  }
  if (abs == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  if (!socket_path_ok(abs, err)) {
    goto err;
  }

  if (geteuid() == 0) {
    struct passwd *pw = getpwnam(user);
    int n = 16;
    if (pw == NULL) {
      status_set(err, STATUS_FAILED_PRECONDITION,
                 "system user \"%s\" does not exist; create it with scripts/setup.sh or: "
                 "useradd --system --user-group --home-dir /var/lib/smimed --shell "
                 "/usr/sbin/nologin %s",
                 user, user);
      goto err;
    }
    as.drop = 1;
    as.uid = pw->pw_uid;
    as.gid = pw->pw_gid;
    for (;;) {
      gid_t *groups = realloc(as.groups, (size_t)n * sizeof(gid_t));
      int want = n;
      if (groups == NULL) {
        status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto err;
      }
      as.groups = groups;
      if (getgrouplist(user, as.gid, as.groups, &want) >= 0) {
        as.ngroups = want;
        break;
      }
      n = want > n ? want : n * 2;
    }
  }

  if (!mkdir_p(abs, err)) {
    goto err;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  c->pid = -1;
  c->down_state = PG_CLUSTER_CRASHED;
  pthread_mutex_init(&c->keeper.mu, NULL);
  pthread_cond_init(&c->keeper.cv, NULL);
  /* Kept for restarts, which start postgres the same way. */
  c->as = as;
  as.groups = NULL;
  c->bindir = strdup(bindir);
  /* Resolved, so that the socket directory, the conninfo and the /proc/PID/cwd check
   * of a stale postmaster all use the same spelling. */
  c->dir = realpath(abs, NULL);
  if (c->dir == NULL) {
    status_set(err, STATUS_FAILED_PRECONDITION, "%s: %s", abs, strerror(errno));
    goto err;
  }
  if (!socket_path_ok(c->dir, err)) {
    goto err;
  }
  c->pgdata = str_printf("%s/pgdata", c->dir);
  c->log_path = str_printf("%s/postgresql.log", c->dir);
  c->pidfile = str_printf("%s/pgdata/postmaster.pid", c->dir);
  c->conninfo = conninfo_for(c->dir, PG_DB_NAME);
  if (c->pgdata == NULL || c->log_path == NULL || c->pidfile == NULL ||
      c->conninfo == NULL || c->bindir == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  if (c->as.drop && chown(c->dir, c->as.uid, c->as.gid) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "chown %s to %s: %s", c->dir, user,
               strerror(errno));
    goto err;
  }
  if (chmod(c->dir, 0700) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "chmod 0700 %s: %s", c->dir,
               strerror(errno));
    goto err;
  }

  snprintf(version_path, sizeof(version_path), "%s/PG_VERSION", c->pgdata);
  if (stat(version_path, &st) != 0) {
    /* initdb accepts an existing empty directory, not one holding something else:
     * that is likely an interrupted initdb, which a person should look at. */
    if (rmdir(c->pgdata) != 0 && errno != ENOENT) {
      status_set(err, STATUS_FAILED_PRECONDITION,
                 "%s exists but holds no PostgreSQL cluster (an interrupted first "
                 "start?); move it away and start again",
                 c->pgdata);
      goto err;
    }
    if (!run_initdb(c, c->bindir, &c->as, err)) {
      goto err;
    }
  } else if (!clear_stale_postmaster(c, err)) {
    goto err;
  }

  if (!start_postgres(c, 0, NULL, err)) {
    goto err;
  }
  if (!create_database(c, err)) {
    goto err;
  }
  log_info("PostgreSQL (pid %d) is running in %s", (int)c->pid, c->pgdata);
  free(as.groups);
  free(abs);
  return c;

err:
  if (c != NULL && c->pid > 0) {
    stop_pid(c->pid, PG_STOP_TIMEOUT_S);
  }
  cluster_free(c);
  free(as.groups);
  free(abs);
  return NULL;
}

const char *pg_cluster_conninfo(const PG_CLUSTER *cluster) { return cluster->conninfo; }

pid_t pg_cluster_pid(const PG_CLUSTER *cluster) { return get_pid(cluster); }

/* describe_exit writes why a reaped postmaster ended, e.g. "killed by signal 9
 * (Killed)", and returns whether that was a crash rather than a clean shutdown. */
static int describe_exit(int wstatus, char *why, size_t why_len) {
  if (WIFSIGNALED(wstatus)) {
    const char *name = sigdescr_np(WTERMSIG(wstatus));
    snprintf(why, why_len, "killed by signal %d (%s)%s", WTERMSIG(wstatus),
             name != NULL ? name : "unknown",
             WTERMSIG(wstatus) == SIGKILL ? "; the OOM killer, or kill -9" : "");
    return 1;
  }
  if (WEXITSTATUS(wstatus) != 0) {
    snprintf(why, why_len, "exited with status %d", WEXITSTATUS(wstatus));
    return 1;
  }
  snprintf(why, why_len, "shut down (exit status 0)");
  return 0;
}

/* adopt_from_pidfile takes as ours a postmaster of this cluster that postmaster.pid
 * names and that is not the one we watched: one an administrator started (pg_ctl
 * start, pg_ctl restart) after ours ended. Returns 1 if it did. */
static int adopt_from_pidfile(PG_CLUSTER *c) {
  long pid = pidfile_pid(c);

  if (pid <= 0 || pid == get_pid(c) || !postmaster_of(c, (pid_t)pid)) {
    return 0;
  }
  log_info("PostgreSQL (pid %ld, started outside smimed) now runs %s; watching it", pid,
           c->pgdata);
  set_pid(c, (pid_t)pid, 0);
  return 1;
}

PG_CLUSTER_STATE pg_cluster_check(PG_CLUSTER *c, char *why, size_t why_len) {
  pid_t pid = get_pid(c);
  int crashed;

  why[0] = '\0';
  if (pid > 0 && c->pid_is_child) {
    int wstatus;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == 0) {
      return PG_CLUSTER_RUNNING;
    }
    if (r == pid) {
      crashed = describe_exit(wstatus, why, why_len);
      goto gone;
    }
    /* ECHILD: reaped elsewhere (SIGCHLD ignored): fall back to watching the pid. */
  }
  if (pid > 0 && postmaster_of(c, pid)) {
    return PG_CLUSTER_RUNNING;
  }
  if (pid > 0) {
    snprintf(why, why_len, "pid %d is gone", (int)pid);
    crashed = -1; /* unknown: decided from postmaster.pid below */
    goto gone;
  }
  /* Already reported down: only someone else's start changes that. */
  return adopt_from_pidfile(c) ? PG_CLUSTER_RUNNING : c->down_state;

gone:
  set_pid(c, -1, 0);
  if (adopt_from_pidfile(c)) {
    return PG_CLUSTER_RUNNING; /* pg_ctl restart: stopped and started from outside */
  }
  if (crashed < 0) {
    /* PostgreSQL removes postmaster.pid when it shuts down; a killed one leaves it. */
    crashed = pidfile_pid(c) != 0;
    snprintf(why + strlen(why), why_len - strlen(why), "%s",
             crashed ? " and left postmaster.pid behind (killed or crashed)"
                     : " after a clean shutdown (postmaster.pid removed)");
  }
  c->down_state = crashed ? PG_CLUSTER_CRASHED : PG_CLUSTER_STOPPED;
  return c->down_state;
}

int pg_cluster_restart(PG_CLUSTER *c, const atomic_int *cancel, STATUS *err) {
  long pid;

  if (cancelled(cancel)) {
    return status_set(err, STATUS_CANCELLED, "restart of PostgreSQL cancelled");
  }
  if (get_pid(c) > 0 && postmaster_of(c, get_pid(c))) {
    return 1;
  }
  if (adopt_from_pidfile(c)) {
    return 1;
  }
  pid = pidfile_pid(c);
  if (!remove_foreign_pidfile(c, pid, err)) {
    return 0;
  }
  return start_postgres(c, 1, cancel, err);
}

void pg_cluster_stop(PG_CLUSTER *cluster) {
  pid_t pid;

  if (cluster == NULL) {
    return;
  }
  pid = get_pid(cluster);
  if (pid > 0) {
    if (stop_pid(pid, PG_STOP_TIMEOUT_S)) {
      log_info("PostgreSQL stopped");
    } else {
      log_error("PostgreSQL (pid %d) could not be stopped", (int)pid);
    }
  }
  /* After the postmaster: the keeper's end would send it the death signal. */
  keeper_stop(cluster);
  cluster_free(cluster);
}
