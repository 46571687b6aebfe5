/* log_store_test.c: 120 entries of every direction, several operations, addresses and
 * times; each ListLogs filter returns exactly the entries it should, newest first;
 * paging through all pages yields every entry once; bad page tokens and page sizes
 * are refused. */
#include "service/db/log_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/db_testutil.h"
#include "service/db/pg_cluster.h"

#define N_ENTRIES 120
/* kBase is 2026-01-01T00:00:00Z; entry i is dated kBase + i minutes. */
static const int64_t kBase = 1767225600;

typedef struct model_st {
  int64_t id;
  int direction;
  int ops[2];
  int n_ops;
  int status;
  char message_id[64]; /* bare */
  char addresses[2][64]; /* lowercased */
  int n_addresses;
  int minute;
} MODEL;

static MODEL g_model[N_ENTRIES];

static void build_model(int i, MODEL *m) {
  memset(m, 0, sizeof(*m));
  m->direction = 1 + i % 3;
  switch (m->direction) {
    case SMIME__V1__DIRECTION__DIRECTION_INCOMING:
      m->ops[m->n_ops++] = SMIME__V1__OPERATION__OPERATION_VERIFY;
      if (i % 2 == 0) {
        m->ops[m->n_ops++] = SMIME__V1__OPERATION__OPERATION_DECRYPT;
      }
      break;
    case SMIME__V1__DIRECTION__DIRECTION_OUTGOING:
      m->ops[m->n_ops++] = SMIME__V1__OPERATION__OPERATION_SIGN;
      if (i % 2 == 0) {
        m->ops[m->n_ops++] = SMIME__V1__OPERATION__OPERATION_ENCRYPT;
      }
      break;
    default:
      m->ops[m->n_ops++] = i % 2 ? SMIME__V1__OPERATION__OPERATION_IMPORT_CERTIFICATE
                                 : SMIME__V1__OPERATION__OPERATION_IMPORT_PRIVATE_KEY;
      break;
  }
  m->status = i % 4 == 0 ? SMIME__V1__LOG_STATUS__LOG_STATUS_FAILURE
                         : SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS;
  if (m->direction != SMIME__V1__DIRECTION__DIRECTION_ADMIN) {
    snprintf(m->message_id, sizeof(m->message_id), "msg-%d@example.com", i / 2);
  }
  snprintf(m->addresses[m->n_addresses++], 64, "user%d@example.com", i % 7);
  if (i % 2 == 0) {
    snprintf(m->addresses[m->n_addresses++], 64, "shared@example.com");
  }
  m->minute = i;
}

static int insert_all(DB *db) {
  STATUS err;
  int ok = 1;
  PGconn *conn = db_acquire(db, &err);
  char first[32];
  const char *params[1];
  PGresult *res;

  if (conn == NULL) {
    return 0;
  }
  for (int i = 0; i < N_ENTRIES && ok; i++) {
    MODEL *m = &g_model[i];
    Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
    Smime__V1__Operation ops[2];
    char msgid[80], a0[64], a1[64], comment[32], fpr[80];
    char *addrs[2] = {a0, a1};
    char *fprs[1] = {fpr};

    build_model(i, m);
    e.direction = (Smime__V1__Direction)m->direction;
    for (int k = 0; k < m->n_ops; k++) {
      ops[k] = (Smime__V1__Operation)m->ops[k];
    }
    e.operations = ops;
    e.n_operations = (size_t)m->n_ops;
    e.status = (Smime__V1__LogStatus)m->status;
    /* Stored bare and lowercased whatever the caller passes. */
    if (m->message_id[0] != '\0') {
      snprintf(msgid, sizeof(msgid), "<%s>", m->message_id);
    } else {
      msgid[0] = '\0';
    }
    e.message_id = msgid;
    snprintf(a0, sizeof(a0), "User%d@Example.COM", i % 7);
    snprintf(a1, sizeof(a1), "Shared@EXAMPLE.com");
    e.addresses = addrs;
    e.n_addresses = (size_t)m->n_addresses;
    e.caller = "unix-socket admin";
    e.rpc = "/smime.v1.MessageService/SignEncrypt";
    snprintf(comment, sizeof(comment), "entry %d", i);
    e.comment = comment;
    snprintf(fpr, sizeof(fpr), "%064X", (unsigned)i);
    e.certificate_sha256 = fprs;
    e.n_certificate_sha256 = 1;
    status_clear(&err);
    ok = log_store_insert(conn, &e, &m->id, &err);
    if (!ok) {
      fprintf(stderr, "insert %d: %s\n", i, err.message);
    }
  }
  /* Spread the entries over two hours, one per minute, for the time filters. */
  snprintf(first, sizeof(first), "%lld", (long long)g_model[0].id);
  params[0] = first;
  res = PQexecParams(conn,
                     "UPDATE logs SET created_at = timestamptz '2026-01-01 00:00:00+00' + "
                     "(id - $1::bigint) * interval '1 minute'",
                     1, NULL, params, NULL, NULL, 0);
  ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  db_release(db, conn, 0);
  return ok;
}

