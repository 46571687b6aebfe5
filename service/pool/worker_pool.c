/* worker_pool.c: see worker_pool.h.
 *
 * Each kind of worker (the engines, the keystore) is a GROUP: a fixed array of slots
 * guarded by one mutex and condition variable. A call takes a free slot (waiting on the
 * condition variable up to its deadline), talks to that worker without holding the
 * mutex, and gives the slot back. Only the thread holding a slot touches its process;
 * pid and fd change only under the mutex, so that the pid list and the idle scan never
 * see them half-changed.
 *
 * Dead workers are found in three ways: by the call that sees its worker fail (end of
 * stream, garbage, wrong request id, timeout); by the idle scan, a poll() with no wait
 * over the free slots' sockets each time a slot is taken (an idle worker never writes,
 * so any event there means it died or misbehaves), and by a slot left empty when a
 * respawn failed. In all cases the process is killed if still alive, reaped with
 * waitpid on its own pid (never -1: the front may have other children, and owns the
 * signals, so no SIGCHLD handler here), and replaced.
 *
 * This file is linked into the front: it must not use BoringSSL (DESIGN.md section 2). */
#include "service/pool/worker_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "service/common/log.h"
#include "service/ipc/bulk.h"
#include "service/ipc/frame.h"

extern char **environ;

/* WORKER_FD is where a worker finds its end of the socketpair. */
#define WORKER_FD 3

/* START_TIMEOUT_MS bounds each worker's first hello in worker_pool_start. */
#define START_TIMEOUT_MS 10000

/* STOP_GRACE_MS is how long worker_pool_free waits after SIGTERM before SIGKILL. */
#define STOP_GRACE_MS 2000

/* EXIT_GRACE_MS is how long a worker that closed its socket gets to finish exiting
 * before it is killed, so that its own exit status can be reported. */
#define EXIT_GRACE_MS 200

/* WORKER_KIND says how to talk to one kind of worker. */
typedef struct worker_kind_st {
  const char *name; /* "engine" or "keystore", for messages */
  uint8_t req_type;
  uint8_t resp_type;
  uint8_t resp_bulk_type; /* a response followed by a bulk frame (0: none of this kind) */
  const ProtobufCMessageDescriptor *resp_desc;
  void (*set_request_id)(ProtobufCMessage *req, uint64_t id);
  uint64_t (*response_id)(const ProtobufCMessage *resp);
  /* bulk_field is the empty field of |resp| a bulk frame fills, or NULL. */
  ProtobufCBinaryData *(*bulk_field)(ProtobufCMessage *resp);
} WORKER_KIND;

/* WORKER is one slot: a process and our end of its socket, or pid -1 and fd -1 when
 * the slot is empty (its process was reaped and a respawn failed). */
typedef struct worker_st {
  pid_t pid;
  int fd;
  int busy;
} WORKER;

typedef struct worker_group_st {
  const WORKER_KIND *kind;
  char **argv; /* owned, NULL-terminated */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled when a slot becomes free */
  int sync_ready;    /* mu and cv were initialised */
  WORKER *workers;
  struct pollfd *scan; /* scratch for the idle scan, used under mu */
  unsigned n;
  unsigned restarts;
  uint64_t requests; /* calls that took a slot */
  uint64_t next_id;
} GROUP;

struct worker_pool_st {
  GROUP engines;
  GROUP keystore;
  /* The keystore's answer to its first hello: the check values of its KEK and of its
   * --new-kek-file ("" without one). */
  char kek_check[64];
  char new_kek_check[64];
};

static void engine_set_id(ProtobufCMessage *req, uint64_t id) {
  ((Smime__Ipc__EngineRequest *)req)->request_id = id;
}

static uint64_t engine_response_id(const ProtobufCMessage *resp) {
  return ((const Smime__Ipc__EngineResponse *)resp)->request_id;
}

static void keystore_set_id(ProtobufCMessage *req, uint64_t id) {
  ((Smime__Ipc__KeystoreRequest *)req)->request_id = id;
}

static uint64_t keystore_response_id(const ProtobufCMessage *resp) {
  return ((const Smime__Ipc__KeystoreResponse *)resp)->request_id;
}

static ProtobufCBinaryData *engine_bulk_field(ProtobufCMessage *m) {
  return engine_response_bulk_field((Smime__Ipc__EngineResponse *)m);
}

