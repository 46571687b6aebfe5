/* log_store.c: see log_store.h.
 *
 * Entries are written with text parameters and read back in PostgreSQL's binary format,
 * which spares us parsing the text form of arrays (quoting, escapes). */
#include "service/db/log_store.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/db/db_util.h"
#include "service/db/log_batch.h"
#include "service/db/page_token.h"

/* kLogsTokenDomain keeps ListLogs tokens apart from other listings' tokens. */
static const char kLogsTokenDomain[] = "smimed ListLogs page token";

/* Limits on stored text. An audit entry must be written whatever a mail contained, so
 * longer values are cut (at a character boundary) rather than refused. */
#define LOG_MAX_MESSAGE_ID 998 /* RFC 5322 line length */
#define LOG_MAX_ADDRESS 320
#define LOG_MAX_CALLER 1024
#define LOG_MAX_RPC 256
#define LOG_MAX_COMMENT 8192
#define LOG_MAX_FINGERPRINT 128

#define LOG_PAGE_SIZE_DEFAULT 50
#define LOG_PAGE_SIZE_MAX 1000

/* int_in_smallint reports whether an enum value fits the smallint columns. */
static int int_in_smallint(int v) { return v >= -32768 && v <= 32767; }

/* INSERT_PARAMS: the text parameters of kInsertSql for one entry, and what they own. */
typedef struct insert_params_st {
  const char *values[9];
  char direction[16], status[16];
  char *message_id, *caller, *rpc, *comment, *ops, *addrs, *fprs;
} INSERT_PARAMS;

static const char kInsertSql[] =
    "INSERT INTO logs (direction, operations, status, message_id, addresses, caller, rpc, "
    "comment, certificate_sha256) VALUES ($1::smallint, $2::smallint[], $3::smallint, $4, "
    "$5::text[], $6, $7, $8, $9::text[]) RETURNING id";

static void insert_params_cleanup(INSERT_PARAMS *p) {
  free(p->message_id);
  free(p->caller);
  free(p->rpc);
  free(p->comment);
  free(p->ops);
  free(p->addrs);
  free(p->fprs);
}

/* insert_params_build fills |p| from |entry|. */
static int insert_params_build(const Smime__V1__LogEntry *entry, INSERT_PARAMS *p,
                               STATUS *err) {
  STRBUF ops;
  memset(p, 0, sizeof(*p));
  if (!int_in_smallint((int)entry->direction) || !int_in_smallint((int)entry->status)) {
    return status_set(err, STATUS_INTERNAL,
                      "log entry with direction %d or status %d out of range",
                      (int)entry->direction, (int)entry->status);
  }
  snprintf(p->direction, sizeof(p->direction), "%d", (int)entry->direction);
  snprintf(p->status, sizeof(p->status), "%d", (int)entry->status);

  strbuf_init(&ops);
  strbuf_puts(&ops, "{");
  for (size_t i = 0; i < entry->n_operations; i++) {
    if (!int_in_smallint((int)entry->operations[i])) {
      strbuf_cleanup(&ops);
      return status_set(err, STATUS_INTERNAL, "log entry with operation %d out of range",
                        (int)entry->operations[i]);
    }
    strbuf_printf(&ops, "%s%d", i > 0 ? "," : "", (int)entry->operations[i]);
  }
  strbuf_puts(&ops, "}");
  p->ops = strbuf_take(&ops);
  strbuf_cleanup(&ops);

  p->addrs = text_array_literal((const char *const *)entry->addresses, entry->n_addresses,
                                LOG_MAX_ADDRESS);
  p->fprs = text_array_literal((const char *const *)entry->certificate_sha256,
                               entry->n_certificate_sha256, LOG_MAX_FINGERPRINT);
  char *trimmed = trim_message_id(entry->message_id);
  p->message_id = trimmed != NULL ? utf8_sanitize(trimmed, LOG_MAX_MESSAGE_ID) : NULL;
  free(trimmed);
  p->caller = utf8_sanitize(entry->caller, LOG_MAX_CALLER);
  p->rpc = utf8_sanitize(entry->rpc, LOG_MAX_RPC);
  p->comment = utf8_sanitize(entry->comment, LOG_MAX_COMMENT);
  if (p->message_id == NULL || p->caller == NULL || p->rpc == NULL || p->comment == NULL ||
      p->ops == NULL || p->addrs == NULL || p->fprs == NULL) {
    insert_params_cleanup(p);
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  const char *v[9] = {p->direction, p->ops,    p->status,  p->message_id, p->addrs,
                      p->caller,    p->rpc,    p->comment, p->fprs};
  memcpy(p->values, v, sizeof(v));
  return 1;
}

int log_store_insert(PGconn *conn, const Smime__V1__LogEntry *entry, int64_t *out_id,
                     STATUS *err) {
  INSERT_PARAMS p;
  int broken = 0, ret = 0;
  *out_id = 0;
  if (!insert_params_build(entry, &p, err)) {
    return 0;
  }
  PGresult *res = PQexecParams(conn, kInsertSql, 9, NULL, p.values, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "writing the audit log", &broken, err);
  } else {
    *out_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    ret = 1;
  }
  PQclear(res);
  insert_params_cleanup(&p);
  return ret;
}