/* list_all pages through |req| with |page_size| and writes the ids into |ids|. Checks
 * page sizes, strict newest-first order across pages, and that the last page has no
 * token. Returns the number of ids, or -1 on an error. */
static int list_all(DB *db, const Smime__V1__ListLogsRequest *tmpl, int page_size,
                    int64_t *ids, int max_ids) {
  Smime__V1__ListLogsRequest req = *tmpl;
  char token[128] = "";
  int n = 0;

  req.page_size = page_size;
  for (int pages = 0; pages < 1000; pages++) {
    Smime__V1__ListLogsResponse *resp = NULL;
    STATUS err;
    int last;
    req.page_token = token;
    status_clear(&err);
    if (!log_store_list(db, &req, &resp, &err)) {
      fprintf(stderr, "log_store_list: %s\n", err.message);
      return -1;
    }
    last = resp->next_page_token[0] == '\0';
    if ((int)resp->n_entries > page_size || (!last && (int)resp->n_entries != page_size)) {
      fprintf(stderr, "page of %zu entries (page_size %d)\n", resp->n_entries, page_size);
      smime__v1__list_logs_response__free_unpacked(resp, NULL);
      return -1;
    }
    for (size_t i = 0; i < resp->n_entries; i++) {
      if (n >= max_ids || (n > 0 && resp->entries[i]->id >= ids[n - 1])) {
        fprintf(stderr, "ids out of order or too many\n");
        smime__v1__list_logs_response__free_unpacked(resp, NULL);
        return -1;
      }
      ids[n++] = resp->entries[i]->id;
    }
    snprintf(token, sizeof(token), "%s", resp->next_page_token);
    smime__v1__list_logs_response__free_unpacked(resp, NULL);
    if (last) {
      return n;
    }
  }
  return -1;
}

typedef int (*MATCH_FN)(const MODEL *m, const void *arg);

/* check_filter compares the listing of |req| (paged by |page_size|) with the model
 * entries |match| accepts, newest first. */
static int check_filter(DB *db, const Smime__V1__ListLogsRequest *req, int page_size,
                        MATCH_FN match, const void *arg, int *out_count) {
  int64_t got[N_ENTRIES + 8];
  int64_t want[N_ENTRIES];
  int n_want = 0;
  int n_got = list_all(db, req, page_size, got, N_ENTRIES + 8);

  for (int i = N_ENTRIES - 1; i >= 0; i--) {
    if (match(&g_model[i], arg)) {
      want[n_want++] = g_model[i].id;
    }
  }
  if (out_count != NULL) {
    *out_count = n_want;
  }
  if (n_got != n_want) {
    fprintf(stderr, "got %d entries, want %d\n", n_got, n_want);
    return 0;
  }
  return memcmp(got, want, (size_t)n_want * sizeof(int64_t)) == 0;
}

