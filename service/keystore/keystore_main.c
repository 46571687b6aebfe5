/* keystore_main.c: smime-keystore, the worker that holds the key-encryption key (KEK)
 * and private keys (DESIGN.md section 2; OpenSSH's privsep monitor is the model).
 * Usage: smime-keystore [--fd N] --kek-file PATH [--expect-check-value HEX]
 *                       [--new-kek-file PATH] (fd default 3).
 *
 * At start it makes itself undumpable (no core files, no ptrace by same-uid processes)
 * and loads or creates the KEK (kek.h). With --expect-check-value (the pool passes it
 * when it restarts a keystore, with the value the first one reported) the file must
 * exist and hold that same key: a KEK file deleted or replaced while smimed runs must
 * not silently become a new key. When the KEK cannot be loaded it still answers
 * the first request, whatever it is, with an Error (FAILED_PRECONDITION, naming the file
 * and the problem) and exits 1, so that the front can tell the operator why. Otherwise
 * it serves KeystoreRequests one at a time; any protocol violation exits 1, end of
 * stream exits 0, and both wipe the KEK first.
 *
 * --new-kek-file (only smimed --rotate-kek gives it) loads, or creates under the same
 * rules, a second KEK: hello then reports its check value too, and the rewrap request
 * moves a stored key from the first KEK to it (keystore_rewrap.c). Both are loaded
 * before the seccomp filter is installed; a restarted keystore (--expect-check-value)
 * only loads the new one, never creates it, as for the first.
 *
 * Once the KEK is loaded, and before the first request is read, main installs a seccomp
 * allowlist (kKeystoreSyscalls, service/sandbox): from then on the keystore can only
 * talk over its socket, write to stderr, allocate memory and draw random numbers; no
 * file, socket, process or signal-sending call. A violation kills it (SIGSYS); the pool
 * restarts it with the same KEK file and fails that call UNAVAILABLE. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "service/common/log.h"
#include "service/common/status.h"
#include "service/ipc/arena.h"
#include "service/ipc/frame.h"
#include "service/ipc/worker_common.h"
#include "service/keystore/kek.h"
#include "service/keystore/keystore_ops.h"
#include "service/keystore/locked_alloc.h"
#include "service/sandbox/sandbox.h"
#include "smime/ipc/ipc.pb-c.h"

/* KEYSTORE_MAX_FDS is RLIMIT_NOFILE: descriptors 0-3 are all the keystore needs once
 * the KEK file is read and closed. */
#define KEYSTORE_MAX_FDS 4

/* kKeystoreSyscalls is the keystore's seccomp allowlist, found by running the
 * end-to-end suites under strace -f and reading the keystore's calls after its first
 * request, plus its exit paths:
 *   recvfrom, sendto, poll, ppoll: the frame loop;
 *   read, write, writev: stdio on stderr (log lines);
 *   brk, mmap, munmap, mremap, madvise, mprotect: malloc (never PROT_EXEC);
 *   mlock, munlock: key pages (kek_free unlocks the KEK page on exit);
 *   futex: libc locks;
 *   getrandom: BoringSSL's RNG (ECDSA nonces, RSA blinding, wrapping IVs);
 *   clock_gettime, gettimeofday, time: vDSO fallbacks; getpid: log lines and
 *     BoringSSL's fork detection; sysinfo: glibc's qsort;
 *   rt_sigreturn, rt_sigprocmask, restart_syscall: the SIGTERM handler and the final
 *     SIGTERM block in main;
 *   exit, exit_group: the end.
 * Not allowed, among others: open, socket, connect, fork, execve, kill, ptrace,
 * prctl, setrlimit. */
static const int kKeystoreSyscalls[] = {
    SYS_recvfrom, SYS_sendto, SYS_ppoll, SYS_read, SYS_write, SYS_writev,
    SYS_brk, SANDBOX_NO_EXEC_MAPPING | SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise,
    SANDBOX_NO_EXEC_MAPPING | SYS_mprotect, SYS_mlock, SYS_munlock, SYS_futex,
    SYS_getrandom, SYS_clock_gettime, SYS_gettimeofday, SYS_getpid, SYS_sysinfo,
    SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_restart_syscall, SYS_exit, SYS_exit_group,
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_time
    SYS_time,
#endif
};

/* kKeystoreOps is the dispatch table: one line per request oneof case. */
static const struct keystore_op {
  Smime__Ipc__KeystoreRequest__BodyCase body;
  const char *name;
  KEYSTORE_HANDLER handler;
} kKeystoreOps[] = {
    {SMIME__IPC__KEYSTORE_REQUEST__BODY_HELLO, "hello", keystore_op_hello},
    {SMIME__IPC__KEYSTORE_REQUEST__BODY_IMPORT_KEY, "import_key", keystore_op_import_key},
    {SMIME__IPC__KEYSTORE_REQUEST__BODY_SIGN, "sign", keystore_op_sign},
    {SMIME__IPC__KEYSTORE_REQUEST__BODY_UNWRAP_CEK, "unwrap_cek", keystore_op_unwrap_cek},
    {SMIME__IPC__KEYSTORE_REQUEST__BODY_REWRAP, "rewrap", keystore_op_rewrap},
};