static const WORKER_KIND kEngineKind = {
    "engine",
    SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
    SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE,
    SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE_BULK,
    &smime__ipc__engine_response__descriptor,
    engine_set_id,
    engine_response_id,
    engine_bulk_field,
};

static const WORKER_KIND kKeystoreKind = {
    "keystore",
    SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_REQUEST,
    SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_RESPONSE,
    0,
    &smime__ipc__keystore_response__descriptor,
    keystore_set_id,
    keystore_response_id,
    NULL,
};

/* now_ms is the monotonic clock in milliseconds. */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms_left converts a deadline (-1: none) to the timeout argument of frame_*. */
static int ms_left(int64_t deadline) {
  if (deadline < 0) {
    return -1;
  }
  int64_t left = deadline - now_ms();
  if (left < 0) {
    return 0;
  }
  return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* describe_wait turns a wait status into words for a log line or error message. */
static void describe_wait(int status, char *out, size_t len) {
  if (WIFEXITED(status)) {
    snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    snprintf(out, len, "was killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  } else {
    snprintf(out, len, "ended (wait status 0x%x)", status);
  }
}

/* reap_pid collects |pid|, waiting up to |grace_ms| for it to exit by itself before
 * SIGKILL, and describes how it ended in |desc|. ECHILD (someone else reaped it, or
 * SIGCHLD is ignored) counts as gone. */
static void reap_pid(pid_t pid, int grace_ms, char *desc, size_t desc_len) {
  int status = 0;
  int64_t until = now_ms() + grace_ms;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      describe_wait(status, desc, desc_len);
      return;
    }
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      snprintf(desc, desc_len, "is gone (%s)", strerror(errno));
      return;
    }
    if (now_ms() >= until) {
      break;
    }
    sleep_ms(5);
  }
  kill(pid, SIGKILL);
  for (;;) {
    pid_t r = waitpid(pid, &status, 0);
    if (r == pid) {
      describe_wait(status, desc, desc_len);
      return;
    }
    if (r < 0 && errno == EINTR) {
      continue;
    }
    snprintf(desc, desc_len, "is gone (%s)", r < 0 ? strerror(errno) : "?");
    return;
  }
}

/* spawn_process starts |argv| with one end of a new socketpair as fd 3, stdin from
 * /dev/null, stdout and stderr shared with us, and no other descriptor. */
