/* metrics.h: the front's Prometheus metrics (text exposition format 0.0.4), served on a
 * separate plain-HTTP listener (--metrics-listen) by one small thread, never on the gRPC
 * port: a scraper needs no client certificate, and a slow scraper cannot take a gRPC
 * thread.
 *
 * The counters are process-wide (one daemon per process) so that the gRPC server can
 * count every finished call without a handle: metrics_call_started and
 * metrics_call_finished are safe from any thread. Exposed:
 *   smimed_rpc_total{method,code}             finished calls by final status
 *   smimed_rpc_duration_seconds{method}       histogram of call latency
 *   smimed_rpc_in_flight                      calls being handled now
 *   smimed_engines                            engine processes configured
 *   smimed_worker_restarts_total{worker}      engine/keystore processes replaced
 *   smimed_build_info{version}                always 1
 *   smimed_process_start_time_seconds         Unix time the daemon started
 *   smimed_audit_queue_depth                  audit entries queued or being committed
 *   smimed_query_cache_{hits,misses,invalidations}_total, smimed_query_cache_entries,
 *   smimed_query_cache_enabled                the front's query cache (query_cache.h)
 * Method labels are the registered method paths without the leading slash; a call to an
 * unknown path counts as method="unknown", so that clients cannot grow the label set. */
#ifndef SMIMED_FRONT_METRICS_H
#define SMIMED_FRONT_METRICS_H

#include <stddef.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/log_writer.h"
#include "service/pool/worker_pool.h"

typedef struct metrics_server_st METRICS_SERVER;

/* METRICS_MAX_METHODS bounds the distinct method labels; more count as "unknown". */
#define METRICS_MAX_METHODS 128

/* metrics_call_started counts a call entering its handler (smimed_rpc_in_flight). */
void metrics_call_started(void);

/* metrics_call_finished counts one finished call of |method| ("/pkg.Service/Method";
 * NULL for a path the server does not serve) with final status |code| (STATUS_*) after
 * |seconds|, and ends what metrics_call_started began. */
void metrics_call_finished(const char *method, int code, double seconds);

/* metrics_set_database makes the audit queue and the query cache part of every later
 * render (both NULL: no longer). Call it before calls are served and again with NULLs
 * before they are freed. */
void metrics_set_database(LOG_WRITER *log_writer, DB *db);

/* metrics_render returns the whole exposition text (NUL-terminated, length in
 * |*out_len|; free with free), with the worker figures of |pool| when it is not NULL
 * and smimed_build_info's |version|. Returns NULL when out of memory. */
char *metrics_render(WORKER_POOL *pool, const char *version, size_t *out_len);

/* metrics_check_addr checks that |addr| has the form HOST:PORT or [V6]:PORT, so that a
 * malformed --metrics-listen fails before anything slow starts. */
int metrics_check_addr(const char *addr, STATUS *err);

/* metrics_server_new binds and listens on |addr| (HOST:PORT; "127.0.0.1:9464",
 * "[::1]:9464", "0.0.0.0:9464") without serving yet, so that a port in use fails at
 * start-up. |version| is kept by reference. Returns NULL with |err| filled. */
METRICS_SERVER *metrics_server_new(const char *addr, const char *version, STATUS *err);

/* metrics_server_start starts the thread serving GET /metrics, reporting |pool|'s
 * figures (kept by reference; it must outlive the server). Start it after every fork:
 * it is a thread. */
int metrics_server_start(METRICS_SERVER *ms, WORKER_POOL *pool, STATUS *err);

/* metrics_server_free stops the thread (a scrape in progress is finished or cut after
 * its timeout), closes the socket and frees |ms|. Accepts NULL. */
void metrics_server_free(METRICS_SERVER *ms);

#endif /* SMIMED_FRONT_METRICS_H */
