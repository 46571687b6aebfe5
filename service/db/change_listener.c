/* change_listener.c: see change_listener.h. */
#include "service/db/change_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/common/log.h"

/* RECONNECT_MS is how often a lost listener tries again. */
#define RECONNECT_MS 1000

struct change_listener_st {
  char *conninfo;
  QUERY_CACHE *cache;
  PGconn *conn;
  int wake[2]; /* change_listener_stop writes to wake[1] */
  pthread_t thread;
};

/* connect_and_listen opens a connection and LISTENs; NULL (logged once per outage by
 * the caller) on failure. */
static PGconn *connect_and_listen(const char *conninfo) {
  const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                              "client_encoding", NULL};
  const char *const values[] = {"5", "smimed-listener", conninfo, "UTF8", NULL};
  PGconn *conn = PQconnectdbParams(keys, values, 1);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
    PQfinish(conn);
    return NULL;
  }
  PGresult *res = PQexec(conn, "LISTEN " CHANGE_CHANNEL);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

/* drain reads what arrived; returns the number of notifications, or -1 when the
 * connection is lost. */
static int drain(PGconn *conn) {
  int n = 0;
  if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
    return -1;
  }
  PGnotify *note;
  while ((note = PQnotifies(conn)) != NULL) {
    n++;
    PQfreemem(note);
  }
  return n;
}

/* wait_readable polls the connection (or, with none, only the wake pipe) for up to
 * |ms|. Returns 1 when the connection has input, 0 on timeout, -1 when stopped. */
static int wait_readable(CHANGE_LISTENER *l, int ms) {
  struct pollfd p[2] = {{.fd = l->wake[0], .events = POLLIN},
                        {.fd = l->conn != NULL ? PQsocket(l->conn) : -1, .events = POLLIN}};
  int rc = poll(p, 2, ms);
  if (rc < 0) {
    return errno == EINTR ? 0 : -1;
  }
  if (p[0].revents != 0) {
    return -1;
  }
  return p[1].revents != 0 ? 1 : 0;
}

static void *listener_main(void *arg) {
  CHANGE_LISTENER *l = arg;
  for (;;) {
    if (l->conn == NULL) {
      int w = wait_readable(l, RECONNECT_MS);
      if (w < 0) {
        break;
      }
      l->conn = connect_and_listen(l->conninfo);
      if (l->conn != NULL) {
        query_cache_set_enabled(l->cache, 1);
        log_info("database: change listener connected again; query cache on");
      }
      continue;
    }
    int w = wait_readable(l, -1);
    if (w < 0) {
      break;
    }
    int n = drain(l->conn);
    if (n > 0) {
      query_cache_invalidate(l->cache);
    } else if (n < 0) {
      query_cache_set_enabled(l->cache, 0);
      log_warn("database: change listener lost its connection; query cache off until it "
               "reconnects");
      PQfinish(l->conn);
      l->conn = NULL;
    }
  }
  return NULL;
}

CHANGE_LISTENER *change_listener_start(const char *conninfo, QUERY_CACHE *cache,
                                       STATUS *err) {
  CHANGE_LISTENER *l = calloc(1, sizeof(*l));
  if (l == NULL || (l->conninfo = strdup(conninfo)) == NULL) {
    free(l);
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "change listener: out of memory");
    return NULL;
  }
  l->cache = cache;
  if (pipe2(l->wake, O_CLOEXEC) != 0) {
    status_set(err, STATUS_INTERNAL, "change listener: pipe: %s", strerror(errno));
    free(l->conninfo);
    free(l);
    return NULL;
  }
  l->conn = connect_and_listen(conninfo);
  if (l->conn != NULL) {
    query_cache_set_enabled(cache, 1);
  } else {
    log_warn("database: change listener cannot connect yet; query cache off until it does");
  }
  int rc = pthread_create(&l->thread, NULL, listener_main, l);
  if (rc != 0) {
    status_set(err, STATUS_INTERNAL, "change listener: pthread_create: %s", strerror(rc));
    query_cache_set_enabled(cache, 0);
    PQfinish(l->conn);
    close(l->wake[0]);
    close(l->wake[1]);
    free(l->conninfo);
    free(l);
    return NULL;
  }
  return l;
}

void change_listener_stop(CHANGE_LISTENER *l) {
  if (l == NULL) {
    return;
  }
  char b = 1;
  if (write(l->wake[1], &b, 1) != 1) {
    log_warn("change listener: cannot wake its thread: %s", strerror(errno));
  }
  pthread_join(l->thread, NULL);
  query_cache_set_enabled(l->cache, 0);
  PQfinish(l->conn);
  close(l->wake[0]);
  close(l->wake[1]);
  free(l->conninfo);
  free(l);
}