/* g_kek and g_new_kek are the KEKs for on_term, which wipes them when the pool stops
 * us with SIGTERM. */
static KEK *volatile g_kek = NULL;
static KEK *volatile g_new_kek = NULL;

static void on_term(int sig) {
  (void)sig;
  kek_wipe(g_kek);
  kek_wipe(g_new_kek);
  _exit(0);
}

static const struct keystore_op *find_op(Smime__Ipc__KeystoreRequest__BodyCase body) {
  for (size_t i = 0; i < sizeof(kKeystoreOps) / sizeof(kKeystoreOps[0]); i++) {
    if (kKeystoreOps[i].body == body) {
      return &kKeystoreOps[i];
    }
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: smime-keystore [--fd N] --kek-file PATH [--expect-check-value HEX]\n"
          "                      [--new-kek-file PATH]\n"
          "Serves smimed's keystore requests on the socket N (default 3). PATH holds the\n"
          "key-encryption key: 32 raw bytes or 64 hex digits, mode 0600 or 0400; it is\n"
          "created (32 random bytes, mode 0600) when absent, unless a check value is\n"
          "expected: then it must exist and hold the key with that check value.\n"
          "--new-kek-file (smimed --rotate-kek) names a second key, under the same rules,\n"
          "that stored keys are re-wrapped under.\n");
}

/* harden keeps the keys out of core dumps and away from same-uid debuggers. */
static void harden(void) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    log_warn("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
  }
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) {
    log_warn("setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
  }
}

/* confine prepares what libraries would otherwise do lazily with files (time zone,
 * RNG seeding), limits descriptors and processes, and installs the seccomp filter.
 * A failure is fatal: the keystore must not hold keys unconfined. */
static int confine(void) {
  STATUS err;
  status_clear(&err);
  /* confine loads the time zone now: glibc reads /etc/localtime on the first gmtime_r,
   * which every log line calls. */
  tzset();
  uint8_t warm[16];
  if (!RAND_bytes(warm, sizeof(warm))) {
    log_error("BoringSSL's random number generator failed; exiting");
    return 0;
  }
  /* confine sets RLIMIT_NPROC 0 though seccomp already forbids fork: it is ignored for
   * root, costs nothing otherwise. RLIMIT_FSIZE stays: stderr may be a log file. */
  if (!sandbox_limit(RLIMIT_NOFILE, KEYSTORE_MAX_FDS, &err) ||
      !sandbox_limit(RLIMIT_NPROC, 0, &err) ||
      !sandbox_seccomp(kKeystoreSyscalls,
                       sizeof(kKeystoreSyscalls) / sizeof(kKeystoreSyscalls[0]), &err)) {
    log_error("cannot confine the keystore: %s; exiting", err.message);
    return 0;
  }
  return 1;
}

static void log_frame_error(const char *what, int rc) {
  log_error("%s: %s%s%s; exiting", what, frame_error_string(rc),
            rc == FRAME_IO ? ": " : "", rc == FRAME_IO ? strerror(errno) : "");
}

/* serve_one reads one request and answers it: with the handler's result, or with
 * |fatal| (when not NULL: the KEK did not load) whatever was asked. Returns 1 to go
 * on, 0 at a clean end of stream, -1 on a protocol violation or I/O failure. */
static int serve_one(int fd, KEYSTORE *ks, const STATUS *fatal) {
  int ret = -1;
  ProtobufCMessage *msg = NULL;
  ARENA *arena = NULL;
  int rc = frame_read_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_REQUEST,
                              &smime__ipc__keystore_request__descriptor, &msg, -1);
  if (rc == FRAME_EOF) {
    ret = 0;
    goto out;
  }
  if (rc != FRAME_OK) {
    log_frame_error("reading a request", rc);
    goto out;
  }
  Smime__Ipc__KeystoreRequest *req = (Smime__Ipc__KeystoreRequest *)msg;
  /* The request (a password, a key file) is in the heap: lock what it added. */
  locked_alloc_lock_heap();
  if (req->body_case == SMIME__IPC__KEYSTORE_REQUEST__BODY__NOT_SET) {
    log_error("request %llu has no body (or one this keystore does not know); exiting",
              (unsigned long long)req->request_id);
    goto out;
  }
  arena = arena_new();
  if (arena == NULL) {
    log_error("out of memory; exiting");
    goto out;
  }
  Smime__Ipc__KeystoreResponse resp = SMIME__IPC__KEYSTORE_RESPONSE__INIT;
  STATUS st;
  status_clear(&st);
  int ok = 0;
  const struct keystore_op *op = find_op(req->body_case);
  if (fatal != NULL) {
    st = *fatal;
  } else if (op == NULL) {
    status_set(&st, STATUS_UNIMPLEMENTED, "the keystore has no handler for request body %d",
               (int)req->body_case);
  } else {
    ok = op->handler(ks, arena, req, &resp, &st);
  }
  if (!ok) {
    smime__ipc__keystore_response__init(&resp);
    resp.error = worker_error_new(arena, &st, "keystore operation failed");
    resp.body_case = SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR;
    if (resp.error == NULL) {
      log_error("out of memory; exiting");
      goto out;
    }
  }
  ERR_clear_error();
  resp.request_id = req->request_id;
  /* Likewise the answer (a content-encryption key): the frame it is packed into comes
   * from the locked slack at the top of the heap. */
  locked_alloc_lock_heap();
  rc = frame_write_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_KEYSTORE_RESPONSE,
                           &resp.base, -1);
  if (rc != FRAME_OK) {
    log_frame_error("writing a response", rc);
    goto out;
  }
  ret = 1;