int log_store_send_insert(PGconn *conn, const Smime__V1__LogEntry *entry, STATUS *err) {
  INSERT_PARAMS p;
  int broken = 0;
  if (!insert_params_build(entry, &p, err)) {
    return 0;
  }
  int ok = log_batch_send(conn, kInsertSql, 9, p.values, NULL, NULL);
  if (!ok) {
    db_result_status(conn, NULL, "writing the audit log", &broken, err);
  }
  insert_params_cleanup(&p);
  return ok;
}

/* Binary result readers. Each checks the length PostgreSQL sent. */

static int bin_i64(const PGresult *res, int row, int col, int64_t *out) {
  const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
  uint64_t v = 0;
  if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8) {
    return 0;
  }
  for (int i = 0; i < 8; i++) {
    v = (v << 8) | p[i];
  }
  *out = (int64_t)v;
  return 1;
}

static int bin_i16(const PGresult *res, int row, int col, int *out) {
  const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
  if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 2) {
    return 0;
  }
  *out = (int16_t)(uint16_t)((p[0] << 8) | p[1]);
  return 1;
}

/* bin_text returns a malloc'd copy of a text column (NULL reads as ""). */
static char *bin_text(const PGresult *res, int row, int col) {
  if (PQgetisnull(res, row, col)) {
    return strdup("");
  }
  return strndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

/* BIN_ARRAY walks a one-dimensional array in binary format: int32 ndim, int32 has-null,
 * oid element type, then per dimension int32 size and lower bound, then per element
 * int32 length (-1: NULL) and the bytes. */
typedef struct bin_array_st {
  const unsigned char *p;
  size_t left;
  uint32_t count;
} BIN_ARRAY;

static int get_u32(BIN_ARRAY *a, uint32_t *out) {
  if (a->left < 4) {
    return 0;
  }
  *out = ((uint32_t)a->p[0] << 24) | ((uint32_t)a->p[1] << 16) | ((uint32_t)a->p[2] << 8) |
         a->p[3];
  a->p += 4;
  a->left -= 4;
  return 1;
}

static int bin_array_open(const PGresult *res, int row, int col, BIN_ARRAY *a) {
  uint32_t ndim, flags, oid, lbound;
  a->p = (const unsigned char *)PQgetvalue(res, row, col);
  a->left = (size_t)PQgetlength(res, row, col);
  a->count = 0;
  if (PQgetisnull(res, row, col)) {
    a->left = 0;
    return 1;
  }
  if (!get_u32(a, &ndim) || !get_u32(a, &flags) || !get_u32(a, &oid)) {
    return 0;
  }
  if (ndim == 0) {
    return 1;
  }
  if (ndim != 1 || !get_u32(a, &a->count) || !get_u32(a, &lbound)) {
    return 0;
  }
  /* Each element takes at least its 4-byte length. */
  return a->count <= a->left / 4;
}

/* bin_array_next returns the next element's bytes (NULL element: *out = NULL). */
static int bin_array_next(BIN_ARRAY *a, const unsigned char **out, uint32_t *out_len) {
  uint32_t len;
  if (!get_u32(a, &len)) {
    return 0;
  }
  if (len == UINT32_MAX) {
    *out = NULL;
    *out_len = 0;
    return 1;
  }
  if (len > a->left) {
    return 0;
  }
  *out = a->p;
  *out_len = len;
  a->p += len;
  a->left -= len;
  return 1;
}

/* bin_text_array fills |*out|/|*out_n| with malloc'd copies of a text[] column. */
static int bin_text_array(const PGresult *res, int row, int col, char ***out,
                          size_t *out_n) {
  BIN_ARRAY a;
  if (!bin_array_open(res, row, col, &a)) {
    return 0;
  }
  if (a.count == 0) {
    return 1;
  }
  *out = calloc(a.count, sizeof(char *));
  if (*out == NULL) {
    return 0;
  }
  for (uint32_t i = 0; i < a.count; i++) {
    const unsigned char *p;
    uint32_t len;
    if (!bin_array_next(&a, &p, &len)) {
      return 0;
    }
    (*out)[i] = p != NULL ? strndup((const char *)p, len) : strdup("");
    if ((*out)[i] == NULL) {
      return 0;
    }
    (*out_n)++;
  }
  return 1;
}

/* Columns of kSelect, in order. */
enum { C_ID, C_CREATED, C_DIRECTION, C_OPERATIONS, C_STATUS, C_MESSAGE_ID, C_ADDRESSES,
       C_CALLER, C_RPC, C_COMMENT, C_FPRS };

static const char kSelect[] =
    "SELECT id, created_at, direction, operations, status, message_id, addresses, caller, "
    "rpc, comment, certificate_sha256 FROM logs";

/* entry_from_row fills |e| (already initialized and owned by the response, so that a
 * half-filled entry is still freed correctly) from row |row|. */
static int entry_from_row(const PGresult *res, int row, Smime__V1__LogEntry *e) {
  int64_t created;
  int v;
  BIN_ARRAY a;

  if (!bin_i64(res, row, C_ID, &e->id) || !bin_i64(res, row, C_CREATED, &created)) {
    return 0;
  }
  e->create_time = timestamp_from_unix_us(created + PG_EPOCH_OFFSET_US);
  if (e->create_time == NULL) {
    return 0;
  }
  if (!bin_i16(res, row, C_DIRECTION, &v)) {
    return 0;
  }
  e->direction = (Smime__V1__Direction)v;
  if (!bin_i16(res, row, C_STATUS, &v)) {
    return 0;
  }
  e->status = (Smime__V1__LogStatus)v;

  if (!bin_array_open(res, row, C_OPERATIONS, &a)) {
    return 0;
  }
  if (a.count > 0) {
    e->operations = calloc(a.count, sizeof(*e->operations));
    if (e->operations == NULL) {
      return 0;
    }
    for (uint32_t i = 0; i < a.count; i++) {
      const unsigned char *p;
      uint32_t len;
      if (!bin_array_next(&a, &p, &len) || p == NULL || len != 2) {
        return 0;
      }
      e->operations[i] = (Smime__V1__Operation)(int16_t)(uint16_t)((p[0] << 8) | p[1]);
      e->n_operations++;
    }
  }

  if ((e->message_id = bin_text(res, row, C_MESSAGE_ID)) == NULL ||
      (e->caller = bin_text(res, row, C_CALLER)) == NULL ||
      (e->rpc = bin_text(res, row, C_RPC)) == NULL ||
      (e->comment = bin_text(res, row, C_COMMENT)) == NULL) {
    return 0;
  }
  if (!bin_text_array(res, row, C_ADDRESSES, &e->addresses, &e->n_addresses) ||
      !bin_text_array(res, row, C_FPRS, &e->certificate_sha256,
                      &e->n_certificate_sha256)) {
    return 0;
  }
  return 1;
}

/* Filters after validation and normalization. */
typedef struct log_filter_st {
  int direction;
  int operation;
  int status;
  char *message_id; /* bare, "" for none */
  char *address;    /* lowercased, "" for none */
  char start[48];   /* timestamptz literal, "" for none */
  char end[48];
  char *canonical;  /* all of the above as one string, for the page token check */
} LOG_FILTER;

static void filter_cleanup(LOG_FILTER *f) {
  free(f->message_id);
  free(f->address);
  free(f->canonical);
}

/* filter_parse validates |req|'s filters into |f| (which the caller cleans up). */
static int filter_parse(const Smime__V1__ListLogsRequest *req, LOG_FILTER *f,
                        STATUS *err) {
  STRBUF sb;
  char *addr;

  memset(f, 0, sizeof(*f));
  f->direction = (int)req->direction;
  f->operation = (int)req->operation;
  f->status = (int)req->status;
  if (f->direction < 0 || f->direction > SMIME__V1__DIRECTION__DIRECTION_ADMIN) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "direction %d is not a known Direction",
                      f->direction);
  }
  if (f->operation < 0 || f->operation > SMIME__V1__OPERATION__OPERATION_UPDATE_SETTINGS) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "operation %d is not a known Operation",
                      f->operation);
  }
  if (f->status < 0 || f->status > SMIME__V1__LOG_STATUS__LOG_STATUS_FAILURE) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "status %d is not a known LogStatus",
                      f->status);
  }

  f->message_id = trim_message_id(req->message_id);
  addr = req->address != NULL ? req->address : "";
  while (*addr == ' ' || *addr == '\t') {
    addr++;
  }
  f->address = strdup(addr);
  if (f->message_id == NULL || f->address == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  /* Strip trailing blanks of the address too; both come from people typing. */
  for (size_t n = strlen(f->address); n > 0 && (f->address[n - 1] == ' ' ||
                                                f->address[n - 1] == '\t');
       n--) {
    f->address[n - 1] = '\0';
  }
  ascii_lower(f->address);
  if (!utf8_check(f->message_id, NULL) || strlen(f->message_id) > LOG_MAX_MESSAGE_ID) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "message_id must be valid UTF-8 of at most %d bytes",
                      LOG_MAX_MESSAGE_ID);
  }
  if (!utf8_check(f->address, NULL) || strlen(f->address) > LOG_MAX_ADDRESS) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "address must be valid UTF-8 of at most %d bytes", LOG_MAX_ADDRESS);
  }
  if (req->start_time != NULL &&
      !timestamp_to_param(req->start_time, "start_time", f->start, sizeof(f->start), err)) {
    return 0;
  }
  if (req->end_time != NULL &&
      !timestamp_to_param(req->end_time, "end_time", f->end, sizeof(f->end), err)) {
    return 0;
  }

  /* Lengths first, so that no two different filter sets give the same string. */
  strbuf_init(&sb);
  strbuf_printf(&sb, "%d,%d,%d,%zu:%s,%zu:%s,%s,%s", f->direction, f->operation, f->status,
                strlen(f->message_id), f->message_id, strlen(f->address), f->address,
                f->start, f->end);
  f->canonical = strbuf_take(&sb);
  if (f->canonical == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  return 1;
}

