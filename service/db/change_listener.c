/* change_listener.c: see change_listener.h. */
#include "service/db/change_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "service/common/log.h"
#include "service/db/db.h"

/* RECONNECT_MS is how often a lost listener tries again. */
#define RECONNECT_MS 1000

/* MAX_SYNCS bounds the sync markers waited for at once (one per concurrent admin
 * write); a caller beyond it does not wait. */
#define MAX_SYNCS 16

/* SYNC_PREFIX starts the payload of a sync marker on CHANGE_CHANNEL. */
#define SYNC_PREFIX "sync:"

typedef struct sync_slot_st {
  char token[17]; /* "" when free */
  unsigned acks;
} SYNC_SLOT;

struct change_listener_st {
  char *conninfo;
  QUERY_CACHE *cache;
  PGconn *conn; /* the listener thread's alone */
  int wake[2];  /* change_listener_stop writes to wake[1] */
  pthread_t thread;
  pthread_mutex_t mu; /* guards connected and syncs */
  pthread_cond_t acked;
  int connected;
  SYNC_SLOT syncs[MAX_SYNCS];
};

/* connect_and_listen opens a connection and LISTENs on both channels; NULL on failure. */
static PGconn *connect_and_listen(const char *conninfo) {
  PGconn *conn = db_connect_as(conninfo, CHANGE_LISTENER_APP);
  if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
    PQfinish(conn);
    return NULL;
  }
  /* SET application_name: a --database-url naming its own would otherwise win, and
   * change_listener_sync counts the listeners by this name. */
  PGresult *res = PQexec(conn, "SET application_name = '" CHANGE_LISTENER_APP "'; LISTEN "
                               CHANGE_CHANNEL "; LISTEN " CHANGE_ACK_CHANNEL);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok) {
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

static void set_connected(CHANGE_LISTENER *l, int connected) {
  pthread_mutex_lock(&l->mu);
  l->connected = connected;
  pthread_mutex_unlock(&l->mu);
}

/* count_ack adds one answer to the sync marker |token| if someone waits for it. */
static void count_ack(CHANGE_LISTENER *l, const char *token) {
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; i < MAX_SYNCS; i++) {
    if (l->syncs[i].token[0] != '\0' && strcmp(l->syncs[i].token, token) == 0) {
      l->syncs[i].acks++;
      pthread_cond_broadcast(&l->acked);
    }
  }
  pthread_mutex_unlock(&l->mu);
}

/* handle_notifications processes what libpq has queued: a change drops the cache (once
 * for them all), a sync marker is answered after that drop, an answer is counted.
 * Returns 0 when the connection failed. */
