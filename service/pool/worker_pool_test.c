/* worker_pool_test: the pool with the real smime-engine and smime-keystore binaries
 * (paths in argv[1], argv[2]): start, concurrent calls, crashes and hangs of each kind
 * of worker, a bad KEK file, a missing binary, and that free leaves no process. */
#include "service/pool/worker_pool.h"
#include "tests/ctest/check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static const char *g_engine;
static const char *g_keystore;
static char g_dir[4096];

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* proc_state returns the state letter of |pid| from /proc (Z: zombie), or 0 if the
 * process does not exist. */
static char proc_state(int pid) {
  char path[64];
  char buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *fp = fopen(path, "r");
  if (fp == NULL) {
    return 0;
  }
  size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
  fclose(fp);
  buf[n] = '\0';
  char *paren = strrchr(buf, ')');
  if (paren == NULL || paren[1] != ' ') {
    return 0;
  }
  return paren[2];
}

/* kill_and_wait kills |pid| and waits until it is a zombie (its sockets are closed
 * then), without reaping it: that is the pool's job. */
static void kill_and_wait(int pid, int sig) {
  CHECK(kill(pid, sig) == 0);
  for (int i = 0; i < 500; i++) {
    char s = proc_state(pid);
    if (s == 'Z' || s == 0) {
      return;
    }
    sleep_ms(10);
  }
  CHECK(!"process did not die");
}

/* check_no_children: every process the pool started has been reaped. */
static void check_no_children(void) {
  errno = 0;
  CHECK(waitpid(-1, NULL, WNOHANG) == -1);
  CHECK(errno == ECHILD);
}

static WORKER_POOL *start_with(const char *kek_name, unsigned engines, unsigned keystores,
                               STATUS *err) {
  char kek[4200];
  snprintf(kek, sizeof(kek), "%s/%s", g_dir, kek_name);
  WORKER_POOL_CONFIG config = {
      .engine_path = g_engine,
      .keystore_path = g_keystore,
      .kek_path = kek,
      .engines = engines,
      .keystores = keystores,
  };
  status_clear(err);
  return worker_pool_start(&config, err);
}

static WORKER_POOL *start(const char *kek_name, unsigned engines, STATUS *err) {
  return start_with(kek_name, engines, 1, err);
}

/* engine_hello makes one hello call; returns the engine's pid, or 0 on failure with
 * |err| filled. */
static int engine_hello(WORKER_POOL *pool, int timeout_ms, STATUS *err) {
  Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  Smime__Ipc__EngineResponse *resp = (Smime__Ipc__EngineResponse *)1;
  status_clear(err);
  if (!worker_pool_engine_call(pool, &req, &resp, timeout_ms, err)) {
    CHECK(resp == NULL);
    return 0;
  }
  CHECK(resp != NULL);
  CHECK(resp->request_id == req.request_id);
  CHECK(resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO);
  CHECK(strstr(resp->hello->crypto_version, "BoringSSL") != NULL);
  int pid = (int)resp->hello->pid;
  smime__ipc__engine_response__free_unpacked(resp, NULL);
  return pid;
}

/* keystore_hello returns the keystore's pid and check value, or 0. */
static int keystore_hello(WORKER_POOL *pool, char check[17], STATUS *err) {
  Smime__Ipc__KeystoreHelloRequest hello = SMIME__IPC__KEYSTORE_HELLO_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  Smime__Ipc__KeystoreResponse *resp = NULL;
  status_clear(err);
  if (!worker_pool_keystore_call(pool, &req, &resp, 5000, err)) {
    CHECK(resp == NULL);
    return 0;
  }
  CHECK(resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_HELLO);
  CHECK(strlen(resp->hello->kek_check_value) == 16);
  snprintf(check, 17, "%s", resp->hello->kek_check_value);
  int pid = (int)resp->hello->pid;
  smime__ipc__keystore_response__free_unpacked(resp, NULL);
  return pid;
}

/* fd_in_out reads (|write| 0) or rewrites (1) the 32 bytes of the file |path|. */
static void fd_in_out(const char *path, uint8_t *buf, int write_it) {
  int fd = open(path, write_it ? O_WRONLY | O_TRUNC : O_RDONLY);
  CHECK(fd >= 0);
  if (write_it) {
    CHECK(write(fd, buf, 32) == 32);
  } else {
    CHECK(read(fd, buf, 32) == 32);
  }
  CHECK(close(fd) == 0);
}

static int contains(const int *pids, unsigned n, int pid) {
  for (unsigned i = 0; i < n; i++) {
    if (pids[i] == pid) {
      return 1;
    }
  }
  return 0;
}

/* worker_fds_ok: the worker has stdin from /dev/null, its socket as fd 3, and no
 * other descriptor of ours. */
