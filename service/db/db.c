/* db.c: see db.h. */
#include "service/db/db.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/common/log.h"
#include "service/db/change_listener.h"
#include "service/db/migrations.h"
#include "service/db/prepared.h"
#include "service/db/query_cache.h"

/* DB_MAX_CONNECTIONS bounds the pool: PostgreSQL's own default max_connections is 100. */
#define DB_MAX_CONNECTIONS 512

/* The query cache's bounds: far above a helpdesk's working set (a result is a few KiB). */
#define DB_CACHE_MAX_ENTRIES 20000
#define DB_CACHE_MAX_BYTES (64u << 20)

typedef struct db_slot_st {
  PGconn *conn; /* NULL until first needed */
  int in_use;
  int broken; /* reset before the next use */
} DB_SLOT;

struct db_st {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* signalled when a slot is released */
  char *conninfo;
  unsigned n;
  DB_SLOT *slots;
  unsigned schema_version;
  QUERY_CACHE *cache;
  CHANGE_LISTENER *listener;
};

/* one_line copies |in| to |out| with newlines turned into "; " and trailing space
 * removed: libpq's messages end in newlines and may span lines, a STATUS is one line. */
static void one_line(const char *in, char *out, size_t out_len) {
  size_t j = 0;
  if (out_len == 0) {
    return;
  }
  for (size_t i = 0; in != NULL && in[i] != '\0' && j + 3 < out_len; i++) {
    if (in[i] == '\n') {
      if (in[i + 1] != '\0') {
        out[j++] = ';';
        out[j++] = ' ';
      }
    } else {
      out[j++] = in[i];
    }
  }
  while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == ';')) {
    j--;
  }
  out[j] = '\0';
}

/* notice_receiver replaces libpq's default, which prints every NOTICE on stderr
 * (e.g. "relation already exists, skipping" at each start): warnings go to our log,
 * notices are dropped. */
static void notice_receiver(void *arg, const PGresult *res) {
  const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  char msg[400];
  (void)arg;
  if (severity != NULL && strcmp(severity, "WARNING") == 0) {
    one_line(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), msg, sizeof(msg));
    log_warn("database: %s", msg);
  }
}

/* db_connect_as opens one connection. Our defaults come first so that the caller's
 * connection string (a "k=v" string or a postgresql:// URI, expanded from dbname) may
 * override them; client_encoding comes last because every string we exchange is UTF-8. */
PGconn *db_connect_as(const char *conninfo, const char *application_name) {
  const char *const keys[] = {"connect_timeout", "application_name", "dbname",
                              "client_encoding", NULL};
  const char *const values[] = {"5", application_name, conninfo, "UTF8", NULL};
  PGconn *conn = PQconnectdbParams(keys, values, 1);
  if (conn != NULL) {
    /* Kept across PQreset: the receiver belongs to the PGconn. */
    PQsetNoticeReceiver(conn, notice_receiver, NULL);
  }
  return conn;
}

/* unavailable fills |err| for a connection that could not be (re)established. */
static int unavailable(PGconn *conn, STATUS *err) {
  char msg[400];
  one_line(conn != NULL ? PQerrorMessage(conn) : "out of memory", msg, sizeof(msg));
  return status_set(err, STATUS_UNAVAILABLE, "database unavailable: %s", msg);
}

/* idle_conn_suspect reports whether an idle connection has input waiting. Nothing
 * should arrive on an idle connection we do not LISTEN on, so input means the server
 * sent a termination message or closed it (e.g. PostgreSQL restarted): resetting now
 * spares the next query a certain failure. */
static int idle_conn_suspect(PGconn *conn) {
  struct pollfd pfd;
  int fd = PQsocket(conn);
  if (fd < 0) {
    return 1;
  }
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  if (poll(&pfd, 1, 0) <= 0) {
    return 0;
  }
  return 1;
}