static int spawn_process(char **argv, pid_t *out_pid, int *out_fd, STATUS *err) {
  *out_pid = -1;
  *out_fd = -1;
  int ret = 0;
  int sv[2] = {-1, -1};
  int child_fd = -1;
  int fa_ready = 0;
  int attr_ready = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: socketpair: %s", argv[0],
               strerror(errno));
    goto out;
  }
  /* spawn_process moves the child's end above the standard descriptors and fd 3, so
   * that the dup2 below really copies it (a dup2 onto itself would keep CLOEXEC). */
  child_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
  if (child_fd < 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: fcntl: %s", argv[0],
               strerror(errno));
    goto out;
  }
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: %s", argv[0], strerror(rc));
    goto out;
  }
  fa_ready = 1;
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: %s", argv[0], strerror(rc));
    goto out;
  }
  attr_ready = 1;
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  /* spawn_process gives the worker default signal dispositions and an empty mask,
   * whatever the calling front thread had, and its own process group, so that a ^C
   * at the terminal reaches the front, which then stops the workers in order. */
  if ((rc = posix_spawn_file_actions_adddup2(&fa, child_fd, WORKER_FD)) != 0 ||
      (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) != 0 ||
      (rc = posix_spawn_file_actions_addclosefrom_np(&fa, WORKER_FD + 1)) != 0 ||
      (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
      (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0 ||
      (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
      (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                                POSIX_SPAWN_SETPGROUP)) != 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: %s", argv[0], strerror(rc));
    goto out;
  }
  pid_t pid = -1;
  rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
  if (rc != 0) {
    status_set(err, STATUS_UNAVAILABLE, "cannot start %s: %s", argv[0], strerror(rc));
    goto out;
  }
  *out_pid = pid;
  *out_fd = sv[0];
  sv[0] = -1;
  ret = 1;

out:
  if (attr_ready) {
    posix_spawnattr_destroy(&attr);
  }
  if (fa_ready) {
    posix_spawn_file_actions_destroy(&fa);
  }
  if (child_fd >= 0) {
    close(child_fd);
  }
  if (sv[0] >= 0) {
    close(sv[0]);
  }
  if (sv[1] >= 0) {
    close(sv[1]);
  }
  return ret;
}

/* group_set_process records a slot's process under the mutex. */
static void group_set_process(GROUP *g, WORKER *w, pid_t pid, int fd) {
  pthread_mutex_lock(&g->mu);
  w->pid = pid;
  w->fd = fd;
  pthread_mutex_unlock(&g->mu);
}

/* group_discard ends |w|'s process (if any) and empties the slot, which the caller
 * holds. |grace_ms| lets a process that is already exiting report its own status.
 * Writes how the process ended into |desc|. */
static void group_discard(GROUP *g, WORKER *w, int grace_ms, char *desc, size_t len) {
  pid_t pid = w->pid;
  int fd = w->fd;
  group_set_process(g, w, -1, -1);
  snprintf(desc, len, "was not running");
  if (fd >= 0) {
    close(fd);
  }
  if (pid > 0) {
    reap_pid(pid, grace_ms, desc, len);
  }
}

/* group_respawn starts a new process in the empty slot |w|, which the caller holds,
 * and counts the restart. */
static int group_respawn(GROUP *g, WORKER *w, STATUS *err) {
  pid_t pid;
  int fd;
  if (!spawn_process(g->argv, &pid, &fd, err)) {
    log_error("%s", err->message);
    return 0;
  }
  pthread_mutex_lock(&g->mu);
  w->pid = pid;
  w->fd = fd;
  g->restarts++;
  pthread_mutex_unlock(&g->mu);
  log_info("started %s process %d in place of one that died", g->kind->name, (int)pid);
  return 1;
}

/* group_release gives a slot back and wakes a waiting call. */
static void group_release(GROUP *g, WORKER *w) {
  pthread_mutex_lock(&g->mu);
  w->busy = 0;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* group_take waits until |deadline| for a free slot and marks it busy. It also picks
 * out one other free slot whose worker is dead (|*out_fix|, or NULL), claimed too, so
 * that the caller replaces it: a crash found while idle is repaired by the next call,
 * whichever slot that call uses. The slot returned may itself be dead or empty; the
 * caller replaces it before use. Sets |*out_id| to a fresh request id. */
static int group_take(GROUP *g, int64_t deadline, WORKER **out_w, int *out_dead,
                      WORKER **out_fix, uint64_t *out_id, STATUS *err) {
  *out_w = NULL;
  *out_fix = NULL;
  *out_dead = 0;
  int ret = 0;
  struct timespec abstime;
  if (deadline >= 0) {
    abstime.tv_sec = deadline / 1000;
    abstime.tv_nsec = (long)(deadline % 1000) * 1000000L;
  }
  pthread_mutex_lock(&g->mu);
  for (;;) {
    unsigned nscan = 0;
    for (unsigned i = 0; i < g->n; i++) {
      if (!g->workers[i].busy && g->workers[i].fd >= 0) {
        g->scan[nscan].fd = g->workers[i].fd;
        g->scan[nscan].events = POLLIN;
        g->scan[nscan].revents = 0;
        nscan++;
      }
    }
    if (nscan > 0 && poll(g->scan, nscan, 0) < 0) {
      /* group_take treats a failed scan as "all alive": each call still checks its
       * own worker's answer. */
      for (unsigned i = 0; i < nscan; i++) {
        g->scan[i].revents = 0;
      }
    }
    WORKER *live = NULL;
    WORKER *dead = NULL;
    unsigned k = 0;
    for (unsigned i = 0; i < g->n; i++) {
      WORKER *w = &g->workers[i];
      if (w->busy) {
        continue;
      }
      int is_dead = w->fd < 0;
      if (w->fd >= 0) {
        is_dead = g->scan[k].revents != 0;
        k++;
      }
      if (is_dead && dead == NULL) {
        dead = w;
      } else if (!is_dead && live == NULL) {
        live = w;
      }
    }
    if (live != NULL || dead != NULL) {
      if (live != NULL) {
        live->busy = 1;
        *out_w = live;
        if (dead != NULL) {
          dead->busy = 1;
          *out_fix = dead;
        }
      } else {
        dead->busy = 1;
        *out_w = dead;
        *out_dead = 1;
      }
      *out_id = ++g->next_id;
      g->requests++;
      ret = 1;
      break;
    }
    int rc;
    if (deadline < 0) {
      rc = pthread_cond_wait(&g->cv, &g->mu);
    } else {
      rc = pthread_cond_timedwait(&g->cv, &g->mu, &abstime);
    }
    if (rc == ETIMEDOUT) {
      status_set(err, STATUS_DEADLINE_EXCEEDED,
                 "no %s became free in time (all %u are busy); try again later",
                 g->kind->name, g->n);
      break;
    }
  }
  pthread_mutex_unlock(&g->mu);
  return ret;
}

/* drop_bytes frees |*b|'s bytes and clears it. Accepts NULL. */
static void drop_bytes(ProtobufCBinaryData *b) {
  if (b != NULL) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
  }
}

/* group_exchange sends |req| with |id| to the worker in |w| (held by the caller) and
 * reads its answer by |deadline|; |drop| (NULL: none) is dropped once |req| is
 * written. On any failure the worker cannot be trusted with
 * another request: group_exchange discards it (kill, reap) and describes what
 * happened in |err|, without restarting it. */
static int group_exchange(GROUP *g, WORKER *w, ProtobufCMessage *req,
                          ProtobufCBinaryData *drop, uint64_t id, int64_t deadline,
                          int timeout_ms, ProtobufCMessage **out_resp, STATUS *err) {
  *out_resp = NULL;
  const WORKER_KIND *kind = g->kind;
  pid_t pid = w->pid;
  ProtobufCMessage *resp = NULL;
  char what[160];
  what[0] = '\0';
  int grace_ms = 0;
  kind->set_request_id(req, id);
  int rc = frame_write_message(w->fd, kind->req_type, req, ms_left(deadline));
  drop_bytes(drop);
  FRAME bulk;
  memset(&bulk, 0, sizeof(bulk));
  if (rc == FRAME_OK) {
    rc = frame_read_message_bulk(w->fd, kind->resp_type, kind->resp_bulk_type,
                                 SMIME__IPC__FRAME_TYPE__FRAME_TYPE_BULK, kind->resp_desc, &resp,
                                 &bulk, ms_left(deadline));
  }
  if (rc == FRAME_OK && bulk.body != NULL) {
    /* The bulk frame's body becomes the field it stands for, without a copy; a
     * response that has no such field, or has it filled already, is a broken worker. */
    ProtobufCBinaryData *field = kind->bulk_field(resp);
    if (field == NULL || field->len != 0) {
      snprintf(what, sizeof(what), "sent a bulk frame its answer has no room for");
      frame_cleanup(&bulk);
      protobuf_c_message_free_unpacked(resp, NULL);
      resp = NULL;
      goto err;
    }
    field->data = bulk.body;
    field->len = bulk.len;
    bulk.body = NULL;
  }
  if (rc == FRAME_OK && kind->response_id(resp) != id) {
    snprintf(what, sizeof(what), "answered request %llu instead of %llu",
             (unsigned long long)kind->response_id(resp), (unsigned long long)id);
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
    goto err;
  }
  if (rc == FRAME_OK) {
    *out_resp = resp;
    return 1;
  }
  switch (rc) {
    case FRAME_TIMEOUT:
      snprintf(what, sizeof(what), "did not answer within %d ms", timeout_ms);
      break;
    case FRAME_EOF:
    case FRAME_TRUNCATED:
    case FRAME_IO:
      /* group_exchange lets a worker that closed its socket finish dying, so that the
       * message says how it died. */
      grace_ms = EXIT_GRACE_MS;
      break;
    default:
      snprintf(what, sizeof(what), "sent an invalid answer (%s)", frame_error_string(rc));
      break;
  }

err:;
  char how[160];
  group_discard(g, w, grace_ms, how, sizeof(how));
  if (what[0] != '\0') {
    return status_set(err, STATUS_UNAVAILABLE, "%s process %d %s and was killed",
                      kind->name, (int)pid, what);
  }
  return status_set(err, STATUS_UNAVAILABLE,
                    "%s process %d %s while handling the request", kind->name, (int)pid,
                    how);
}

/* group_call is worker_pool_engine_call and worker_pool_keystore_call. */
static int group_call(GROUP *g, ProtobufCMessage *req, ProtobufCBinaryData *drop,
                      ProtobufCMessage **out_resp, int timeout_ms, STATUS *err) {
  *out_resp = NULL;
  int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  WORKER *w = NULL;
  WORKER *fix = NULL;
  int dead = 0;
  uint64_t id = 0;
  if (!group_take(g, deadline, &w, &dead, &fix, &id, err)) {
    return 0;
  }
  char how[160];
  STATUS spawn_err;
  if (fix != NULL) {
    pid_t pid = fix->pid;
    group_discard(g, fix, 0, how, sizeof(how));
    log_warn("idle %s process %d %s; replacing it", g->kind->name, (int)pid, how);
    group_respawn(g, fix, &spawn_err);
    group_release(g, fix);
  }
  if (dead) {
    if (w->pid > 0) {
      pid_t pid = w->pid;
      group_discard(g, w, 0, how, sizeof(how));
      log_warn("idle %s process %d %s; replacing it", g->kind->name, (int)pid, how);
    }
    if (!group_respawn(g, w, &spawn_err)) {
      group_release(g, w);
      return status_set(err, STATUS_UNAVAILABLE, "%s is down and cannot be restarted: %s",
                        g->kind->name, spawn_err.message);
    }
  }
  int ok = group_exchange(g, w, req, drop, id, deadline, timeout_ms, out_resp, err);
  if (!ok) {
    log_warn("%s", err->message);
    size_t len = strlen(err->message);
    if (group_respawn(g, w, &spawn_err)) {
      snprintf(err->message + len, sizeof(err->message) - len,
               "; it has been restarted");
    } else {
      snprintf(err->message + len, sizeof(err->message) - len,
               "; restarting it failed: %s", spawn_err.message);
    }
  }
  group_release(g, w);
  return ok;
}

static void free_argv(char **argv) {
  if (argv == NULL) {
    return;
  }
  for (size_t i = 0; argv[i] != NULL; i++) {
    free(argv[i]);
  }
  free(argv);
}

/* group_set_argv sets the command line of |g|'s future processes to a copy of |argv|.
 * Only while no call can run (during worker_pool_start). */
static int group_set_argv(GROUP *g, const char *const *argv, STATUS *err) {
  size_t argc = 0;
  while (argv[argc] != NULL) {
    argc++;
  }
  char **copy = calloc(argc + 1, sizeof(char *));
  if (copy == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  for (size_t i = 0; i < argc; i++) {
    copy[i] = strdup(argv[i]);
    if (copy[i] == NULL) {
      free_argv(copy);
      return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
  }
  free_argv(g->argv);
  g->argv = copy;
  return 1;
}

/* group_init prepares |g| with |n| slots running |argv| (copied), and starts the first
 * |n_start| of them (the others stay empty until group_start_rest). */
static int group_init(GROUP *g, const WORKER_KIND *kind, const char *const *argv,
                      unsigned n, unsigned n_start, STATUS *err) {
  g->kind = kind;
  g->n = n;
  g->workers = calloc(n, sizeof(WORKER));
  g->scan = calloc(n, sizeof(struct pollfd));
  if (g->workers == NULL || g->scan == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  if (!group_set_argv(g, argv, err)) {
    return 0;
  }
  for (unsigned i = 0; i < n; i++) {
    g->workers[i].pid = -1;
    g->workers[i].fd = -1;
  }
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca) != 0) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  /* group_init makes the condition variable wait on the monotonic clock, like the
   * deadlines. */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&g->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (rc != 0) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "pthread_cond_init: %s",
                      strerror(rc));
  }
  rc = pthread_mutex_init(&g->mu, NULL);
  if (rc != 0) {
    pthread_cond_destroy(&g->cv);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "pthread_mutex_init: %s",
                      strerror(rc));
  }
  g->sync_ready = 1;
  for (unsigned i = 0; i < n_start; i++) {
    if (!spawn_process(g->argv, &g->workers[i].pid, &g->workers[i].fd, err)) {
      return 0;
    }
  }
  return 1;
}

