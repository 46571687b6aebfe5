/* prepared.c: see prepared.h. */
#include "service/db/prepared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-events.h>

/* RECORD is what one connection has prepared: statement "smimed_<i>" is |sql[i]|, or
 * |sql[i]| was refused when |ready[i]| is 0; |later| are the texts to prepare after
 * the current pipeline. Texts are copies: callers' strings need not outlive them. */
typedef struct record_st {
  char *sql[PREPARED_MAX];
  int ready[PREPARED_MAX];
  size_t n;
  char *later[PREPARED_MAX];
  int later_params[PREPARED_MAX];
  size_t n_later;
} RECORD;

static void record_clear(RECORD *r) {
  for (size_t i = 0; i < r->n; i++) {
    free(r->sql[i]);
  }
  for (size_t i = 0; i < r->n_later; i++) {
    free(r->later[i]);
  }
  memset(r, 0, sizeof(*r));
}

static int record_event(PGEventId id, void *info, void *pass) {
  (void)pass;
  if (id == PGEVT_CONNRESET) {
    RECORD *r = PQinstanceData(((PGEventConnReset *)info)->conn, record_event);
    if (r != NULL) {
      record_clear(r);
    }
  } else if (id == PGEVT_CONNDESTROY) {
    RECORD *r = PQinstanceData(((PGEventConnDestroy *)info)->conn, record_event);
    if (r != NULL) {
      record_clear(r);
      free(r);
    }
  }
  return 1;
}

/* record_of returns |conn|'s record, made on first use; NULL if it cannot be (every
 * text is then sent as text). */
static RECORD *record_of(PGconn *conn) {
  RECORD *r = PQinstanceData(conn, record_event);
  if (r != NULL) {
    return r;
  }
  if (!PQregisterEventProc(conn, record_event, "smimed prepared statements", NULL) ||
      (r = calloc(1, sizeof(*r))) == NULL) {
    return NULL;
  }
  if (!PQsetInstanceData(conn, record_event, r)) {
    free(r);
    return NULL;
  }
  return r;
}

/* find returns the index of |sql| in |r|, or r->n. */
static size_t find(const RECORD *r, const char *sql) {
  size_t i = 0;
  while (i < r->n && r->sql[i] != sql && strcmp(r->sql[i], sql) != 0) {
    i++;
  }
  return i;
}

int prepared_name(PGconn *conn, const char *sql, char name[PREPARED_NAME_LEN]) {
  RECORD *r = record_of(conn);
  size_t i = r != NULL ? find(r, sql) : 0;
  if (r == NULL || i == r->n || !r->ready[i]) {
    return 0;
  }
  snprintf(name, PREPARED_NAME_LEN, "smimed_%zu", i);
  return 1;
}

int prepared_now(PGconn *conn, const char *sql, int n_params, char name[PREPARED_NAME_LEN]) {
  RECORD *r = record_of(conn);
  if (r == NULL) {
    return 0;
  }
  size_t i = find(r, sql);
  snprintf(name, PREPARED_NAME_LEN, "smimed_%zu", i);
  if (i == r->n) {
    char *copy = strdup(sql);
    if (copy == NULL || r->n == PREPARED_MAX) {
      free(copy);
      return 0;
    }
    PGresult *res = PQprepare(conn, name, sql, n_params, NULL);
    r->ready[i] = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    r->sql[r->n++] = copy;
    PQclear(res);
  }
  return r->ready[i];
}

void prepared_later(PGconn *conn, const char *sql, int n_params) {
  RECORD *r = record_of(conn);
  if (r == NULL || find(r, sql) < r->n || r->n + r->n_later >= PREPARED_MAX) {
    return;
  }
  for (size_t i = 0; i < r->n_later; i++) {
    if (strcmp(r->later[i], sql) == 0) {
      return;
    }
  }
  char *copy = strdup(sql);
  if (copy != NULL) {
    r->later[r->n_later] = copy;
    r->later_params[r->n_later++] = n_params;
  }
}

void prepared_pending(PGconn *conn) {
  RECORD *r = PQinstanceData(conn, record_event);
  char name[PREPARED_NAME_LEN];
  if (r == NULL) {
    return;
  }
  for (size_t i = 0; i < r->n_later; i++) {
    prepared_now(conn, r->later[i], r->later_params[i], name);
    free(r->later[i]);
  }
  r->n_later = 0;
}