DB *db_open(const char *conninfo, unsigned connections, STATUS *err) {
  DB *db = NULL;
  int broken = 0;

  if (conninfo == NULL || connections < 1 || connections > DB_MAX_CONNECTIONS) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "database: %s", conninfo == NULL ? "no connection string"
                                                : "connections must be 1 to 512");
    return NULL;
  }
  db = calloc(1, sizeof(*db));
  if (db == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "database: out of memory");
    return NULL;
  }
  pthread_mutex_init(&db->mu, NULL);
  pthread_cond_init(&db->cv, NULL);
  db->n = connections;
  db->conninfo = strdup(conninfo);
  db->slots = calloc(connections, sizeof(DB_SLOT));
  if (db->conninfo == NULL || db->slots == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "database: out of memory");
    goto err;
  }

  /* One connection now, to fail early when the database is unreachable and to migrate;
   * the others open when the load first needs them. */
  db->slots[0].conn = db_connect_as(db->conninfo, "smimed");
  if (db->slots[0].conn == NULL || PQstatus(db->slots[0].conn) != CONNECTION_OK) {
    unavailable(db->slots[0].conn, err);
    goto err;
  }
  if (!migrations_apply(db->slots[0].conn, &db->schema_version, &broken, err)) {
    goto err;
  }
  db->cache = query_cache_new(DB_CACHE_MAX_ENTRIES, DB_CACHE_MAX_BYTES);
  if (db->cache == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "database: out of memory");
    goto err;
  }
  db->listener = change_listener_start(db->conninfo, db->cache, err);
  if (db->listener == NULL) {
    goto err;
  }
  return db;

err:
  db_close(db);
  return NULL;
}

void db_close(DB *db) {
  if (db == NULL) {
    return;
  }
  change_listener_stop(db->listener);
  query_cache_free(db->cache);
  for (unsigned i = 0; db->slots != NULL && i < db->n; i++) {
    if (db->slots[i].conn != NULL) {
      PQfinish(db->slots[i].conn);
    }
  }
  free(db->slots);
  free(db->conninfo);
  pthread_cond_destroy(&db->cv);
  pthread_mutex_destroy(&db->mu);
  free(db);
}

unsigned db_schema_version(DB *db) { return db->schema_version; }

/* cache_key lays out what identifies a query's result: the result format, the SQL, and
 * each parameter's format, length and bytes (lengths make the layout unambiguous). */
static unsigned char *cache_key(const char *sql, int n_params, const char *const *values,
                                const int *lengths, const int *formats, int result_format,
                                size_t *out_len) {
  size_t sql_len = strlen(sql);
  size_t len = 1 + sql_len + 1;
  for (int i = 0; i < n_params; i++) {
    int binary = formats != NULL && formats[i] == 1;
    len += 1 + sizeof(size_t) + (binary ? (size_t)lengths[i] : strlen(values[i]));
  }
  unsigned char *key = malloc(len);
  if (key == NULL) {
    return NULL;
  }
  unsigned char *p = key;
  *p++ = (unsigned char)result_format;
  memcpy(p, sql, sql_len + 1);
  p += sql_len + 1;
  for (int i = 0; i < n_params; i++) {
    int binary = formats != NULL && formats[i] == 1;
    size_t n = binary ? (size_t)lengths[i] : strlen(values[i]);
    *p++ = (unsigned char)binary;
    memcpy(p, &n, sizeof(n));
    p += sizeof(n);
    memcpy(p, values[i], n);
    p += n;
  }
  *out_len = len;
  return key;
}

/* slot_of finds |conn|'s slot, or NULL. */
static DB_SLOT *slot_of(DB *db, PGconn *conn) {
  for (unsigned i = 0; i < db->n; i++) {
    if (db->slots[i].conn == conn) {
      return &db->slots[i];
    }
  }
  return NULL;
}

/* exec_prepared runs |sql| as a statement prepared once per pooled connection
 * (prepared.h). A text that cannot be prepared (an error, or the connection's record
 * is full) runs as PQexecParams would, which reports the error. */
static PGresult *exec_prepared(DB *db, PGconn *conn, const char *sql, int n_params,
                               const char *const *values, const int *lengths,
                               const int *formats, int result_format) {
  char name[PREPARED_NAME_LEN];
  if (db == NULL || !prepared_now(conn, sql, n_params, name)) {
    return PQexecParams(conn, sql, n_params, NULL, values, lengths, formats, result_format);
  }
  return PQexecPrepared(conn, name, n_params, values, lengths, formats, result_format);
}