/* group_start_rest starts the slots of |g| from |from| on, with its current argv. */
static int group_start_rest(GROUP *g, unsigned from, STATUS *err) {
  for (unsigned i = from; i < g->n; i++) {
    if (!spawn_process(g->argv, &g->workers[i].pid, &g->workers[i].fd, err)) {
      return 0;
    }
  }
  return 1;
}

/* group_stop terminates every process of |g|: SIGTERM, up to |grace_ms| for them all
 * to exit, then SIGKILL; each is reaped. */
static void group_stop(GROUP *groups[], size_t ngroups, int grace_ms) {
  for (size_t j = 0; j < ngroups; j++) {
    for (unsigned i = 0; i < groups[j]->n && groups[j]->workers != NULL; i++) {
      if (groups[j]->workers[i].pid > 0) {
        kill(groups[j]->workers[i].pid, SIGTERM);
      }
    }
  }
  int64_t until = now_ms() + grace_ms;
  for (;;) {
    int running = 0;
    for (size_t j = 0; j < ngroups; j++) {
      for (unsigned i = 0; i < groups[j]->n && groups[j]->workers != NULL; i++) {
        WORKER *w = &groups[j]->workers[i];
        if (w->pid <= 0) {
          continue;
        }
        pid_t r = waitpid(w->pid, NULL, WNOHANG);
        if (r == w->pid || (r < 0 && errno == ECHILD)) {
          w->pid = -1;
        } else {
          running = 1;
        }
      }
    }
    if (!running || now_ms() >= until) {
      break;
    }
    sleep_ms(10);
  }
  for (size_t j = 0; j < ngroups; j++) {
    for (unsigned i = 0; i < groups[j]->n && groups[j]->workers != NULL; i++) {
      WORKER *w = &groups[j]->workers[i];
      char how[160];
      if (w->pid > 0) {
        log_warn("%s process %d did not stop within %d ms; killing it",
                 groups[j]->kind->name, (int)w->pid, grace_ms);
        reap_pid(w->pid, 0, how, sizeof(how));
        w->pid = -1;
      }
      if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
      }
    }
  }
}

