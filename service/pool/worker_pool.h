/* worker_pool.h: the front's side of its worker processes: a pool of smime-engine
 * processes (stateless; one per core by default) and one smime-keystore process.
 *
 * A private-key operation (RSA-3072 sign: 2.4 ms of CPU here) occupies its keystore for
 * its whole duration, so one keystore would cap private-key calls at one core: there
 * may be several keystore processes (--keystores, one per core by default), each
 * holding the same KEK, all alike.
 *
 * Workers are spawned with posix_spawn (no fork of the front's address space, so it is
 * safe after grpc_init), each with one end of a socketpair as fd 3 and no other fd open.
 * Requests are framed (service/ipc/frame.h). A worker that dies, closes its socket,
 * answers garbage or exceeds the call's timeout is killed and replaced; the call that
 * saw it fails with STATUS_UNAVAILABLE, never a hang. Thread-safe: any number of threads
 * may call at once; a call waits (up to its timeout) for a free engine. */
#ifndef SMIMED_POOL_WORKER_POOL_H
#define SMIMED_POOL_WORKER_POOL_H

#include <stdint.h>

#include "service/common/status.h"
#include "smime/ipc/ipc.pb-c.h"

typedef struct worker_pool_st WORKER_POOL;

typedef struct worker_pool_config_st {
  const char *engine_path;    /* smime-engine binary */
  const char *keystore_path;  /* smime-keystore binary */
  const char *kek_path;       /* key-encryption key file, passed to the keystore */
  const char *new_kek_path;   /* NULL; or, for smimed --rotate-kek, the keystore's
                                 --new-kek-file */
  unsigned engines;           /* number of engine processes, >= 1 */
  unsigned keystores;         /* number of keystore processes; 0 counts as 1 */
  const char *const *engine_args; /* NULL, or more arguments for every engine (the
                                     limit flags), NULL-terminated; copied, and given
                                     to restarted engines too */
} WORKER_POOL_CONFIG;

typedef struct worker_pool_stats_st {
  unsigned engines;
  unsigned engine_restarts;
  unsigned keystore_restarts;
  /* engine_requests and keystore_requests count worker_pool_engine_call and
   * worker_pool_keystore_call (not the hellos of worker_pool_start and of restarts). */
  uint64_t engine_requests;
  uint64_t keystore_requests;
} WORKER_POOL_STATS;

/* worker_pool_start spawns the workers and checks each answers a hello (every keystore
 * with the same check values). Returns NULL and fills |err| on failure (e.g. binary
 * missing, KEK file unreadable). */
WORKER_POOL *worker_pool_start(const WORKER_POOL_CONFIG *config, STATUS *err);

/* worker_pool_free terminates every worker (SIGTERM, then SIGKILL after 2 s), reaps
 * it, and frees |pool|. Accepts NULL. */
void worker_pool_free(WORKER_POOL *pool);

/* worker_pool_engine_call sends |req| (its request_id is set by the pool) to a free
 * engine and waits at most |timeout_ms| for the answer. On success returns 1 and sets
 * |*out_resp| (free with smime__ipc__engine_response__free_unpacked(r, NULL)); an
 * Error body in the response is still success at this level. On failure returns 0,
 * sets |*out_resp| to NULL and fills |err| (UNAVAILABLE when the worker died or timed
 * out, DEADLINE_EXCEEDED when no engine became free in time). */
int worker_pool_engine_call(WORKER_POOL *pool, Smime__Ipc__EngineRequest *req,
                            Smime__Ipc__EngineResponse **out_resp, int timeout_ms,
                            STATUS *err);

/* worker_pool_engine_call_dropping is worker_pool_engine_call that also frees the
 * bytes of |drop| (a field of |req|, malloc'd; NULL: none) and clears it, as soon as
 * the request is written and before the answer is awaited (and in every case before
 * it returns): the caller sends a large message for the last time and need not hold
 * it next to the answer. */
int worker_pool_engine_call_dropping(WORKER_POOL *pool, Smime__Ipc__EngineRequest *req,
                                     ProtobufCBinaryData *drop,
                                     Smime__Ipc__EngineResponse **out_resp, int timeout_ms,
                                     STATUS *err);

/* worker_pool_keystore_call: the same for the keystore. */
int worker_pool_keystore_call(WORKER_POOL *pool, Smime__Ipc__KeystoreRequest *req,
                              Smime__Ipc__KeystoreResponse **out_resp, int timeout_ms,
                              STATUS *err);

/* worker_pool_kek_check_value is the check value of the keystore's key-encryption key,
 * as its first hello reported it (a restarted keystore must hold the same key);
 * worker_pool_new_kek_check_value that of its --new-kek-file, "" without one. */
const char *worker_pool_kek_check_value(const WORKER_POOL *pool);
const char *worker_pool_new_kek_check_value(const WORKER_POOL *pool);

/* worker_pool_stats copies the counters into |out|. */
void worker_pool_stats(WORKER_POOL *pool, WORKER_POOL_STATS *out);

/* worker_pool_engine_pids writes up to |max| engine pids into |out| and returns how
 * many (for tests and diagnostics). */
unsigned worker_pool_engine_pids(WORKER_POOL *pool, int *out, unsigned max);

#endif /* SMIMED_POOL_WORKER_POOL_H */
