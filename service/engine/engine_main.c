/* engine_main.c: smime-engine, the worker that parses untrusted input (DESIGN.md
 * section 2). Usage: smime-engine [--fd N] [--max-mime-depth N] [--max-mime-parts N]
 * [--max-chain-length N]: the socket (default 3, where the pool puts its end of the
 * socketpair) and the limits smimed's flags of the same names set (engine_limits.h; a
 * bad value is a usage error, status 2).
 *
 * The loop reads one EngineRequest frame, runs the handler for its oneof case and
 * answers one EngineResponse with the same request_id. Every request carries what it
 * needs (the engine keeps only memos that change no answer: chain_memo.h,
 * cert_info_memo.h), and the engine trusts its peer only as far as the framing: any
 * protocol violation (bad frame type, undecodable or oversized body, a request with no
 * body) ends the process with status 1, and the front restarts it. End of stream ends it with status 0.
 *
 * Before the first request main confines the process (service/sandbox): resource
 * limits, then a seccomp allowlist (kEngineSyscalls), and before each request a CPU
 * budget (ENGINE_CPU_SECONDS). A request that breaks any of them kills the engine; the
 * pool answers that call UNAVAILABLE and starts a fresh engine. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "service/common/log.h"
#include "service/common/malloc_tuning.h"
#include "service/common/status.h"
#include "service/engine/engine_limits.h"
#include "service/engine/engine_ops.h"
#include "service/ipc/arena.h"
#include "service/ipc/bulk.h"
#include "service/ipc/frame.h"
#include "service/ipc/worker_common.h"
#include "service/sandbox/sandbox.h"
#include "smime/ipc/ipc.pb-c.h"

/* ENGINE_CPU_SECONDS is each request's CPU budget. The costliest legitimate request,
 * signing and encrypting a 44 MiB message (the largest whose result fits a 64 MiB
 * frame), takes 5 s of engine CPU on the 2-core test machine
 * (tests/faults:hardening_test); 30 s leaves room for slower machines and still stops
 * a hostile message that would hold the engine forever, well before the front's own
 * 60 s cap on any worker call. */
#define ENGINE_CPU_SECONDS 30

/* ENGINE_ADDRESS_SPACE bounds the engine's virtual memory (RLIMIT_AS). A request holds
 * a frame of up to 64 MiB and a few copies of it (decoded body, MIME tree, CMS output,
 * response frame): measured, VmPeak is 294 MB for a 44 MiB sign+encrypt, so about
 * 7 x the message. 1 GiB leaves three times that; an allocation beyond it fails (the
 * handler answers an error) instead of pushing the machine into swap or the OOM
 * killer. */
#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer (bazel test --config=asan) reserves terabytes of shadow address
 * space at start: no address-space limit under it. */
#define ENGINE_ADDRESS_SPACE RLIM_INFINITY
#else
#define ENGINE_ADDRESS_SPACE ((rlim_t)1 << 30)
#endif

/* ENGINE_MAX_FDS is RLIMIT_NOFILE: descriptors 0-3 are all the engine ever has (the pool
 * opens no others, and seccomp forbids opening more). */
#define ENGINE_MAX_FDS 4

/* kEngineSyscalls is the engine's seccomp allowlist, found by running the end-to-end
 * suites under strace -f and reading the engine's calls after its first request:
 *   recvfrom, sendto, poll, ppoll: the frame loop (recv, send with MSG_NOSIGNAL,
 *     poll);
 *   read, write, writev: stdio on stderr (log lines) and libc fallbacks;
 *   brk, mmap, munmap, mremap, madvise, mprotect: malloc (mmap and mprotect never with
 *     PROT_EXEC: no new executable memory);
 *   futex: libc locks (stdio);
 *   getrandom: BoringSSL's RNG (content-encryption keys, IVs) and MIME boundaries;
 *   clock_gettime, gettimeofday, time: fallbacks of the vDSO;
 *   getpid: log lines and BoringSSL's fork detection;
 *   clock_gettime (the process's CPU clock), prlimit64: the per-request CPU budget
 *     (sandbox_cpu_budget);
 *   sysinfo: glibc's qsort sizes its buffer against physical memory;
 *   rt_sigreturn, restart_syscall: signal and restart plumbing of the kernel;
 *   exit, exit_group: the end.
 * Everything else (open, socket, connect, fork, execve, kill, ptrace...) kills. */
static const int kEngineSyscalls[] = {
    SYS_recvfrom, SYS_sendto, SYS_ppoll, SYS_read, SYS_write, SYS_writev,
    SYS_brk, SANDBOX_NO_EXEC_MAPPING | SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise,
    SANDBOX_NO_EXEC_MAPPING | SYS_mprotect, SYS_futex, SYS_getrandom, SYS_clock_gettime,
    SYS_gettimeofday, SYS_getpid, SYS_prlimit64, SYS_sysinfo,
    SYS_rt_sigreturn, SYS_restart_syscall, SYS_exit, SYS_exit_group,
#ifdef SYS_poll
    SYS_poll,
#endif
#ifdef SYS_time
    SYS_time,
#endif
};