PGresult *db_exec_cached(DB *db, PGconn *conn, const char *sql, int n_params,
                         const char *const *values, const int *lengths, const int *formats,
                         int result_format) {
  /* Inside a transaction a query may see the caller's own uncommitted writes: neither
   * served from nor stored in the cache. NULL values (SQL NULL) are not cached either. */
  int cacheable = db != NULL && PQtransactionStatus(conn) == PQTRANS_IDLE;
  for (int i = 0; cacheable && i < n_params; i++) {
    cacheable = values[i] != NULL;
  }
  size_t key_len = 0;
  unsigned char *key =
      cacheable ? cache_key(sql, n_params, values, lengths, formats, result_format, &key_len)
                : NULL;
  uint64_t generation = 0;
  PGresult *res = key != NULL ? query_cache_get(db->cache, key, key_len, &generation) : NULL;
  if (res == NULL) {
    res = exec_prepared(db, conn, sql, n_params, values, lengths, formats, result_format);
    if (key != NULL && res != NULL) {
      query_cache_put(db->cache, key, key_len, generation, res);
    }
  }
  free(key);
  return res;
}

/* DB_SYNC_TIMEOUT_MS bounds how long a change waits for the other replicas to drop
 * their caches (a hung replica must not hang admin calls). */
#define DB_SYNC_TIMEOUT_MS 3000

void db_note_change(DB *db, PGconn *conn) {
  query_cache_invalidate(db->cache);
  STATUS err;
  PGconn *own = conn == NULL ? db_acquire(db, &err) : NULL;
  if (conn == NULL && own == NULL) {
    log_warn("database: cannot announce a change to the other replicas: %s", err.message);
    return;
  }
  change_listener_sync(db->listener, conn != NULL ? conn : own, DB_SYNC_TIMEOUT_MS);
  db_release(db, own, 0);
}

void db_cache_stats(DB *db, QUERY_CACHE_STATS *out) { query_cache_stats(db->cache, out); }

/* release_slot marks |slot| free and wakes one waiter. */
static void release_slot(DB *db, DB_SLOT *slot, int broken) {
  pthread_mutex_lock(&db->mu);
  slot->in_use = 0;
  if (broken) {
    slot->broken = 1;
  }
  pthread_cond_signal(&db->cv);
  pthread_mutex_unlock(&db->mu);
}

PGconn *db_acquire(DB *db, STATUS *err) {
  DB_SLOT *slot = NULL;

  pthread_mutex_lock(&db->mu);
  for (;;) {
    /* Prefer an open, healthy connection; else any free slot (to open or reset). */
    for (unsigned i = 0; i < db->n; i++) {
      DB_SLOT *s = &db->slots[i];
      if (s->in_use) {
        continue;
      }
      if (s->conn != NULL && !s->broken) {
        slot = s;
        break;
      }
      if (slot == NULL) {
        slot = s;
      }
    }
    if (slot != NULL) {
      break;
    }
    pthread_cond_wait(&db->cv, &db->mu);
  }
  slot->in_use = 1;
  pthread_mutex_unlock(&db->mu);

  /* Connecting and resetting happen outside the lock: they may take connect_timeout. */
  if (slot->conn == NULL) {
    slot->conn = db_connect_as(db->conninfo, "smimed");
    if (slot->conn == NULL || PQstatus(slot->conn) != CONNECTION_OK) {
      unavailable(slot->conn, err);
      if (slot->conn != NULL) {
        PQfinish(slot->conn);
        slot->conn = NULL;
      }
      release_slot(db, slot, 0);
      return NULL;
    }
  } else if (slot->broken || PQstatus(slot->conn) != CONNECTION_OK ||
             idle_conn_suspect(slot->conn)) {
    PQreset(slot->conn);
    if (PQstatus(slot->conn) != CONNECTION_OK) {
      unavailable(slot->conn, err);
      release_slot(db, slot, 1);
      return NULL;
    }
    log_info("database: reconnected");
  }
  slot->broken = 0;
  return slot->conn;
}

void db_release(DB *db, PGconn *conn, int broken) {
  if (conn == NULL) {
    return;
  }
  DB_SLOT *slot = slot_of(db, conn);
  if (slot == NULL) {
    log_error("database: db_release of a connection not from this pool");
    return;
  }
  if (!broken) {
    /* A connection goes back idle: a transaction a caller left open (an error path)
     * is rolled back here rather than leaking into the next caller's work. */
    PGTransactionStatusType ts = PQtransactionStatus(conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
      PGresult *res = PQexec(conn, "ROLLBACK");
      if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        broken = 1;
      }
      PQclear(res);
    } else if (ts != PQTRANS_IDLE) {
      broken = 1;
    }
  }
  release_slot(db, slot, broken);
}