static int match_all(const MODEL *m, const void *arg) {
  (void)m;
  (void)arg;
  return 1;
}
static int match_direction(const MODEL *m, const void *arg) {
  return m->direction == *(const int *)arg;
}
static int match_operation(const MODEL *m, const void *arg) {
  for (int k = 0; k < m->n_ops; k++) {
    if (m->ops[k] == *(const int *)arg) {
      return 1;
    }
  }
  return 0;
}
static int match_status(const MODEL *m, const void *arg) {
  return m->status == *(const int *)arg;
}
static int match_message_id(const MODEL *m, const void *arg) {
  return strcmp(m->message_id, (const char *)arg) == 0;
}
static int match_address(const MODEL *m, const void *arg) {
  for (int k = 0; k < m->n_addresses; k++) {
    if (strcmp(m->addresses[k], (const char *)arg) == 0) {
      return 1;
    }
  }
  return 0;
}
typedef struct range_st {
  int from; /* minutes, inclusive; -1: none */
  int to;   /* minutes, exclusive; -1: none */
} RANGE;
static int match_range(const MODEL *m, const void *arg) {
  const RANGE *r = arg;
  return (r->from < 0 || m->minute >= r->from) && (r->to < 0 || m->minute < r->to);
}
static int match_combined(const MODEL *m, const void *arg) {
  (void)arg;
  return m->direction == SMIME__V1__DIRECTION__DIRECTION_OUTGOING &&
         match_address(m, "shared@example.com") &&
         m->status == SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS && m->minute >= 10;
}

static void test_filters(DB *db) {
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Google__Protobuf__Timestamp start = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  Google__Protobuf__Timestamp end = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  int count;
  static const int page_sizes[] = {1, 7, 50, 119, 120, 1000};

  for (size_t k = 0; k < sizeof(page_sizes) / sizeof(page_sizes[0]); k++) {
    CHECK(check_filter(db, &req, page_sizes[k], match_all, NULL, &count));
    CHECK(count == N_ENTRIES);
  }

  for (int d = 1; d <= 3; d++) {
    Smime__V1__ListLogsRequest r = req;
    r.direction = (Smime__V1__Direction)d;
    CHECK(check_filter(db, &r, 7, match_direction, &d, &count));
    CHECK(count == N_ENTRIES / 3);
  }

  {
    static const int ops[] = {SMIME__V1__OPERATION__OPERATION_SIGN,
                              SMIME__V1__OPERATION__OPERATION_ENCRYPT,
                              SMIME__V1__OPERATION__OPERATION_VERIFY,
                              SMIME__V1__OPERATION__OPERATION_DECRYPT,
                              SMIME__V1__OPERATION__OPERATION_IMPORT_CERTIFICATE,
                              SMIME__V1__OPERATION__OPERATION_UPDATE_SETTINGS};
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
      Smime__V1__ListLogsRequest r = req;
      r.operation = (Smime__V1__Operation)ops[k];
      CHECK(check_filter(db, &r, 9, match_operation, &ops[k], NULL));
    }
  }

  for (int s = 1; s <= 2; s++) {
    Smime__V1__ListLogsRequest r = req;
    r.status = (Smime__V1__LogStatus)s;
    CHECK(check_filter(db, &r, 8, match_status, &s, &count));
    CHECK(count == (s == 2 ? N_ENTRIES / 4 : N_ENTRIES - N_ENTRIES / 4));
  }

  {
    Smime__V1__ListLogsRequest r = req;
    /* Entries 6 (incoming) and 7 (outgoing). */
    r.message_id = "msg-3@example.com";
    CHECK(check_filter(db, &r, 1, match_message_id, "msg-3@example.com", &count));
    CHECK(count == 2);
    r.message_id = " <msg-3@example.com> ";
    CHECK(check_filter(db, &r, 1, match_message_id, "msg-3@example.com", &count));
    CHECK(count == 2);
    r.message_id = "msg-3@example.COM";
    CHECK(check_filter(db, &r, 1, match_message_id, "msg-3@example.COM", &count));
    CHECK(count == 0);
  }

  {
    Smime__V1__ListLogsRequest r = req;
    r.address = "USER3@Example.com";
    CHECK(check_filter(db, &r, 4, match_address, "user3@example.com", &count));
    CHECK(count > 0);
    r.address = "shared@example.com";
    CHECK(check_filter(db, &r, 25, match_address, "shared@example.com", &count));
    CHECK(count == N_ENTRIES / 2);
    r.address = "user3@example";
    CHECK(check_filter(db, &r, 4, match_address, "user3@example", &count));
    CHECK(count == 0);
  }

  {
    Smime__V1__ListLogsRequest r = req;
    RANGE range = {30, -1};
    start.seconds = kBase + 30 * 60;
    r.start_time = &start;
    CHECK(check_filter(db, &r, 11, match_range, &range, &count));
    CHECK(count == N_ENTRIES - 30);

    range.from = -1;
    range.to = 90;
    end.seconds = kBase + 90 * 60;
    r.start_time = NULL;
    r.end_time = &end;
    CHECK(check_filter(db, &r, 11, match_range, &range, &count));
    CHECK(count == 90);

    range.from = 30;
    r.start_time = &start;
    CHECK(check_filter(db, &r, 11, match_range, &range, &count));
    CHECK(count == 60);

    /* Nanoseconds: 1 ns before minute 30 still starts at minute 30; 1 ns after minute
     * 90 ends after it. */
    start.seconds = kBase + 30 * 60 - 1;
    start.nanos = 999999999;
    end.seconds = kBase + 90 * 60;
    end.nanos = 1;
    range.to = 91;
    CHECK(check_filter(db, &r, 11, match_range, &range, &count));
    CHECK(count == 61);
    start.nanos = 0;
    end.nanos = 0;
  }

  {
    Smime__V1__ListLogsRequest r = req;
    r.direction = SMIME__V1__DIRECTION__DIRECTION_OUTGOING;
    r.address = "Shared@example.com";
    r.status = SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS;
    start.seconds = kBase + 10 * 60;
    r.start_time = &start;
    CHECK(check_filter(db, &r, 3, match_combined, NULL, &count));
    CHECK(count > 0);
  }
}