static void group_cleanup(GROUP *g) {
  free_argv(g->argv);
  free(g->workers);
  free(g->scan);
  if (g->sync_ready) {
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
  }
  memset(g, 0, sizeof(*g));
}

void worker_pool_free(WORKER_POOL *pool) {
  if (pool == NULL) {
    return;
  }
  GROUP *groups[] = {&pool->engines, &pool->keystore};
  group_stop(groups, 2, STOP_GRACE_MS);
  group_cleanup(&pool->engines);
  group_cleanup(&pool->keystore);
  free(pool);
}

/* hello_engine checks that engine slot |w| answers a hello. */
static int hello_engine(WORKER_POOL *pool, WORKER *w, STATUS *err) {
  GROUP *g = &pool->engines;
  Smime__Ipc__EngineHelloRequest hello = SMIME__IPC__ENGINE_HELLO_REQUEST__INIT;
  Smime__Ipc__EngineRequest req = SMIME__IPC__ENGINE_REQUEST__INIT;
  req.body_case = SMIME__IPC__ENGINE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  ProtobufCMessage *msg = NULL;
  STATUS st;
  pid_t pid = w->pid;
  if (!group_exchange(g, w, &req.base, NULL, ++g->next_id, now_ms() + START_TIMEOUT_MS,
                      START_TIMEOUT_MS, &msg, &st)) {
    return status_set(err, STATUS_UNAVAILABLE, "smime-engine (%s) failed to start: %s",
                      g->argv[0], st.message);
  }
  Smime__Ipc__EngineResponse *resp = (Smime__Ipc__EngineResponse *)msg;
  int ok = 0;
  if (resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_HELLO) {
    log_info("engine process %d ready (%s)", (int)pid, resp->hello->crypto_version);
    ok = 1;
  } else if (resp->body_case == SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR) {
    status_set(err, (int)resp->error->code, "%s", resp->error->message);
  } else {
    status_set(err, STATUS_UNAVAILABLE, "smime-engine (%s) answered hello with nothing",
               g->argv[0]);
  }
  protobuf_c_message_free_unpacked(msg, NULL);
  return ok;
}