/* time_bounds turns the time range of |f| into ids: |*out_lo| is the first id created
 * at or after start_time, |*out_hi| the first created at or after end_time (0: none).
 * Exact because created_at never decreases with id (see migrations.c). Sets
 * |*out_empty| when nothing can match (no entry at or after start_time). */
static int time_bounds(PGconn *conn, const LOG_FILTER *f, int64_t *out_lo, int64_t *out_hi,
                       int *out_empty, int *out_broken, STATUS *err) {
  static const char kFirstAtOrAfter[] =
      "(SELECT id FROM logs WHERE created_at >= $%d::timestamptz "
      "ORDER BY created_at, id LIMIT 1)";
  const char *params[2];
  int np = 0;
  int ret = 0;
  STRBUF sql;
  char *sql_s = NULL;
  PGresult *res = NULL;

  *out_lo = 0;
  *out_hi = 0;
  *out_empty = 0;
  strbuf_init(&sql);
  strbuf_puts(&sql, "SELECT ");
  if (f->start[0] != '\0') {
    params[np++] = f->start;
    strbuf_printf(&sql, kFirstAtOrAfter, np);
  } else {
    strbuf_puts(&sql, "NULL::bigint");
  }
  strbuf_puts(&sql, ", ");
  if (f->end[0] != '\0') {
    params[np++] = f->end;
    strbuf_printf(&sql, kFirstAtOrAfter, np);
  } else {
    strbuf_puts(&sql, "NULL::bigint");
  }
  sql_s = strbuf_take(&sql);
  if (sql_s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }
  res = PQexecParams(conn, sql_s, np, NULL, params, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "listing logs", out_broken, err);
    goto out;
  }
  if (f->start[0] != '\0') {
    if (PQgetisnull(res, 0, 0)) {
      *out_empty = 1;
    } else {
      *out_lo = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
  }
  if (f->end[0] != '\0' && !PQgetisnull(res, 0, 1)) {
    *out_hi = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    /* end_time at or before start_time: an empty range. */
    if (*out_hi <= *out_lo) {
      *out_empty = 1;
    }
  }
  ret = 1;

out:
  PQclear(res);
  free(sql_s);
  strbuf_cleanup(&sql);
  return ret;
}

