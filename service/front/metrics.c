/* metrics.c: see metrics.h.
 *
 * One mutex guards all counters: a call takes it once, for a few additions, which costs
 * nothing next to a call's PostgreSQL and worker round trips. The HTTP side is minimal
 * on purpose: one thread, one connection at a time, GET (or HEAD) /metrics, a bounded
 * request, a receive/send timeout, Connection: close. */
#include "service/front/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "service/common/log.h"

/* kBuckets are the histogram's upper bounds in seconds: from a cached GetSettings
 * (about a millisecond) to a large SignEncrypt near the worker timeout. */
static const double kBuckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                  0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};
#define N_BUCKETS (sizeof(kBuckets) / sizeof(kBuckets[0]))
#define N_CODES 17 /* STATUS_OK .. STATUS_UNAUTHENTICATED */

/* METHOD_STATS is one method label's counters; |buckets| are not cumulative here (the
 * text output sums them), the last one is +Inf. */
typedef struct method_stats_st {
  char name[128];
  uint64_t by_code[N_CODES];
  uint64_t buckets[N_BUCKETS + 1];
  uint64_t count;
  double sum;
} METHOD_STATS;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static METHOD_STATS g_methods[METRICS_MAX_METHODS + 1]; /* the last: "unknown" */
static size_t g_n_methods;
static int64_t g_in_flight;
static time_t g_start_time;

void metrics_call_started(void) {
  pthread_mutex_lock(&g_mu);
  g_in_flight++;
  pthread_mutex_unlock(&g_mu);
}

/* find_method_locked returns |method|'s entry, adding it while there is room; the
 * "unknown" entry otherwise. Call with g_mu held. */
static METHOD_STATS *find_method_locked(const char *method) {
  METHOD_STATS *unknown = &g_methods[METRICS_MAX_METHODS];
  if (unknown->name[0] == '\0') {
    snprintf(unknown->name, sizeof(unknown->name), "unknown");
  }
  if (method == NULL) {
    return unknown;
  }
  if (method[0] == '/') {
    method++;
  }
  for (size_t i = 0; i < g_n_methods; i++) {
    if (strcmp(g_methods[i].name, method) == 0) {
      return &g_methods[i];
    }
  }
  if (g_n_methods == METRICS_MAX_METHODS || strlen(method) >= sizeof(unknown->name)) {
    return unknown;
  }
  METHOD_STATS *m = &g_methods[g_n_methods++];
  snprintf(m->name, sizeof(m->name), "%s", method);
  return m;
}

void metrics_call_finished(const char *method, int code, double seconds) {
  if (code < 0 || code >= N_CODES) {
    code = STATUS_UNKNOWN;
  }
  if (seconds < 0) {
    seconds = 0;
  }
  size_t b = 0;
  while (b < N_BUCKETS && seconds > kBuckets[b]) {
    b++;
  }
  pthread_mutex_lock(&g_mu);
  METHOD_STATS *m = find_method_locked(method);
  m->by_code[code]++;
  m->buckets[b]++;
  m->count++;
  m->sum += seconds;
  if (g_in_flight > 0) {
    g_in_flight--;
  }
  pthread_mutex_unlock(&g_mu);
}

/* TEXT is a growing output buffer; |failed| sticks after an allocation failure. */
typedef struct text_st {
  char *data;
  size_t len, cap;
  int failed;
} TEXT;

static void text_printf(TEXT *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(TEXT *t, const char *fmt, ...) {
  if (t->failed) {
    return;
  }
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap * 2 + (size_t)n + 1;
    char *p = realloc(t->data, cap);
    if (p == NULL) {
      t->failed = 1;
      return;
    }
    t->data = p;
    t->cap = cap;
  }
}

/* format_le writes a bucket bound as Prometheus clients do ("0.005", "1.0", "30.0"). */
static void format_le(char *out, size_t out_len, double le) {
  snprintf(out, out_len, "%g", le);
  if (strchr(out, '.') == NULL && strchr(out, 'e') == NULL) {
    snprintf(out + strlen(out), out_len - strlen(out), ".0");
  }
}

/* g_log_writer and g_db: metrics_set_database's, read by the metrics thread. */
static LOG_WRITER *g_log_writer;
static DB *g_db;

void metrics_set_database(LOG_WRITER *log_writer, DB *db) {
  __atomic_store_n(&g_log_writer, log_writer, __ATOMIC_RELEASE);
  __atomic_store_n(&g_db, db, __ATOMIC_RELEASE);
}