static void test_entry_content(DB *db) {
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Smime__V1__ListLogsResponse *resp = NULL;
  const Smime__V1__LogEntry *e;
  STATUS err;

  /* Entry 22: outgoing, sign+encrypt, success, two addresses. */
  req.message_id = "msg-11@example.com";
  req.direction = SMIME__V1__DIRECTION__DIRECTION_OUTGOING;
  status_clear(&err);
  CHECK(log_store_list(db, &req, &resp, &err));
  if (resp == NULL) {
    return;
  }
  CHECK(resp->n_entries == 1);
  CHECK(resp->next_page_token[0] == '\0');
  if (resp->n_entries == 1) {
    e = resp->entries[0];
    CHECK(e->id == g_model[22].id);
    CHECK(e->create_time != NULL && e->create_time->seconds == kBase + 22 * 60 &&
          e->create_time->nanos == 0);
    CHECK(e->direction == SMIME__V1__DIRECTION__DIRECTION_OUTGOING);
    CHECK(e->n_operations == 2 && e->operations[0] == SMIME__V1__OPERATION__OPERATION_SIGN &&
          e->operations[1] == SMIME__V1__OPERATION__OPERATION_ENCRYPT);
    CHECK(e->status == SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS);
    CHECK(strcmp(e->message_id, "msg-11@example.com") == 0);
    CHECK(e->n_addresses == 2 && strcmp(e->addresses[0], "user1@example.com") == 0 &&
          strcmp(e->addresses[1], "shared@example.com") == 0);
    CHECK(strcmp(e->caller, "unix-socket admin") == 0);
    CHECK(strcmp(e->rpc, "/smime.v1.MessageService/SignEncrypt") == 0);
    CHECK(strcmp(e->comment, "entry 22") == 0);
    CHECK(e->n_certificate_sha256 == 1 &&
          strcmp(e->certificate_sha256[0],
                 "0000000000000000000000000000000000000000000000000000000000000016") == 0);
  }
  smime__v1__list_logs_response__free_unpacked(resp, NULL);
}