/* MAX_PARAMS: the filters and the cursor and the limit. */
#define MAX_PARAMS 10

int log_store_list(DB *db, const Smime__V1__ListLogsRequest *req,
                   Smime__V1__ListLogsResponse **out, STATUS *err) {
  int ret = 0;
  int broken = 0;
  int page_size;
  int64_t after_id = 0;
  LOG_FILTER f;
  STRBUF sql;
  char *sql_s = NULL;
  const char *params[MAX_PARAMS];
  char num[5][24];
  int np = 0;
  int rows;
  int64_t lo_id = 0;
  int64_t hi_id = 0;
  int have_hi = 0;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  Smime__V1__ListLogsResponse *resp = NULL;

  *out = NULL;
  strbuf_init(&sql);
  memset(&f, 0, sizeof(f));

  if (req->page_size < 0) {
    status_set(err, STATUS_INVALID_ARGUMENT, "page_size must not be negative (got %d)",
               (int)req->page_size);
    goto out;
  }
  if (req->page_size > LOG_PAGE_SIZE_MAX) {
    status_set(err, STATUS_INVALID_ARGUMENT, "page_size must be at most %d (got %d)",
               LOG_PAGE_SIZE_MAX, (int)req->page_size);
    goto out;
  }
  page_size = req->page_size == 0 ? LOG_PAGE_SIZE_DEFAULT : (int)req->page_size;
  if (!filter_parse(req, &f, err)) {
    goto out;
  }
  if (req->page_token != NULL && req->page_token[0] != '\0' &&
      !page_token_parse(kLogsTokenDomain, req->page_token, f.canonical, &after_id, err)) {
    goto out;
  }

  conn = db_acquire(db, err);
  if (conn == NULL) {
    goto out;
  }
  if (f.start[0] != '\0' || f.end[0] != '\0') {
    int empty = 0;
    if (!time_bounds(conn, &f, &lo_id, &hi_id, &empty, &broken, err)) {
      goto out;
    }
    have_hi = hi_id != 0;
    if (empty) {
      rows = 0;
      goto respond;
    }
  }

  /* Only fixed SQL fragments are joined here; every value goes in as a parameter. Each
   * filter has an index that yields rows in id order (see migrations.c), and the time
   * range is an id range, so the scan stops where the range ends. */
  strbuf_puts(&sql, kSelect);
  strbuf_puts(&sql, " WHERE true");
  if (f.direction != 0) {
    snprintf(num[0], sizeof(num[0]), "%d", f.direction);
    params[np++] = num[0];
    strbuf_printf(&sql, " AND direction = $%d::smallint", np);
  }
  if (f.operation != 0) {
    /* Written as the partial indexes' predicates are, so the planner can use them. */
    snprintf(num[1], sizeof(num[1]), "{%d}", f.operation);
    params[np++] = num[1];
    strbuf_printf(&sql, " AND operations @> $%d::smallint[]", np);
  }
  if (f.status != 0) {
    snprintf(num[2], sizeof(num[2]), "%d", f.status);
    params[np++] = num[2];
    strbuf_printf(&sql, " AND status = $%d::smallint", np);
  }
  if (f.message_id[0] != '\0') {
    params[np++] = f.message_id;
    strbuf_printf(&sql, " AND message_id = $%d", np);
  }
  if (f.address[0] != '\0') {
    params[np++] = f.address;
    strbuf_printf(&sql, " AND addresses @> ARRAY[$%d::text]", np);
  }
  if (lo_id > 0) {
    snprintf(num[3], sizeof(num[3]), "%" PRId64, lo_id);
    params[np++] = num[3];
    strbuf_printf(&sql, " AND id >= $%d::bigint", np);
  }
  if (after_id != 0 && (hi_id == 0 || after_id < hi_id)) {
    hi_id = after_id;
  }
  if (hi_id != 0) {
    snprintf(num[4], sizeof(num[4]), "%" PRId64, hi_id);
    params[np++] = num[4];
    strbuf_printf(&sql, " AND id < $%d::bigint", np);
  }
  if (f.end[0] != '\0' && !have_hi) {
    /* No entry had reached end_time when the bounds were read; one written since may
     * have. (Entries written since are all after start_time, so lo_id stays exact.) */
    params[np++] = f.end;
    strbuf_printf(&sql, " AND created_at < $%d::timestamptz", np);
  }
  /* One row more than asked says whether there is a next page. */
  strbuf_printf(&sql, " ORDER BY id DESC LIMIT %d", page_size + 1);
  sql_s = strbuf_take(&sql);
  if (sql_s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }

  res = PQexecParams(conn, sql_s, np, NULL, params, NULL, NULL, 1);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "listing logs", &broken, err);
    goto out;
  }
  rows = PQntuples(res);

