/* metrics_unit_test: the counters and their text format, without a daemon: codes and
 * methods land on the right lines, histogram buckets are cumulative and end at +Inf,
 * unknown paths share one label, concurrent calls lose no count, and the HTTP thread
 * answers GET /metrics, 404 and 405. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "service/front/metrics.h"
#include "tests/ctest/check.h"

#define THREADS 8
#define CALLS_PER_THREAD 10000

static void *hammer(void *arg) {
  (void)arg;
  for (int i = 0; i < CALLS_PER_THREAD; i++) {
    metrics_call_started();
    metrics_call_finished("/t.S/Hammer", STATUS_OK, 0.0001);
  }
  return NULL;
}

/* has_line checks that |text| holds |line| as a whole line. */
static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line)) {
    if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
      return 1;
    }
  }
  return 0;
}

/* http_get sends |request| to 127.0.0.1:|port| and returns the whole answer. */
static char *http_get(int port, const char *request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  CHECK(write(fd, request, strlen(request)) == (ssize_t)strlen(request));
  size_t cap = 1 << 20, len = 0;
  char *out = malloc(cap);
  CHECK(out != NULL);
  ssize_t n;
  while ((n = read(fd, out + len, cap - 1 - len)) > 0) {
    len += (size_t)n;
  }
  out[len] = '\0';
  close(fd);
  return out;
}

/* free_port returns a port of 127.0.0.1 that was free a moment ago. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  close(fd);
  return ntohs(sa.sin_port);
}

int main(void) {
  STATUS err;
  size_t len = 0;

  metrics_call_started();
  metrics_call_finished("/smime.v1.SettingsService/GetSettings", STATUS_OK, 0.003);
  metrics_call_finished("/smime.v1.SettingsService/GetSettings", STATUS_OK, 0.2);
  metrics_call_finished("/smime.v1.SettingsService/GetSettings", STATUS_PERMISSION_DENIED,
                        45.0);
  metrics_call_finished(NULL, STATUS_UNIMPLEMENTED, 0.0);
  metrics_call_finished(NULL, STATUS_UNIMPLEMENTED, 0.0);
  char *text = metrics_render(NULL, "9.9.9", &len);
  CHECK(text != NULL && len == strlen(text));
  const char *want[] = {
      "# TYPE smimed_rpc_total counter",
      "smimed_rpc_total{method=\"smime.v1.SettingsService/GetSettings\",code=\"OK\"} 2",
      "smimed_rpc_total{method=\"smime.v1.SettingsService/GetSettings\","
      "code=\"PERMISSION_DENIED\"} 1",
      "smimed_rpc_total{method=\"unknown\",code=\"UNIMPLEMENTED\"} 2",
      "# TYPE smimed_rpc_duration_seconds histogram",
      "smimed_rpc_duration_seconds_bucket{method=\"smime.v1.SettingsService/GetSettings\","
      "le=\"0.001\"} 0",
      "smimed_rpc_duration_seconds_bucket{method=\"smime.v1.SettingsService/GetSettings\","
      "le=\"0.005\"} 1",
      "smimed_rpc_duration_seconds_bucket{method=\"smime.v1.SettingsService/GetSettings\","
      "le=\"0.25\"} 2",
      "smimed_rpc_duration_seconds_bucket{method=\"smime.v1.SettingsService/GetSettings\","
      "le=\"30.0\"} 2",
      "smimed_rpc_duration_seconds_bucket{method=\"smime.v1.SettingsService/GetSettings\","
      "le=\"+Inf\"} 3",
      "smimed_rpc_duration_seconds_count{method=\"smime.v1.SettingsService/GetSettings\"} 3",
      "smimed_rpc_duration_seconds_sum{method=\"smime.v1.SettingsService/GetSettings\"} "
      "45.203000",
      "smimed_rpc_in_flight 0",
      "smimed_build_info{version=\"9.9.9\"} 1",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    CHECK_MSG(has_line(text, want[i]), "missing line %s in:\n%s", want[i], text);
  }
  CHECK(strstr(text, "smimed_engines") == NULL); /* no pool: no worker lines */
  free(text);

  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) {
    CHECK(pthread_create(&threads[i], NULL, hammer, NULL) == 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
  }
  text = metrics_render(NULL, "9.9.9", &len);
  char line[256];
  snprintf(line, sizeof(line), "smimed_rpc_total{method=\"t.S/Hammer\",code=\"OK\"} %d",
           THREADS * CALLS_PER_THREAD);
  CHECK_MSG(has_line(text, line), "lost counts:\n%s", text);
  free(text);

  CHECK(!metrics_check_addr("9464", &err));
  CHECK(!metrics_check_addr("::1:9464", &err));
  CHECK(!metrics_check_addr("127.0.0.1:99999", &err));
  CHECK(metrics_check_addr("[::1]:9464", &err));
  CHECK(metrics_check_addr("0.0.0.0:9464", &err));

  int port = free_port();
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  METRICS_SERVER *ms = metrics_server_new(addr, "9.9.9", &err);
  CHECK_MSG(ms != NULL, "%s", err.message);
  CHECK(metrics_server_new(addr, "9.9.9", &err) == NULL); /* port in use: fails at once */
  CHECK(strstr(err.message, "cannot listen") != NULL);
  CHECK(metrics_server_start(ms, NULL, &err));
  char *resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK_MSG(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", resp);
  CHECK(strstr(resp, "Content-Type: text/plain; version=0.0.4") != NULL);
  CHECK(strstr(resp, "\nsmimed_rpc_in_flight 0\n") != NULL);
  free(resp);
  resp = http_get(port, "GET / HTTP/1.0\r\n\r\n");
  CHECK_MSG(strncmp(resp, "HTTP/1.1 404 ", 13) == 0, "%s", resp);
  free(resp);
  resp = http_get(port, "POST /metrics HTTP/1.0\r\n\r\n");
  CHECK_MSG(strncmp(resp, "HTTP/1.1 405 ", 13) == 0, "%s", resp);
  free(resp);
  metrics_server_free(ms);
  puts("metrics_unit_test: ok");
  return 0;
}