static void test_bad_requests(DB *db) {
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Smime__V1__ListLogsResponse *resp = NULL;
  Google__Protobuf__Timestamp bad_time = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  STATUS err;
  char token[128] = "";

  req.page_size = -1;
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err) && resp == NULL);
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);

  req.page_size = 1001;
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err) && resp == NULL);
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "1000") != NULL);

  /* Default page size 50. */
  req.page_size = 0;
  status_clear(&err);
  CHECK(log_store_list(db, &req, &resp, &err));
  if (resp != NULL) {
    CHECK(resp->n_entries == 50);
    CHECK(resp->next_page_token[0] != '\0');
    snprintf(token, sizeof(token), "%s", resp->next_page_token);
    smime__v1__list_logs_response__free_unpacked(resp, NULL);
    resp = NULL;
  }

  req.page_token = "garbage";
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err) && resp == NULL);
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "page_token is not one this service issued") != NULL);

  /* One character changed. */
  if (token[0] != '\0') {
    size_t n = strlen(token);
    char saved = token[n - 1];
    token[n - 1] = saved == '0' ? '1' : '0';
    req.page_token = token;
    status_clear(&err);
    CHECK(!log_store_list(db, &req, &resp, &err));
    CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
    token[n - 1] = saved;
    saved = token[5];
    token[5] = saved == '0' ? '1' : '0';
    status_clear(&err);
    CHECK(!log_store_list(db, &req, &resp, &err));
    CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
    token[5] = saved;
    /* Truncated. */
    saved = token[n - 1];
    token[n - 1] = '\0';
    status_clear(&err);
    CHECK(!log_store_list(db, &req, &resp, &err));
    CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
    token[n - 1] = saved;

    /* The unchanged token works; with other filters it does not. */
    status_clear(&err);
    CHECK(log_store_list(db, &req, &resp, &err));
    if (resp != NULL) {
      CHECK(resp->n_entries == 50);
      smime__v1__list_logs_response__free_unpacked(resp, NULL);
      resp = NULL;
    }
    req.direction = SMIME__V1__DIRECTION__DIRECTION_INCOMING;
    status_clear(&err);
    CHECK(!log_store_list(db, &req, &resp, &err));
    CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
    req.direction = SMIME__V1__DIRECTION__DIRECTION_UNSPECIFIED;
  }
  req.page_token = "";

  req.direction = (Smime__V1__Direction)99;
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err));
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  req.direction = SMIME__V1__DIRECTION__DIRECTION_UNSPECIFIED;

  bad_time.nanos = -1;
  req.start_time = &bad_time;
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err));
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "start_time") != NULL);
  req.start_time = NULL;

  req.address = "caf\xe9@example.com"; /* Latin-1, not UTF-8 */
  status_clear(&err);
  CHECK(!log_store_list(db, &req, &resp, &err));
  CHECK_STATUS(err, STATUS_INVALID_ARGUMENT);
  req.address = "";
}

/* test_insert_while_paging: entries written after the first page do not shift the
 * later pages (the token is a position, not an offset). */
static void test_insert_while_paging(DB *db) {
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Smime__V1__ListLogsResponse *p1 = NULL, *p2 = NULL;
  Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
  STATUS err;
  int64_t id;
  PGconn *conn;

  req.page_size = 10;
  status_clear(&err);
  CHECK(log_store_list(db, &req, &p1, &err));
  conn = db_acquire(db, &err);
  CHECK(conn != NULL);
  if (conn != NULL) {
    e.direction = SMIME__V1__DIRECTION__DIRECTION_INCOMING;
    e.comment = "written while paging";
    CHECK(log_store_insert(conn, &e, &id, &err));
    db_release(db, conn, 0);
  }
  if (p1 != NULL) {
    req.page_token = p1->next_page_token;
    CHECK(log_store_list(db, &req, &p2, &err));
    if (p2 != NULL && p2->n_entries > 0 && p1->n_entries == 10) {
      CHECK(p2->entries[0]->id < p1->entries[9]->id);
      CHECK(p2->entries[0]->id == g_model[N_ENTRIES - 11].id);
    }
  }
  smime__v1__list_logs_response__free_unpacked(p1, NULL);
  if (p2 != NULL) {
    smime__v1__list_logs_response__free_unpacked(p2, NULL);
  }
}

/* test_odd_content: an entry about a mail with a non-UTF-8 Message-ID and a huge
 * comment is still written (cleaned up), never refused. */