respond:
  resp = malloc(sizeof(*resp));
  if (resp == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }
  smime__v1__list_logs_response__init(resp);
  if (rows > 0) {
    int n = rows > page_size ? page_size : rows;
    resp->entries = calloc((size_t)n, sizeof(*resp->entries));
    if (resp->entries == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
    for (int i = 0; i < n; i++) {
      Smime__V1__LogEntry *e = malloc(sizeof(*e));
      if (e == NULL) {
        status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
      }
      smime__v1__log_entry__init(e);
      resp->entries[resp->n_entries++] = e;
      if (!entry_from_row(res, i, e)) {
        status_set(err, STATUS_INTERNAL, "listing logs: unexpected data in row %d", i);
        goto out;
      }
    }
    if (rows > page_size) {
      resp->next_page_token =
          page_token_make(kLogsTokenDomain, resp->entries[n - 1]->id, f.canonical);
      if (resp->next_page_token == NULL) {
        resp->next_page_token = (char *)protobuf_c_empty_string;
        status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
        goto out;
      }
    }
  }
  *out = resp;
  resp = NULL;
  ret = 1;

out:
  if (resp != NULL) {
    smime__v1__list_logs_response__free_unpacked(resp, NULL);
  }
  PQclear(res);
  if (conn != NULL) {
    db_release(db, conn, broken);
  }
  free(sql_s);
  strbuf_cleanup(&sql);
  filter_cleanup(&f);
  return ret;
}