/* hello_keystore checks that keystore slot |w| answers a hello, and keeps the check
 * values of its keys in |pool| (the first to answer) or checks that they are the same
 * (the others). An Error answer (the KEK file is unreadable, too open...) is passed on
 * as it is: its message tells the operator what to fix. */
static int hello_keystore(WORKER_POOL *pool, WORKER *w, STATUS *err) {
  GROUP *g = &pool->keystore;
  Smime__Ipc__KeystoreHelloRequest hello = SMIME__IPC__KEYSTORE_HELLO_REQUEST__INIT;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO;
  req.hello = &hello;
  ProtobufCMessage *msg = NULL;
  STATUS st;
  pid_t pid = w->pid;
  if (!group_exchange(g, w, &req.base, NULL, ++g->next_id, now_ms() + START_TIMEOUT_MS,
                      START_TIMEOUT_MS, &msg, &st)) {
    return status_set(err, STATUS_UNAVAILABLE,
                      "smime-keystore (%s) failed to start: %s (see its messages above)",
                      g->argv[0], st.message);
  }
  Smime__Ipc__KeystoreResponse *resp = (Smime__Ipc__KeystoreResponse *)msg;
  int ok = 0;
  if (resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_HELLO) {
    const Smime__Ipc__KeystoreHelloResponse *h = resp->hello;
    if (pool->kek_check[0] == '\0') {
      snprintf(pool->kek_check, sizeof(pool->kek_check), "%s", h->kek_check_value);
      snprintf(pool->new_kek_check, sizeof(pool->new_kek_check), "%s",
               h->new_kek_check_value);
    }
    if (strcmp(pool->kek_check, h->kek_check_value) != 0 ||
        strcmp(pool->new_kek_check, h->new_kek_check_value) != 0) {
      /* The same file read twice gave another key: it changed while we started. */
      status_set(err, STATUS_FAILED_PRECONDITION,
                 "keystore process %d holds KEK %s where another holds %s: was the key "
                 "file replaced while smimed started?",
                 (int)pid, h->kek_check_value, pool->kek_check);
    } else {
      log_info("keystore process %d ready (KEK check value %s)", (int)pid,
               h->kek_check_value);
      ok = 1;
    }
  } else if (resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR) {
    status_set(err, (int)resp->error->code, "%s", resp->error->message);
  } else {
    status_set(err, STATUS_UNAVAILABLE,
               "smime-keystore (%s) answered hello with nothing", g->argv[0]);
  }
  protobuf_c_message_free_unpacked(msg, NULL);
  return ok;
}