static int worker_fds_ok(int pid, int verbose) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/fd", pid);
  DIR *d = opendir(path);
  CHECK(d != NULL);
  struct dirent *e;
  int seen3 = 0;
  int ok = 1;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    int fd = atoi(e->d_name);
    if (fd > 3) {
      if (verbose) {
        fprintf(stderr, "worker %d has fd %d open\n", pid, fd);
      }
      ok = 0;
    }
    seen3 |= fd == 3;
  }
  closedir(d);
  char link[64];
  char target[256];
  snprintf(link, sizeof(link), "/proc/%d/fd/0", pid);
  ssize_t n = readlink(link, target, sizeof(target) - 1);
  CHECK(n > 0);
  target[n] = '\0';
  return ok && seen3 && strcmp(target, "/dev/null") == 0;
}

/* check_worker_fds checks worker_fds_ok, allowing a moment for a worker that has just
 * started: while the dynamic loader maps its libraries it holds their files open. */
static void check_worker_fds(int pid) {
  for (int i = 0; i < 200; i++) {
    if (worker_fds_ok(pid, 0)) {
      return;
    }
    sleep_ms(10);
  }
  CHECK(worker_fds_ok(pid, 1));
}

struct caller {
  WORKER_POOL *pool;
  int calls;
  int timeout_ms;
  int ok;
  STATUS err;
  const int *pids;
  unsigned npids;
};

static void *call_many(void *p) {
  struct caller *c = p;
  for (int i = 0; i < c->calls; i++) {
    int pid = engine_hello(c->pool, c->timeout_ms, &c->err);
    if (pid == 0 || (c->pids != NULL && !contains(c->pids, c->npids, pid))) {
      return NULL;
    }
  }
  c->ok = 1;
  return NULL;
}