/* render_database appends the audit queue and query cache figures to |t|. */
static void render_database(TEXT *t) {
  LOG_WRITER *w = __atomic_load_n(&g_log_writer, __ATOMIC_ACQUIRE);
  DB *db = __atomic_load_n(&g_db, __ATOMIC_ACQUIRE);
  if (w != NULL) {
    text_printf(t, "# HELP smimed_audit_queue_depth Audit entries queued or being committed "
                   "(group commit).\n"
                   "# TYPE smimed_audit_queue_depth gauge\n"
                   "smimed_audit_queue_depth %zu\n",
                log_writer_depth(w));
  }
  if (db != NULL) {
    QUERY_CACHE_STATS cs;
    db_cache_stats(db, &cs);
    text_printf(t, "# HELP smimed_query_cache_hits_total Reads answered from the query cache.\n"
                   "# TYPE smimed_query_cache_hits_total counter\n"
                   "smimed_query_cache_hits_total %llu\n"
                   "# HELP smimed_query_cache_misses_total Cacheable reads sent to PostgreSQL.\n"
                   "# TYPE smimed_query_cache_misses_total counter\n"
                   "smimed_query_cache_misses_total %llu\n"
                   "# HELP smimed_query_cache_invalidations_total Times a change emptied the "
                   "cache.\n"
                   "# TYPE smimed_query_cache_invalidations_total counter\n"
                   "smimed_query_cache_invalidations_total %llu\n"
                   "# HELP smimed_query_cache_entries Results held by the query cache.\n"
                   "# TYPE smimed_query_cache_entries gauge\n"
                   "smimed_query_cache_entries %zu\n"
                   "# HELP smimed_query_cache_enabled 1 while the change listener is "
                   "connected (the cache is off otherwise).\n"
                   "# TYPE smimed_query_cache_enabled gauge\n"
                   "smimed_query_cache_enabled %d\n",
                (unsigned long long)cs.hits, (unsigned long long)cs.misses,
                (unsigned long long)cs.invalidations, cs.entries, cs.enabled);
  }
}

char *metrics_render(WORKER_POOL *pool, const char *version, size_t *out_len) {
  TEXT t = {.data = malloc(4096), .len = 0, .cap = 4096, .failed = 0};
  METHOD_STATS *snap = NULL;
  size_t n = 0;
  int64_t in_flight = 0;
  time_t started = 0;
  *out_len = 0;
  if (t.data == NULL) {
    goto err;
  }
  t.data[0] = '\0';
  /* Copy under the lock, format without it: a scrape never delays a call for long. */
  snap = malloc(sizeof(g_methods));
  if (snap == NULL) {
    goto err;
  }
  pthread_mutex_lock(&g_mu);
  for (size_t i = 0; i < g_n_methods; i++) {
    snap[n++] = g_methods[i];
  }
  if (g_methods[METRICS_MAX_METHODS].count > 0) {
    snap[n++] = g_methods[METRICS_MAX_METHODS];
  }
  in_flight = g_in_flight;
  started = g_start_time;
  pthread_mutex_unlock(&g_mu);

  text_printf(&t, "# HELP smimed_rpc_total gRPC calls finished, by method and status code.\n"
                  "# TYPE smimed_rpc_total counter\n");
  for (size_t i = 0; i < n; i++) {
    for (int c = 0; c < N_CODES; c++) {
      if (snap[i].by_code[c] > 0) {
        text_printf(&t, "smimed_rpc_total{method=\"%s\",code=\"%s\"} %llu\n", snap[i].name,
                    status_code_name(c), (unsigned long long)snap[i].by_code[c]);
      }
    }
  }
  text_printf(&t, "# HELP smimed_rpc_duration_seconds Time from a call's arrival to its "
                  "answer being ready to send.\n"
                  "# TYPE smimed_rpc_duration_seconds histogram\n");
  for (size_t i = 0; i < n; i++) {
    uint64_t cumulative = 0;
    char le[32];
    for (size_t b = 0; b < N_BUCKETS; b++) {
      cumulative += snap[i].buckets[b];
      format_le(le, sizeof(le), kBuckets[b]);
      text_printf(&t, "smimed_rpc_duration_seconds_bucket{method=\"%s\",le=\"%s\"} %llu\n",
                  snap[i].name, le, (unsigned long long)cumulative);
    }
    text_printf(&t, "smimed_rpc_duration_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n",
                snap[i].name, (unsigned long long)snap[i].count);
    text_printf(&t, "smimed_rpc_duration_seconds_sum{method=\"%s\"} %.6f\n", snap[i].name,
                snap[i].sum);
    text_printf(&t, "smimed_rpc_duration_seconds_count{method=\"%s\"} %llu\n", snap[i].name,
                (unsigned long long)snap[i].count);
  }
  text_printf(&t, "# HELP smimed_rpc_in_flight gRPC calls being handled now.\n"
                  "# TYPE smimed_rpc_in_flight gauge\n"
                  "smimed_rpc_in_flight %lld\n",
              (long long)in_flight);
  if (pool != NULL) {
    WORKER_POOL_STATS ws;
    worker_pool_stats(pool, &ws);
    text_printf(&t, "# HELP smimed_engines Engine worker processes configured.\n"
                    "# TYPE smimed_engines gauge\n"
                    "smimed_engines %u\n",
                ws.engines);
    text_printf(&t, "# HELP smimed_worker_restarts_total Worker processes that died or hung "
                    "and were replaced.\n"
                    "# TYPE smimed_worker_restarts_total counter\n"
                    "smimed_worker_restarts_total{worker=\"engine\"} %u\n"
                    "smimed_worker_restarts_total{worker=\"keystore\"} %u\n",
                ws.engine_restarts, ws.keystore_restarts);
    text_printf(&t, "# HELP smimed_worker_requests_total Requests sent to worker processes.\n"
                    "# TYPE smimed_worker_requests_total counter\n"
                    "smimed_worker_requests_total{worker=\"engine\"} %llu\n"
                    "smimed_worker_requests_total{worker=\"keystore\"} %llu\n",
                (unsigned long long)ws.engine_requests,
                (unsigned long long)ws.keystore_requests);
  }
  render_database(&t);
  text_printf(&t, "# HELP smimed_build_info The running smimed's version.\n"
                  "# TYPE smimed_build_info gauge\n"
                  "smimed_build_info{version=\"%s\"} 1\n",
              version != NULL ? version : "");
  if (started != 0) {
    text_printf(&t, "# HELP smimed_process_start_time_seconds Start time of the daemon since "
                    "the Unix epoch.\n"
                    "# TYPE smimed_process_start_time_seconds gauge\n"
                    "smimed_process_start_time_seconds %lld\n",
                (long long)started);
  }
  if (t.failed) {
    goto err;
  }
  free(snap);
  *out_len = t.len;
  return t.data;

err:
  free(snap);
  free(t.data);
  return NULL;
}