static void test_odd_content(DB *db) {
  Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Smime__V1__ListLogsResponse *resp = NULL;
  char *addrs[1] = {"\"odd\\name\"@example.com"};
  char *big = malloc(20000);
  STATUS err;
  int64_t id = 0;
  PGconn *conn = db_acquire(db, &err);

  CHECK(conn != NULL && big != NULL);
  if (conn == NULL || big == NULL) {
    free(big);
    return;
  }
  memset(big, 'x', 19999);
  big[19999] = '\0';
  e.direction = SMIME__V1__DIRECTION__DIRECTION_INCOMING;
  e.message_id = "<bad\xff\xfe-id@example.com>";
  e.comment = big;
  e.addresses = addrs;
  e.n_addresses = 1;
  status_clear(&err);
  CHECK(log_store_insert(conn, &e, &id, &err));
  CHECK(id > 0);
  db_release(db, conn, 0);

  req.address = "\"odd\\name\"@example.com";
  status_clear(&err);
  CHECK(log_store_list(db, &req, &resp, &err));
  if (resp == NULL) {
    fprintf(stderr, "%s\n", err.message);
  }
  if (resp != NULL) {
    CHECK(resp->n_entries == 1);
    if (resp->n_entries == 1) {
      CHECK(resp->entries[0]->id == id);
      CHECK(strcmp(resp->entries[0]->message_id,
                   "bad\xef\xbf\xbd\xef\xbf\xbd-id@example.com") == 0);
      CHECK(strlen(resp->entries[0]->comment) == 8192);
      CHECK(resp->entries[0]->n_addresses == 1 &&
            strcmp(resp->entries[0]->addresses[0], "\"odd\\name\"@example.com") == 0);
    }
    smime__v1__list_logs_response__free_unpacked(resp, NULL);
  }
  free(big);
}

/* append writes |e| in a transaction of its own on a pooled connection, as each
 * replica's log writer does: several at once race for the log's ordering lock. */
static int append(DB *db, const Smime__V1__LogEntry *e, int64_t *id, STATUS *err) {
  PGconn *conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  int ok = log_store_insert(conn, e, id, err);
  db_release(db, conn, !ok && PQstatus(conn) != CONNECTION_OK);
  return ok;
}

static void *insert_thread(void *arg) {
  DB *db = arg;
  STATUS err;
  for (int i = 0; i < 50; i++) {
    Smime__V1__LogEntry e = SMIME__V1__LOG_ENTRY__INIT;
    int64_t id;
    e.direction = SMIME__V1__DIRECTION__DIRECTION_OUTGOING;
    e.comment = "concurrent";
    if (!append(db, &e, &id, &err) || id <= 0) {
      return (void *)1;
    }
  }
  return NULL;
}

/* test_concurrent_order: entries written by concurrent writers still have created_at
 * non-decreasing in id order, which the time filters rely on. */
static void test_concurrent_order(DB *db) {
  pthread_t threads[4];
  int ok = 1;
  STATUS err;
  PGconn *conn;
  PGresult *res;

  for (int i = 0; i < 4; i++) {
    pthread_create(&threads[i], NULL, insert_thread, db);
  }
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(threads[i], &r);
    ok = ok && r == NULL;
  }
  CHECK(ok);
  conn = db_acquire(db, &err);
  CHECK(conn != NULL);
  if (conn == NULL) {
    return;
  }
  res = PQexec(conn,
               "SELECT count(*), count(*) FILTER (WHERE created_at < prev) FROM "
               "(SELECT created_at, lag(created_at) OVER (ORDER BY id) AS prev FROM logs "
               "WHERE comment = 'concurrent') t");
  CHECK(PQresultStatus(res) == PGRES_TUPLES_OK);
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    CHECK(strcmp(PQgetvalue(res, 0, 0), "200") == 0);
    CHECK(strcmp(PQgetvalue(res, 0, 1), "0") == 0);
  }
  PQclear(res);
  db_release(db, conn, 0);
}

int main(void) {
  char *tmp = test_tmpdir();
  char dir[256];
  PG_CLUSTER *cluster;
  STATUS err;
  DB *db;

  snprintf(dir, sizeof(dir), "%s/data", tmp);
  cluster = test_start_cluster(dir);
  status_clear(&err);
  db = db_open(pg_cluster_conninfo(cluster), 4, &err);
  CHECK(db != NULL);
  if (db == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
  } else {
    CHECK(insert_all(db));
    test_filters(db);
    test_entry_content(db);
    test_bad_requests(db);
    test_insert_while_paging(db);
    test_odd_content(db);
    test_concurrent_order(db);
    db_close(db);
  }
  pg_cluster_stop(cluster);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("log_store_test");
}