int db_result_status(PGconn *conn, const PGresult *res, const char *what, int *out_broken,
                     STATUS *err) {
  const char *sqlstate = NULL;
  const char *primary = NULL;
  char msg[400];
  int code = STATUS_INTERNAL;
  int broken = conn == NULL || PQstatus(conn) != CONNECTION_OK;

  if (res != NULL) {
    sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  }
  if (primary != NULL && primary[0] != '\0') {
    one_line(primary, msg, sizeof(msg));
  } else if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
                             PQresultStatus(res) == PGRES_COMMAND_OK)) {
    /* The command worked but the caller did not get the rows it expected. */
    snprintf(msg, sizeof(msg), "unexpected answer from the database (%d rows)",
             PQntuples(res));
  } else {
    one_line(conn != NULL ? PQerrorMessage(conn) : "no connection", msg, sizeof(msg));
  }

  if (sqlstate != NULL && strlen(sqlstate) == 5) {
    if (strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
        strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0) {
      /* Connection exceptions, and the server shutting down or starting up: the
       * connection will not work again as is. */
      broken = 1;
    } else if (strcmp(sqlstate, "23505") == 0) {
      code = STATUS_ALREADY_EXISTS;
    } else if (strncmp(sqlstate, "22", 2) == 0) {
      code = STATUS_INVALID_ARGUMENT;
    } else if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0) {
      code = STATUS_ABORTED;
    } else if (strcmp(sqlstate, "57014") == 0) {
      code = STATUS_DEADLINE_EXCEEDED;
    }
  }
  if (broken) {
    code = STATUS_UNAVAILABLE;
  }
  if (out_broken != NULL) {
    *out_broken = broken;
  }
  if (code == STATUS_UNAVAILABLE) {
    return status_set(err, code, "database unavailable: %s: %s", what, msg);
  }
  return status_set(err, code, "%s: %s", what, msg);
}

int db_exec(PGconn *conn, const char *sql, int *out_broken, STATUS *err) {
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

  if (out_broken != NULL) {
    *out_broken = 0;
  }
  if (!ok) {
    db_result_status(conn, res, sql, out_broken, err);
  }
  PQclear(res);
  return ok;
}

int db_ping(DB *db, STATUS *err) {
  int broken = 0;
  int ok;
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  ok = db_exec(conn, "SELECT 1", &broken, err);
  db_release(db, conn, broken);
  return ok;
}

/* KEK_CHECK_MAX bounds the check value: hex of 8 bytes is 16 characters. */
#define KEK_CHECK_MAX 128

int db_check_kek(DB *db, const char *kek_check_value, STATUS *err) {
  int ret = 0;
  int broken = 0;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  const char *params[1];
  const char *stored;

  if (kek_check_value == NULL || kek_check_value[0] == '\0' ||
      strlen(kek_check_value) > KEK_CHECK_MAX) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "key-encryption key check value missing or too long");
  }
  conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  /* One statement: the insert happens only on first start, and the outer SELECT does
   * not see the CTE's insert, so exactly one row comes back either way, even when
   * replicas start together. */
  params[0] = kek_check_value;
  res = PQexecParams(conn,
                     "WITH ins AS (INSERT INTO key_encryption_key (check_value) VALUES ($1)"
                     " ON CONFLICT (singleton) DO NOTHING RETURNING check_value)"
                     " SELECT check_value FROM ins"
                     " UNION ALL SELECT check_value FROM key_encryption_key",
                     1, NULL, params, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "checking the key-encryption key", &broken, err);
    goto out;
  }
  stored = PQgetvalue(res, 0, 0);
  if (strcasecmp(stored, kek_check_value) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "the database was set up with another key-encryption key (check value "
               "%s; this one's is %s): its private keys would not open. Start smimed "
               "with the key-encryption key file this database was set up with",
               stored, kek_check_value);
    goto out;
  }
  ret = 1;

out:
  PQclear(res);
  db_release(db, conn, broken);
  return ret;
}