/* split_addr splits "HOST:PORT" or "[V6]:PORT" into |host| and |port|. */
static int split_addr(const char *addr, char *host, size_t host_len, char *port,
                      size_t port_len) {
  const char *colon = strrchr(addr, ':');
  if (colon == NULL || colon == addr || colon[1] == '\0') {
    return 0;
  }
  const char *h = addr;
  size_t hl = (size_t)(colon - addr);
  if (h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']') {
      return 0;
    }
    h++;
    hl -= 2;
  } else if (memchr(h, ':', hl) != NULL) {
    return 0; /* a bare IPv6 address: its port would be ambiguous */
  }
  const char *p = colon + 1;
  if (strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || atoi(p) > 65535 ||
      hl >= host_len || strlen(p) >= port_len) {
    return 0;
  }
  memcpy(host, h, hl);
  host[hl] = '\0';
  snprintf(port, port_len, "%s", p);
  return 1;
}

int metrics_check_addr(const char *addr, STATUS *err) {
  char host[256], port[8];
  if (!split_addr(addr, host, sizeof(host), port, sizeof(port))) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "--metrics-listen must be HOST:PORT or [IPV6]:PORT (e.g. "
                      "127.0.0.1:9464), not \"%s\"",
                      addr);
  }
  return 1;
}

struct metrics_server_st {
  int listen_fd;
  int stop_pipe[2]; /* metrics_server_free writes one byte to stop the thread */
  pthread_t thread;
  int started;
  WORKER_POOL *pool;
  const char *version;
};

METRICS_SERVER *metrics_server_new(const char *addr, const char *version, STATUS *err) {
  char host[256], port[8];
  struct addrinfo hints, *res = NULL;
  METRICS_SERVER *ms = NULL;
  if (!metrics_check_addr(addr, err)) {
    goto err;
  }
  split_addr(addr, host, sizeof(host), port, sizeof(port));
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
  if (rc != 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "--metrics-listen %s: %s", addr, gai_strerror(rc));
    goto err;
  }
  ms = calloc(1, sizeof(METRICS_SERVER));
  if (ms == NULL) {
    status_set(err, STATUS_INTERNAL, "out of memory");
    goto err;
  }
  ms->listen_fd = -1;
  ms->stop_pipe[0] = ms->stop_pipe[1] = -1;
  ms->version = version;
  ms->listen_fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (ms->listen_fd < 0 ||
      setsockopt(ms->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(ms->listen_fd, res->ai_addr, res->ai_addrlen) != 0 || listen(ms->listen_fd, 16) != 0) {
    status_set(err, STATUS_UNAVAILABLE, "--metrics-listen %s: cannot listen: %s", addr,
               strerror(errno));
    goto err;
  }
  if (pipe2(ms->stop_pipe, O_CLOEXEC) != 0) {
    status_set(err, STATUS_INTERNAL, "pipe: %s", strerror(errno));
    goto err;
  }
  freeaddrinfo(res);
  pthread_mutex_lock(&g_mu);
  if (g_start_time == 0) {
    g_start_time = time(NULL);
  }
  pthread_mutex_unlock(&g_mu);
  return ms;

err:
  if (res != NULL) {
    freeaddrinfo(res);
  }
  metrics_server_free(ms);
  return NULL;
}