/* kEngineOps is the dispatch table: one line per request oneof case. */
static const struct engine_op {
  Smime__Ipc__EngineRequest__BodyCase body;
  const char *name;
  ENGINE_HANDLER handler;
} kEngineOps[] = {
    {SMIME__IPC__ENGINE_REQUEST__BODY_HELLO, "hello", engine_op_hello},
    {SMIME__IPC__ENGINE_REQUEST__BODY_PARSE_CERTIFICATES, "parse_certificates",
     engine_op_parse_certificates},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ANALYZE_MESSAGE, "analyze_message", engine_op_analyze_message},
    {SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_PREPARE, "sign_prepare", engine_op_sign_prepare},
    {SMIME__IPC__ENGINE_REQUEST__BODY_SIGN_FINISH, "sign_finish", engine_op_sign_finish},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ENCRYPT, "encrypt", engine_op_encrypt},
    {SMIME__IPC__ENGINE_REQUEST__BODY_OPEN_LAYER, "open_layer", engine_op_open_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_VERIFY_LAYER, "verify_layer", engine_op_verify_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_DECRYPT_LAYER, "decrypt_layer", engine_op_decrypt_layer},
    {SMIME__IPC__ENGINE_REQUEST__BODY_ASSEMBLE_OPENED, "assemble_opened",
     engine_op_assemble_opened},
};

static const struct engine_op *find_op(Smime__Ipc__EngineRequest__BodyCase body) {
  for (size_t i = 0; i < sizeof(kEngineOps) / sizeof(kEngineOps[0]); i++) {
    if (kEngineOps[i].body == body) {
      return &kEngineOps[i];
    }
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr,
          "usage: smime-engine [--fd N] [--max-mime-depth N] [--max-mime-parts N]\n"
          "                    [--max-chain-length N]\n"
          "Serves smimed's engine requests on the socket N (default 3). smimed starts it\n"
          "with the limits of its own flags of the same names:\n"
          "  --max-mime-depth N    MIME nesting (%d-%d, default %d)\n"
          "  --max-mime-parts N    MIME parts of one message (%d-%d, default %d)\n"
          "  --max-chain-length N  certificates from signer to trust anchor (%d-%d,\n"
          "                        default %d)\n",
          ENGINE_MAX_MIME_DEPTH_MIN, ENGINE_MAX_MIME_DEPTH_MAX, ENGINE_MAX_MIME_DEPTH_DEFAULT,
          ENGINE_MAX_MIME_PARTS_MIN, ENGINE_MAX_MIME_PARTS_MAX, ENGINE_MAX_MIME_PARTS_DEFAULT,
          ENGINE_MAX_CHAIN_LENGTH_MIN, ENGINE_MAX_CHAIN_LENGTH_MAX,
          ENGINE_MAX_CHAIN_LENGTH_DEFAULT);
}

/* serve_one reads, runs and answers one request. Returns 1 to go on, 0 at a clean end
 * of stream; exits on a protocol violation. */