out:
  arena_free(arena);
  if (msg != NULL) {
    protobuf_c_message_free_unpacked(msg, NULL);
  }
  return ret;
}

/* load_kek loads the KEK file |path|, creating it when absent unless the keystore was
 * |restarted| (then it must find the key it started with). |is_new| marks the second
 * key of a rotation keystore, so that a message says which of the two is meant. */
static KEK *load_kek(const char *path, int restarted, int is_new, STATUS *err) {
  int created = 0;
  STATUS st;
  status_clear(&st);
  KEK *kek = restarted ? kek_load(path, &st) : kek_load_or_create(path, &created, &st);
  if (kek == NULL) {
    status_set(err, st.code, "%s%s", is_new ? "new key-encryption key: " : "", st.message);
  } else if (created) {
    log_info("created a new key-encryption key in %s%s; back it up: without it no stored "
             "private key can be used", path, is_new ? " (the rotation's new key)" : "");
  }
  return kek;
}

/* load_keys fills |ks| from the KEK file, checked against |expect| when given, and the
 * optional new KEK file. Returns 1; or 0 with both keys freed and |err| filled. */
static int load_keys(KEYSTORE *ks, const char *kek_path, const char *expect,
                     const char *new_kek_path, STATUS *err) {
  char check[KEK_CHECK_VALUE_LEN + 1];
  ks->kek = load_kek(kek_path, expect != NULL, 0, err);
  if (ks->kek == NULL) {
    return 0;
  }
  if (expect != NULL && (!kek_check_value(ks->kek, check) || strcmp(check, expect) != 0)) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "KEK file %s now holds a different key (check value %s) from the one "
               "smimed started with (%s); restore the original file",
               kek_path, check, expect);
    goto err;
  }
  if (new_kek_path != NULL) {
    ks->new_kek = load_kek(new_kek_path, expect != NULL, 1, err);
    if (ks->new_kek == NULL) {
      goto err;
    }
  }
  return 1;

err:
  kek_free(ks->kek);
  ks->kek = NULL;
  return 0;
}

int main(int argc, char **argv) {
  log_set_program("smime-keystore");
  locked_alloc_init();
  harden();
  int fd = 3;
  const char *kek_path = NULL;
  const char *expect = NULL;
  const char *new_kek_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
      if (!worker_parse_fd(argv[++i], &fd)) {
        usage();
        return 2;
      }
    } else if (strcmp(argv[i], "--kek-file") == 0 && i + 1 < argc) {
      kek_path = argv[++i];
    } else if (strcmp(argv[i], "--expect-check-value") == 0 && i + 1 < argc) {
      expect = argv[++i];
    } else if (strcmp(argv[i], "--new-kek-file") == 0 && i + 1 < argc) {
      new_kek_path = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (kek_path == NULL || kek_path[0] == '\0' ||
      (new_kek_path != NULL && new_kek_path[0] == '\0')) {
    usage();
    return 2;
  }
  if (!worker_claim_socket(fd, "smime-keystore")) {
    return 2;
  }

  KEYSTORE ks = {.kek = NULL, .new_kek = NULL};
  STATUS kek_err;
  status_clear(&kek_err);
  if (!load_keys(&ks, kek_path, expect, new_kek_path, &kek_err)) {
    /* main reports the problem to the front, which tells the operator; confined too,
     * since it still reads a request. */
    log_error("%s", kek_err.message);
    if (confine()) {
      serve_one(fd, &ks, &kek_err);
    }
    return 1;
  }
  g_kek = ks.kek;
  g_new_kek = ks.new_kek;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_term;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  if (!confine()) {
    g_kek = NULL;
    g_new_kek = NULL;
    kek_free(ks.kek);
    kek_free(ks.new_kek);
    return 1;
  }

  /* Without memory for the cache every request opens its key itself. */
  ks.keys = key_cache_new();
  int rc;
  while ((rc = serve_one(fd, &ks, NULL)) == 1) {
  }
  /* main blocks SIGTERM while it wipes and frees, so on_term never sees a freed key. */
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, NULL);
  g_kek = NULL;
  g_new_kek = NULL;
  key_cache_free(ks.keys);
  kek_free(ks.kek);
  kek_free(ks.new_kek);
  return rc == 0 ? 0 : 1;
}