static int handle_notifications(CHANGE_LISTENER *l) {
  for (;;) {
    char tokens[MAX_SYNCS][17];
    size_t n_tokens = 0;
    int changed = 0;
    PGnotify *note;
    while ((note = PQnotifies(l->conn)) != NULL) {
      if (strcmp(note->relname, CHANGE_CHANNEL) == 0) {
        changed = 1;
        if (strncmp(note->extra, SYNC_PREFIX, strlen(SYNC_PREFIX)) == 0 && n_tokens < MAX_SYNCS) {
          snprintf(tokens[n_tokens++], sizeof(tokens[0]), "%s", note->extra + strlen(SYNC_PREFIX));
        }
      } else if (strcmp(note->relname, CHANGE_ACK_CHANNEL) == 0) {
        count_ack(l, note->extra);
      }
      PQfreemem(note);
    }
    if (!changed) {
      return 1;
    }
    query_cache_invalidate(l->cache);
    /* Answered after the drop: the writer then knows this replica forgot. Sending may
     * read more notifications into libpq's queue, hence the loop. */
    for (size_t i = 0; i < n_tokens; i++) {
      const char *params[1] = {tokens[i]};
      PGresult *res = PQexecParams(l->conn, "SELECT pg_notify('" CHANGE_ACK_CHANNEL "', $1)",
                                   1, NULL, params, NULL, NULL, 0);
      int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
      PQclear(res);
      if (!ok) {
        return 0;
      }
    }
  }
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

static void lost(CHANGE_LISTENER *l) {
  set_connected(l, 0);
  query_cache_set_enabled(l->cache, 0);
  log_warn("database: change listener lost its connection; query cache off until it "
           "reconnects");
  PQfinish(l->conn);
  l->conn = NULL;
}

static void *listener_main(void *arg) {
  CHANGE_LISTENER *l = arg;
  for (;;) {
    if (l->conn == NULL) {
      if (wait_readable(l, RECONNECT_MS) < 0) {
        break;
      }
      l->conn = connect_and_listen(l->conninfo);
      if (l->conn != NULL) {
        query_cache_set_enabled(l->cache, 1);
        set_connected(l, 1);
        log_info("database: change listener connected again; query cache on");
      }
      continue;
    }
    if (wait_readable(l, -1) < 0) {
      break;
    }
    if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK ||
        !handle_notifications(l)) {
      lost(l);
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
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->acked, NULL);
  if (pipe2(l->wake, O_CLOEXEC) != 0) {
    status_set(err, STATUS_INTERNAL, "change listener: pipe: %s", strerror(errno));
    goto err;
  }
  l->conn = connect_and_listen(conninfo);
  if (l->conn != NULL) {
    query_cache_set_enabled(cache, 1);
    l->connected = 1;
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
    goto err;
  }
  return l;

err:
  pthread_cond_destroy(&l->acked);
  pthread_mutex_destroy(&l->mu);
  free(l->conninfo);
  free(l);
  return NULL;
}

/* claim_slot reserves a slot for a fresh random token; NULL when all are taken. */
static SYNC_SLOT *claim_slot(CHANGE_LISTENER *l) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
    r = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&r;
  }
  SYNC_SLOT *slot = NULL;
  pthread_mutex_lock(&l->mu);
  for (size_t i = 0; l->connected && i < MAX_SYNCS && slot == NULL; i++) {
    if (l->syncs[i].token[0] == '\0') {
      slot = &l->syncs[i];
      snprintf(slot->token, sizeof(slot->token), "%016" PRIx64, r);
      slot->acks = 0;
    }
  }
  pthread_mutex_unlock(&l->mu);
  return slot;
}

int change_listener_sync(CHANGE_LISTENER *l, PGconn *conn, int timeout_ms) {
  SYNC_SLOT *slot = l != NULL ? claim_slot(l) : NULL;
  if (slot == NULL) {
    return 0;
  }
  /* The marker goes out after the caller's committed change, so each listener sees it
   * after the change; the count is of the listeners connected now. */
  const char *params[1] = {slot->token};
  PGresult *res = PQexecParams(conn,
                               "SELECT (SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = '" CHANGE_LISTENER_APP "' "
                               "AND datname = current_database()), "
                               "pg_notify('" CHANGE_CHANNEL "', '" SYNC_PREFIX "' || $1)",
                               1, NULL, params, NULL, NULL, 0);
  unsigned expected = 0;
  int ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
  if (ok) {
    expected = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
  } else {
    log_warn("database: cannot announce a change to the other replicas: %s",
             PQerrorMessage(conn));
  }
  PQclear(res);

  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&l->mu);
  while (ok && slot->acks < expected) {
    if (pthread_cond_timedwait(&l->acked, &l->mu, &deadline) == ETIMEDOUT) {
      log_warn("database: %u of %u replicas confirmed a change within %d ms; the others "
               "will drop their caches when its notification reaches them",
               slot->acks, expected, timeout_ms);
      ok = 0;
    }
  }
  slot->token[0] = '\0';
  pthread_mutex_unlock(&l->mu);
  return ok;
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
  pthread_cond_destroy(&l->acked);
  pthread_mutex_destroy(&l->mu);
  free(l->conninfo);
  free(l);
}