static int serve_one(int fd) {
  ProtobufCMessage *msg = NULL;
  int rc = frame_read_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_REQUEST,
                              &smime__ipc__engine_request__descriptor, &msg, -1);
  if (rc == FRAME_EOF) {
    return 0;
  }
  if (rc != FRAME_OK) {
    log_error("reading a request: %s%s%s; exiting", frame_error_string(rc),
              rc == FRAME_IO ? ": " : "", rc == FRAME_IO ? strerror(errno) : "");
    exit(1);
  }
  /* serve_one starts the request's CPU budget once the request is read: waiting for it
   * costs nothing, decoding it is part of the work. */
  STATUS budget_err;
  if (!sandbox_cpu_budget(ENGINE_CPU_SECONDS, &budget_err)) {
    log_error("%s; exiting", budget_err.message);
    exit(1);
  }
  Smime__Ipc__EngineRequest *req = (Smime__Ipc__EngineRequest *)msg;
  if (req->body_case == SMIME__IPC__ENGINE_REQUEST__BODY__NOT_SET) {
    log_error("request %llu has no body (or one this engine does not know); exiting",
              (unsigned long long)req->request_id);
    exit(1);
  }
  const struct engine_op *op = find_op(req->body_case);
  /* The request's size is taken before the handler runs: handlers free a large message
   * once they are done with it (make_signable), which would hide it from the sum. */
  size_t moved = protobuf_c_message_get_packed_size(msg);

  ARENA *arena = arena_new();
  if (arena == NULL) {
    log_error("out of memory; exiting");
    exit(1);
  }
  Smime__Ipc__EngineResponse resp = SMIME__IPC__ENGINE_RESPONSE__INIT;
  STATUS st;
  status_clear(&st);
  int ok;
  if (op == NULL) {
    ok = status_set(&st, STATUS_UNIMPLEMENTED,
                    "the engine has no handler for request body %d",
                    (int)req->body_case);
  } else {
    ok = op->handler(arena, req, &resp, &st);
  }
  if (!ok) {
    /* serve_one answers a failed operation with only its Error, whatever the handler
     * left half-built. */
    smime__ipc__engine_response__init(&resp);
    resp.error = worker_error_new(arena, &st, "engine operation failed");
    resp.body_case = SMIME__IPC__ENGINE_RESPONSE__BODY_ERROR;
    if (resp.error == NULL) {
      log_error("out of memory; exiting");
      exit(1);
    }
  }
  ERR_clear_error();
  resp.request_id = req->request_id;
  moved += protobuf_c_message_get_packed_size(&resp.base);
  ProtobufCBinaryData *field = engine_response_bulk_field(&resp);
  if (field != NULL && field->len >= BULK_MIN) {
    /* A large message goes in a bulk frame of its own (bulk.h); the field stays in the
     * arena, which frees it. */
    ProtobufCBinaryData bulk = *field;
    field->data = NULL;
    field->len = 0;
    rc = frame_write_message_bulk(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE_BULK,
                                  &resp.base, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_BULK, bulk.data,
                                  bulk.len, -1);
  } else {
    rc = frame_write_message(fd, SMIME__IPC__FRAME_TYPE__FRAME_TYPE_ENGINE_RESPONSE,
                             &resp.base, -1);
  }
  arena_free(arena);
  protobuf_c_message_free_unpacked(msg, NULL);
  /* serve_one gives a large message's heap back: the pool's engines take calls in
   * turn, and each would otherwise keep the largest it ever served. */
  malloc_release_after(moved);
  if (rc != FRAME_OK) {
    log_error("writing a response: %s%s%s; exiting", frame_error_string(rc),
              rc == FRAME_IO ? ": " : "", rc == FRAME_IO ? strerror(errno) : "");
    exit(1);
  }
  return 1;
}

/* confine does what must happen before seccomp (the lazy start-up of libraries that
 * would open files later), then sets the limits and installs the filter. A failure is
 * fatal: an engine that is meant to be confined must not parse hostile input
 * unconfined. */
static int confine(void) {
  STATUS err;
  status_clear(&err);
  /* confine loads the time zone now: glibc reads /etc/localtime on the first gmtime_r
   * or timegm, which the engine calls for certificate and Date checks. */
  tzset();
  /* confine seeds BoringSSL's RNG now, while it could still open /dev/urandom if the
   * kernel lacked getrandom. */
  uint8_t warm[16];
  if (!RAND_bytes(warm, sizeof(warm))) {
    log_error("BoringSSL's random number generator failed; exiting");
    return 0;
  }
  /* confine makes the engine undumpable like the keystore: it holds decrypted content
   * and content-encryption keys, which must reach neither core files nor a same-uid
   * debugger. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    log_warn("prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
  }
  struct rlimit core = {0, 0};
  /* confine leaves RLIMIT_FSIZE alone: stderr may be the daemon's log file, and a
   * write past the limit would kill the engine with SIGXFSZ. RLIMIT_NPROC 0 is
   * redundant with seccomp (no fork, no clone) and ignored for root, but costs
   * nothing. */
  if (setrlimit(RLIMIT_CORE, &core) != 0 ||
      !sandbox_limit(RLIMIT_AS, ENGINE_ADDRESS_SPACE, &err) ||
      !sandbox_limit(RLIMIT_NOFILE, ENGINE_MAX_FDS, &err) ||
      !sandbox_limit(RLIMIT_NPROC, 0, &err) ||
      !sandbox_seccomp(kEngineSyscalls, sizeof(kEngineSyscalls) / sizeof(kEngineSyscalls[0]),
                       &err)) {
    log_error("cannot confine the engine: %s; exiting",
              err.message[0] != '\0' ? err.message : strerror(errno));
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  log_set_program("smime-engine");
  malloc_tune_for_messages();
  int fd = 3;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--fd") == 0 && i + 1 < argc) {
      if (!worker_parse_fd(argv[++i], &fd)) {
        usage();
        return 2;
      }
    } else if (engine_limits_is_flag(argv[i]) && i + 1 < argc) {
      STATUS err;
      if (!engine_limits_flag(argv[i], argv[i + 1], &err)) {
        log_error("%s", err.message);
        usage();
        return 2;
      }
      i++;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (!worker_claim_socket(fd, "smime-engine")) {
    return 2;
  }
  if (!confine()) {
    return 1;
  }
  while (serve_one(fd)) {
  }
  return 0;
}