WORKER_POOL *worker_pool_start(const WORKER_POOL_CONFIG *config, STATUS *err) {
  if (config == NULL || config->engine_path == NULL || config->keystore_path == NULL ||
      config->kek_path == NULL || config->engines < 1) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "worker pool: engine_path, keystore_path, kek_path and engines >= 1 "
               "are required");
    return NULL;
  }
  WORKER_POOL *pool = calloc(1, sizeof(WORKER_POOL));
  if (pool == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return NULL;
  }
  char fd_text[16];
  snprintf(fd_text, sizeof(fd_text), "%d", WORKER_FD);
  size_t n_extra = 0;
  while (config->engine_args != NULL && config->engine_args[n_extra] != NULL) {
    n_extra++;
  }
  const char **engine_argv = calloc(n_extra + 4, sizeof(char *));
  if (engine_argv == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    free(pool);
    return NULL;
  }
  engine_argv[0] = config->engine_path;
  engine_argv[1] = "--fd";
  engine_argv[2] = fd_text;
  for (size_t i = 0; i < n_extra; i++) {
    engine_argv[3 + i] = config->engine_args[i];
  }
  /* The optional --new-kek-file goes last, so that NULL ends the list without it. */
  const char *keystore_argv[] = {config->keystore_path, "--fd", fd_text,
                                 "--kek-file", config->kek_path,
                                 "--new-kek-file", config->new_kek_path, NULL};
  if (config->new_kek_path == NULL) {
    keystore_argv[5] = NULL;
  }
  /* worker_pool_start starts the keystore first: a bad KEK file is the likeliest
   * failure, and its message the most useful. A keystore restarted later must find
   * the same key (never create a new one): its command line says which. */
  if (!group_init(&pool->keystore, &kKeystoreKind, keystore_argv,
                  config->keystores > 0 ? config->keystores : 1, 1, err) ||
      !hello_keystore(pool, &pool->keystore.workers[0], err)) {
    goto err;
  }
  const char *restart_argv[] = {config->keystore_path, "--fd", fd_text,
                                "--kek-file", config->kek_path,
                                "--expect-check-value", pool->kek_check,
                                "--new-kek-file", config->new_kek_path, NULL};
  if (config->new_kek_path == NULL) {
    restart_argv[7] = NULL;
  }
  /* The other keystores start only now, like restarted ones: the first may have just
   * created the KEK file, which they must find whole and the same. */
  if (!group_set_argv(&pool->keystore, restart_argv, err) ||
      !group_start_rest(&pool->keystore, 1, err)) {
    goto err;
  }
  for (unsigned i = 1; i < pool->keystore.n; i++) {
    if (!hello_keystore(pool, &pool->keystore.workers[i], err)) {
      goto err;
    }
  }
  if (!group_init(&pool->engines, &kEngineKind, engine_argv, config->engines,
                  config->engines, err)) {
    goto err;
  }
  for (unsigned i = 0; i < pool->engines.n; i++) {
    if (!hello_engine(pool, &pool->engines.workers[i], err)) {
      goto err;
    }
  }
  free(engine_argv);
  return pool;