static void test_pool(void) {
  /* A descriptor without CLOEXEC, which the workers must not inherit. */
  int leak = open("/dev/null", O_RDONLY);
  CHECK(leak >= 0);
  STATUS err;
  WORKER_POOL *pool = start("kek", 2, &err);
  if (pool == NULL) {
    fprintf(stderr, "start: %s\n", err.message);
  }
  CHECK(pool != NULL);
  close(leak);
  char kek[4200];
  snprintf(kek, sizeof(kek), "%s/kek", g_dir);
  struct stat st;
  CHECK(stat(kek, &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == 32);

  WORKER_POOL_STATS stats;
  worker_pool_stats(pool, &stats);
  CHECK(stats.engines == 2);
  CHECK(stats.engine_restarts == 0);
  CHECK(stats.keystore_restarts == 0);
  CHECK(stats.engine_requests == 0 && stats.keystore_requests == 0); /* start not counted */
  int pids[4];
  CHECK(worker_pool_engine_pids(pool, pids, 4) == 2);
  CHECK(pids[0] != pids[1]);
  CHECK(worker_pool_engine_pids(pool, pids, 1) == 1);
  CHECK(worker_pool_engine_pids(pool, pids, 4) == 2);
  check_worker_fds(pids[0]);
  check_worker_fds(pids[1]);

  /* Concurrent calls from several threads: every one answered by one of our engines. */
  struct caller callers[6];
  pthread_t threads[6];
  for (int i = 0; i < 6; i++) {
    callers[i] = (struct caller){.pool = pool, .calls = 50, .timeout_ms = 5000,
                                 .pids = pids, .npids = 2};
    CHECK(pthread_create(&threads[i], NULL, call_many, &callers[i]) == 0);
  }
  for (int i = 0; i < 6; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    if (!callers[i].ok) {
      fprintf(stderr, "caller %d: %s\n", i, callers[i].err.message);
    }
    CHECK(callers[i].ok);
  }

  /* An engine killed while idle is replaced before use: the next call works. */
  kill_and_wait(pids[0], SIGKILL);
  int pid = engine_hello(pool, 5000, &err);
  if (pid == 0) {
    fprintf(stderr, "after kill: %s\n", err.message);
  }
  CHECK(pid != 0);
  CHECK(pid != pids[0]);
  worker_pool_stats(pool, &stats);
  CHECK(stats.engine_restarts == 1);
  CHECK(stats.engine_requests == 6 * 50 + 1 && stats.keystore_requests == 0);
  int now[4];
  CHECK(worker_pool_engine_pids(pool, now, 4) == 2);
  CHECK(!contains(now, 2, pids[0]));
  CHECK(contains(now, 2, pids[1]));
  CHECK(proc_state(pids[0]) == 0); /* reaped */
  check_worker_fds(now[0]);
  check_worker_fds(now[1]);

  /* The keystore, likewise. */
  char check[17];
  char check2[17];
  int ks = keystore_hello(pool, check, &err);
  CHECK(ks != 0);
  kill_and_wait(ks, SIGKILL);
  int ks2 = keystore_hello(pool, check2, &err);
  if (ks2 == 0) {
    fprintf(stderr, "keystore after kill: %s\n", err.message);
  }
  CHECK(ks2 != 0);
  CHECK(ks2 != ks);
  CHECK(strcmp(check, check2) == 0);
  worker_pool_stats(pool, &stats);
  CHECK(stats.keystore_restarts == 1);
  CHECK(stats.engine_restarts == 1);
  CHECK(stats.engine_requests == 6 * 50 + 1 && stats.keystore_requests == 2);

  /* A restarted keystore refuses a KEK file replaced behind smimed's back (rather than
   * serve a different key), and says so in an Error answer. */
  uint8_t original[32];
  fd_in_out(kek, original, 0);
  uint8_t other[32];
  memset(other, 0x5a, sizeof(other));
  fd_in_out(kek, other, 1);
  kill_and_wait(ks2, SIGKILL);
  Smime__Ipc__KeystoreHelloRequest hello = SMIME__IPC__KEYSTORE_HELLO_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  Smime__Ipc__KeystoreResponse *resp = NULL;
  CHECK(worker_pool_keystore_call(pool, &req, &resp, 5000, &err));
  CHECK(resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR);
  CHECK(resp->error->code == STATUS_FAILED_PRECONDITION);
  CHECK(strstr(resp->error->message, "now holds a different key") != NULL);
  smime__ipc__keystore_response__free_unpacked(resp, NULL);
  /* Put the original back: the next call gets a working keystore again. */
  fd_in_out(kek, original, 1);
  ks2 = 0;
  for (int i = 0; i < 100 && ks2 == 0; i++) {
    ks2 = keystore_hello(pool, check2, &err);
    if (ks2 == 0) {
      sleep_ms(10);
    }
  }
  CHECK(ks2 != 0);
  CHECK(strcmp(check, check2) == 0);

  worker_pool_free(pool);
  worker_pool_free(NULL);
  CHECK(kill(now[0], 0) == -1 && errno == ESRCH);
  CHECK(kill(now[1], 0) == -1 && errno == ESRCH);
  CHECK(kill(ks2, 0) == -1 && errno == ESRCH);
  check_no_children();

  /* A second start reads the same KEK. */
  pool = start("kek", 1, &err);
  CHECK(pool != NULL);
  CHECK(keystore_hello(pool, check2, &err) != 0);
  CHECK(strcmp(check, check2) == 0);
  worker_pool_free(pool);
  check_no_children();
}

struct stalled_call {
  WORKER_POOL *pool;
  int timeout_ms;
  int pid;
  STATUS err;
};

static void *stalled(void *p) {
  struct stalled_call *c = p;
  c->pid = engine_hello(c->pool, c->timeout_ms, &c->err);
  return NULL;
}

/* test_hang_and_crash_in_flight: one engine, stopped (SIGSTOP) so that it never
 * answers: the call times out with UNAVAILABLE and the engine is replaced; a second
 * call that finds no free engine gets DEADLINE_EXCEEDED; an engine killed while it
 * holds a request fails that request, and the next works. */
static void test_hang_and_crash_in_flight(void) {
  STATUS err;
  WORKER_POOL *pool = start("kek", 1, &err);
  CHECK(pool != NULL);
  int pids[1];
  CHECK(worker_pool_engine_pids(pool, pids, 1) == 1);
  CHECK(kill(pids[0], SIGSTOP) == 0);

  struct stalled_call c = {.pool = pool, .timeout_ms = 2000};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, stalled, &c) == 0);
  sleep_ms(500);
  CHECK(engine_hello(pool, 200, &err) == 0);
  CHECK(err.code == STATUS_DEADLINE_EXCEEDED);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(c.pid == 0);
  CHECK(c.err.code == STATUS_UNAVAILABLE);
  CHECK(strstr(c.err.message, "did not answer within 2000 ms") != NULL);
  CHECK(strstr(c.err.message, "restarted") != NULL);
  WORKER_POOL_STATS stats;
  worker_pool_stats(pool, &stats);
  CHECK(stats.engine_restarts == 1);
  CHECK(proc_state(pids[0]) == 0);
  CHECK(engine_hello(pool, 5000, &err) != 0);

  /* Killed while holding a request. */
  CHECK(worker_pool_engine_pids(pool, pids, 1) == 1);
  CHECK(kill(pids[0], SIGSTOP) == 0);
  c = (struct stalled_call){.pool = pool, .timeout_ms = 10000};
  CHECK(pthread_create(&t, NULL, stalled, &c) == 0);
  sleep_ms(500);
  CHECK(kill(pids[0], SIGKILL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(c.pid == 0);
  CHECK(c.err.code == STATUS_UNAVAILABLE);
  CHECK(strstr(c.err.message, "killed by signal 9") != NULL);
  CHECK(strstr(c.err.message, "it has been restarted") != NULL);
  worker_pool_stats(pool, &stats);
  CHECK(stats.engine_restarts == 2);
  CHECK(engine_hello(pool, 5000, &err) != 0);
  worker_pool_free(pool);
  check_no_children();
}

/* STALLED_KEYSTORE_CALL: a keystore hello made from another thread. */
typedef struct stalled_keystore_call_st {
  WORKER_POOL *pool;
  int pid;
  char check[17];
  STATUS err;
} STALLED_KEYSTORE_CALL;

static void *stalled_keystore(void *p) {
  STALLED_KEYSTORE_CALL *c = p;
  c->pid = keystore_hello(c->pool, c->check, &c->err);
  return NULL;
}

/* test_keystores_in_parallel: with two keystores, a call is answered by the second
 * while the first holds another (stopped with SIGSTOP, as if busy with a long RSA
 * operation); with one, it would wait for the first. Both hold the same KEK. */
static void test_keystores_in_parallel(void) {
  STATUS err;
  char check_a[17], check_b[17];
  WORKER_POOL *pool = start_with("kek", 1, 2, &err);
  CHECK(pool != NULL);
  /* Calls one after another take the first free keystore: learn its pid. */
  int pid_a = keystore_hello(pool, check_a, &err);
  CHECK(pid_a > 0);
  CHECK(kill(pid_a, SIGSTOP) == 0);
  STALLED_KEYSTORE_CALL c = {.pool = pool};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, stalled_keystore, &c) == 0);
  sleep_ms(300);
  int pid_b = keystore_hello(pool, check_b, &err);
  CHECK(pid_b > 0);
  CHECK(pid_b != pid_a);
  CHECK(strcmp(check_a, check_b) == 0);
  CHECK(strcmp(worker_pool_kek_check_value(pool), check_a) == 0);
  CHECK(kill(pid_a, SIGCONT) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(c.pid == pid_a);
  worker_pool_free(pool);
  check_no_children();
}