/* write_all sends |len| bytes of |p| (the socket has a send timeout). */
static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return 0;
    }
    p += n;
    len -= (size_t)n;
  }
  return 1;
}

/* REQUEST_MAX bounds a scrape's request head: scrapers send a few hundred bytes. */
#define REQUEST_MAX 8192

/* serve_one reads one request head from |fd| and answers it. */
static void serve_one(METRICS_SERVER *ms, int fd) {
  char req[REQUEST_MAX + 1];
  size_t len = 0;
  char head[256];
  char *body = NULL;
  size_t body_len = 0;
  const char *status = "200 OK";
  const char *type = "text/plain; version=0.0.4; charset=utf-8";
  const char *fixed = NULL;
  int head_only = 0;

  /* A scraper that connects and stays silent is cut after 5 s: it must not hold the
   * single serving thread. */
  struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  for (;;) {
    ssize_t n = recv(fd, req + len, REQUEST_MAX - len, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      goto out;
    }
    len += (size_t)n;
    req[len] = '\0';
    if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL) {
      break;
    }
    if (len == REQUEST_MAX) {
      status = "431 Request Header Fields Too Large";
      fixed = "request too large\n";
      goto answer;
    }
  }
  if (strncmp(req, "GET ", 4) == 0) {
    head_only = 0;
  } else if (strncmp(req, "HEAD ", 5) == 0) {
    head_only = 1;
  } else {
    status = "405 Method Not Allowed";
    fixed = "only GET /metrics is served here\n";
    goto answer;
  }
  const char *path = req + (head_only ? 5 : 4);
  size_t path_len = strcspn(path, " ?\r\n");
  if (!(path_len == 8 && strncmp(path, "/metrics", 8) == 0)) {
    status = "404 Not Found";
    fixed = "not found: the metrics are at /metrics\n";
    goto answer;
  }
  body = metrics_render(ms->pool, ms->version, &body_len);
  if (body == NULL) {
    status = "500 Internal Server Error";
    fixed = "out of memory\n";
  }

answer:
  if (fixed != NULL) {
    type = "text/plain; charset=utf-8";
    body_len = strlen(fixed);
  }
  snprintf(head, sizeof(head),
           "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           status, type, body_len);
  if (write_all(fd, head, strlen(head)) && !head_only) {
    write_all(fd, fixed != NULL ? fixed : body, body_len);
  }

out:
  free(body);
}

static void *metrics_thread(void *arg) {
  METRICS_SERVER *ms = arg;
  for (;;) {
    struct pollfd fds[2] = {{.fd = ms->listen_fd, .events = POLLIN},
                            {.fd = ms->stop_pipe[0], .events = POLLIN}};
    int n = poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 || fds[1].revents != 0) {
      break;
    }
    if (fds[0].revents == 0) {
      continue;
    }
    int fd = accept4(ms->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      continue; /* e.g. the client went away already; EMFILE clears as calls end */
    }
    serve_one(ms, fd);
    close(fd);
  }
  return NULL;
}

int metrics_server_start(METRICS_SERVER *ms, WORKER_POOL *pool, STATUS *err) {
  ms->pool = pool;
  int rc = pthread_create(&ms->thread, NULL, metrics_thread, ms);
  if (rc != 0) {
    return status_set(err, STATUS_INTERNAL, "cannot start the metrics thread: %s", strerror(rc));
  }
  ms->started = 1;
  return 1;
}

void metrics_server_free(METRICS_SERVER *ms) {
  if (ms == NULL) {
    return;
  }
  if (ms->started) {
    char b = 0;
    ssize_t n;
    do {
      n = write(ms->stop_pipe[1], &b, 1);
    } while (n < 0 && errno == EINTR);
    pthread_join(ms->thread, NULL);
  }
  if (ms->listen_fd >= 0) {
    close(ms->listen_fd);
  }
  if (ms->stop_pipe[0] >= 0) {
    close(ms->stop_pipe[0]);
  }
  if (ms->stop_pipe[1] >= 0) {
    close(ms->stop_pipe[1]);
  }
  free(ms);
}