err:
  free(engine_argv);
  worker_pool_free(pool);
  return NULL;
}

int worker_pool_engine_call(WORKER_POOL *pool, Smime__Ipc__EngineRequest *req,
                            Smime__Ipc__EngineResponse **out_resp, int timeout_ms,
                            STATUS *err) {
  return worker_pool_engine_call_dropping(pool, req, NULL, out_resp, timeout_ms, err);
}

int worker_pool_engine_call_dropping(WORKER_POOL *pool, Smime__Ipc__EngineRequest *req,
                                     ProtobufCBinaryData *drop,
                                     Smime__Ipc__EngineResponse **out_resp, int timeout_ms,
                                     STATUS *err) {
  ProtobufCMessage *msg = NULL;
  *out_resp = NULL;
  int ok = group_call(&pool->engines, &req->base, drop, &msg, timeout_ms, err);
  /* Dropped in every case, also when no engine took the request. */
  drop_bytes(drop);
  if (!ok) {
    return 0;
  }
  *out_resp = (Smime__Ipc__EngineResponse *)msg;
  return 1;
}

int worker_pool_keystore_call(WORKER_POOL *pool, Smime__Ipc__KeystoreRequest *req,
                              Smime__Ipc__KeystoreResponse **out_resp, int timeout_ms,
                              STATUS *err) {
  ProtobufCMessage *msg = NULL;
  *out_resp = NULL;
  if (!group_call(&pool->keystore, &req->base, NULL, &msg, timeout_ms, err)) {
    return 0;
  }
  *out_resp = (Smime__Ipc__KeystoreResponse *)msg;
  return 1;
}

const char *worker_pool_kek_check_value(const WORKER_POOL *pool) { return pool->kek_check; }

const char *worker_pool_new_kek_check_value(const WORKER_POOL *pool) {
  return pool->new_kek_check;
}

void worker_pool_stats(WORKER_POOL *pool, WORKER_POOL_STATS *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&pool->engines.mu);
  out->engines = pool->engines.n;
  out->engine_restarts = pool->engines.restarts;
  out->engine_requests = pool->engines.requests;
  pthread_mutex_unlock(&pool->engines.mu);
  pthread_mutex_lock(&pool->keystore.mu);
  out->keystore_restarts = pool->keystore.restarts;
  out->keystore_requests = pool->keystore.requests;
  pthread_mutex_unlock(&pool->keystore.mu);
}

unsigned worker_pool_engine_pids(WORKER_POOL *pool, int *out, unsigned max) {
  unsigned n = 0;
  pthread_mutex_lock(&pool->engines.mu);
  for (unsigned i = 0; i < pool->engines.n && n < max; i++) {
    if (pool->engines.workers[i].pid > 0) {
      out[n++] = (int)pool->engines.workers[i].pid;
    }
  }
  pthread_mutex_unlock(&pool->engines.mu);
  return n;
}