static void test_bad_kek(void) {
  char kek[4200];
  snprintf(kek, sizeof(kek), "%s/open-kek", g_dir);
  int fd = open(kek, O_CREAT | O_EXCL | O_WRONLY, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, "0123456789abcdef0123456789abcdef", 32) == 32);
  CHECK(fchmod(fd, 0644) == 0);
  close(fd);
  STATUS err;
  WORKER_POOL *pool = start("open-kek", 2, &err);
  CHECK(pool == NULL);
  fprintf(stderr, "expected failure: %s: %s\n", status_code_name(err.code), err.message);
  CHECK(err.code == STATUS_FAILED_PRECONDITION);
  char want[9000];
  snprintf(want, sizeof(want), "KEK file %s is readable by others (mode 0644); chmod 600 %s",
           kek, kek);
  CHECK(strstr(err.message, want) != NULL);
  check_no_children();

  /* A KEK in a directory that does not exist. */
  pool = start("no-such-dir/kek", 1, &err);
  CHECK(pool == NULL);
  CHECK(err.code == STATUS_FAILED_PRECONDITION);
  CHECK(strstr(err.message, "no-such-dir/kek") != NULL);
  check_no_children();
}

static void test_missing_binary(void) {
  WORKER_POOL_CONFIG config = {
      .engine_path = "/nonexistent/smime-engine",
      .keystore_path = g_keystore,
      .kek_path = "unused",
      .engines = 1,
  };
  char kek[4200];
  snprintf(kek, sizeof(kek), "%s/kek", g_dir);
  config.kek_path = kek;
  STATUS err;
  status_clear(&err);
  CHECK(worker_pool_start(&config, &err) == NULL);
  CHECK(err.code == STATUS_UNAVAILABLE);
  CHECK(strstr(err.message, "/nonexistent/smime-engine") != NULL);
  CHECK(strstr(err.message, "No such file") != NULL);
  check_no_children();

  config.engines = 0;
  CHECK(worker_pool_start(&config, &err) == NULL);
  CHECK(err.code == STATUS_INVALID_ARGUMENT);
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  g_engine = argv[1];
  g_keystore = argv[2];
  const char *tmp = getenv("TEST_TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') {
    tmp = "/tmp";
  }
  snprintf(g_dir, sizeof(g_dir), "%s/worker_pool_test.XXXXXX", tmp);
  CHECK(mkdtemp(g_dir) != NULL);
  test_pool();
  test_hang_and_crash_in_flight();
  test_keystores_in_parallel();
  test_bad_kek();
  test_missing_binary();
  printf("worker_pool_test: all passed\n");
  return 0;
}
