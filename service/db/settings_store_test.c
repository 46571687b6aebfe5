/* settings_store_test.c: defaults (disabled, no groups); enabling; setting and
 * removing group defaults; each change's audit entry (comment, caller, rpc) written
 * with it; invalid requests refused with nothing written. */
#include "service/db/settings_store.h"

#include <stdlib.h>
#include <string.h>

#include "service/common/status.h"
#include "service/db/db.h"
#include "service/db/db_testutil.h"
#include "service/db/log_store.h"
#include "service/db/pg_cluster.h"

static const char kCaller[] = "unix-socket admin";
static const char kRpc[] = "/smime.v1.SettingsService/UpdateSettings";

/* count_logs is the number of audit entries. */
static long count_logs(DB *db) {
  STATUS err;
  long n = -1;
  PGconn *conn = db_acquire(db, &err);
  PGresult *res;
  if (conn == NULL) {
    return -1;
  }
  res = PQexec(conn, "SELECT count(*) FROM logs");
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    n = strtol(PQgetvalue(res, 0, 0), NULL, 10);
  }
  PQclear(res);
  db_release(db, conn, 0);
  return n;
}

/* last_log returns the newest settings audit entry (free it), or NULL. */
static Smime__V1__ListLogsResponse *last_log(DB *db) {
  Smime__V1__ListLogsRequest req = SMIME__V1__LIST_LOGS_REQUEST__INIT;
  Smime__V1__ListLogsResponse *resp = NULL;
  STATUS err;
  req.direction = SMIME__V1__DIRECTION__DIRECTION_ADMIN;
  req.operation = SMIME__V1__OPERATION__OPERATION_UPDATE_SETTINGS;
  req.page_size = 1;
  if (!log_store_list(db, &req, &resp, &err) || resp->n_entries != 1) {
    if (resp != NULL) {
      smime__v1__list_logs_response__free_unpacked(resp, NULL);
    }
    return NULL;
  }
  return resp;
}

/* check_last_comment checks the newest audit entry against |comment|. */
static int check_last_comment(DB *db, const char *comment) {
  Smime__V1__ListLogsResponse *resp = last_log(db);
  const Smime__V1__LogEntry *e;
  int ok;
  if (resp == NULL) {
    fprintf(stderr, "no audit entry\n");
    return 0;
  }
  e = resp->entries[0];
  ok = strcmp(e->comment, comment) == 0 && strcmp(e->caller, kCaller) == 0 &&
       strcmp(e->rpc, kRpc) == 0 && e->status == SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS &&
       e->n_operations == 1 &&
       e->operations[0] == SMIME__V1__OPERATION__OPERATION_UPDATE_SETTINGS;
  if (!ok) {
    fprintf(stderr, "audit entry: comment \"%s\" caller \"%s\" rpc \"%s\"\n  want \"%s\"\n",
            e->comment, e->caller, e->rpc, comment);
  }
  smime__v1__list_logs_response__free_unpacked(resp, NULL);
  return ok;
}

/* update runs one UpdateSettings; returns the status code. */
static int update(DB *db, const Smime__V1__UpdateSettingsRequest *req,
                  Smime__V1__Settings **out, STATUS *err) {
  status_clear(err);
  *out = NULL;
  settings_store_update(db, req, kCaller, kRpc, out, err);
  return err->code;
}

static void test_defaults(DB *db) {
  Smime__V1__Settings *s = NULL;
  STATUS err;
  int enabled = -1;

  status_clear(&err);
  CHECK(settings_store_get(db, &s, &err));
  if (s != NULL) {
    CHECK(!s->enabled);
    CHECK(s->n_group_defaults == 0);
    CHECK(s->update_time == NULL);
    CHECK(strcmp(s->updated_by, "") == 0);
    smime__v1__settings__free_unpacked(s, NULL);
  }
  CHECK(settings_store_is_enabled(db, &enabled, &err));
  CHECK(enabled == 0);
  CHECK(count_logs(db) == 0);
}

static void test_enable(DB *db) {
  Smime__V1__UpdateSettingsRequest req = SMIME__V1__UPDATE_SETTINGS_REQUEST__INIT;
  Smime__V1__Settings *s = NULL;
  STATUS err;
  int enabled = 0;

  req.enabled_value_case = SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED;
  req.enabled = 1;
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL) {
    CHECK(s->enabled);
    CHECK(s->update_time != NULL && s->update_time->seconds > 1700000000);
    CHECK(strcmp(s->updated_by, kCaller) == 0);
    smime__v1__settings__free_unpacked(s, NULL);
  }
  CHECK(settings_store_is_enabled(db, &enabled, &err) && enabled == 1);
  CHECK(count_logs(db) == 1);
  CHECK(check_last_comment(db, "enabled: false -> true"));
}

static void test_groups(DB *db) {
  Smime__V1__UpdateSettingsRequest req = SMIME__V1__UPDATE_SETTINGS_REQUEST__INIT;
  Smime__V1__GroupDefaults support = SMIME__V1__GROUP_DEFAULTS__INIT;
  Smime__V1__GroupDefaults sales = SMIME__V1__GROUP_DEFAULTS__INIT;
  Smime__V1__GroupDefaults *groups[2] = {&support, &sales};
  char *remove[1] = {"sales"};
  Smime__V1__Settings *s = NULL;
  Smime__V1__Settings *before = NULL;
  STATUS err;

  /* Two new groups; enabled left alone (no oneof case). */
  support.group = "support";
  support.default_sign = 1;
  sales.group = "sales";
  sales.default_encrypt = 1;
  req.group_defaults = groups;
  req.n_group_defaults = 2;
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL) {
    CHECK(s->enabled);
    CHECK(s->n_group_defaults == 2);
    if (s->n_group_defaults == 2) {
      /* Sorted by group. */
      CHECK(strcmp(s->group_defaults[0]->group, "sales") == 0);
      CHECK(!s->group_defaults[0]->default_sign && s->group_defaults[0]->default_encrypt);
      CHECK(strcmp(s->group_defaults[1]->group, "support") == 0);
      CHECK(s->group_defaults[1]->default_sign && !s->group_defaults[1]->default_encrypt);
    }
    smime__v1__settings__free_unpacked(s, NULL);
  }
  CHECK(check_last_comment(db, "group support: sign off -> on, encrypt off -> off; "
                               "group sales: sign off -> off, encrypt off -> on"));

  /* Disable, change support, remove sales, in one request. */
  req.enabled_value_case = SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED;
  req.enabled = 0;
  support.default_encrypt = 1;
  req.n_group_defaults = 1;
  req.remove_groups = remove;
  req.n_remove_groups = 1;
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL) {
    CHECK(!s->enabled);
    CHECK(s->n_group_defaults == 1);
    if (s->n_group_defaults == 1) {
      CHECK(strcmp(s->group_defaults[0]->group, "support") == 0);
      CHECK(s->group_defaults[0]->default_sign && s->group_defaults[0]->default_encrypt);
    }
    smime__v1__settings__free_unpacked(s, NULL);
  }
  CHECK(check_last_comment(db, "enabled: true -> false; group support: sign on -> on, "
                               "encrypt off -> on; group sales removed"));

  /* The same again changes nothing: logged as such, update_time kept. */
  CHECK(settings_store_get(db, &before, &err));
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL && before != NULL) {
    CHECK(s->update_time != NULL && before->update_time != NULL &&
          s->update_time->seconds == before->update_time->seconds &&
          s->update_time->nanos == before->update_time->nanos);
  }
  if (s != NULL) {
    smime__v1__settings__free_unpacked(s, NULL);
  }
  if (before != NULL) {
    smime__v1__settings__free_unpacked(before, NULL);
  }
  CHECK(check_last_comment(db, "no change"));
  CHECK(count_logs(db) == 4);
}

/* expect_invalid checks that |req| is refused and writes nothing. */
static void expect_invalid(DB *db, const Smime__V1__UpdateSettingsRequest *req,
                           const char *needle, int line) {
  Smime__V1__Settings *before = NULL, *after = NULL, *s = NULL;
  STATUS err;
  long logs = count_logs(db);
  int ok = 1;

  settings_store_get(db, &before, &err);
  if (update(db, req, &s, &err) != STATUS_INVALID_ARGUMENT || s != NULL) {
    fprintf(stderr, "line %d: status %d (%s), want INVALID_ARGUMENT\n", line, err.code,
            err.message);
    ok = 0;
  } else if (needle != NULL && strstr(err.message, needle) == NULL) {
    fprintf(stderr, "line %d: message \"%s\" lacks \"%s\"\n", line, err.message, needle);
    ok = 0;
  }
  settings_store_get(db, &after, &err);
  if (before == NULL || after == NULL || before->enabled != after->enabled ||
      before->n_group_defaults != after->n_group_defaults || count_logs(db) != logs) {
    fprintf(stderr, "line %d: something was written\n", line);
    ok = 0;
  }
  CHECK(ok);
  if (s != NULL) {
    smime__v1__settings__free_unpacked(s, NULL);
  }
  if (before != NULL) {
    smime__v1__settings__free_unpacked(before, NULL);
  }
  if (after != NULL) {
    smime__v1__settings__free_unpacked(after, NULL);
  }
}

static void test_invalid(DB *db) {
  Smime__V1__UpdateSettingsRequest req = SMIME__V1__UPDATE_SETTINGS_REQUEST__INIT;
  Smime__V1__GroupDefaults a = SMIME__V1__GROUP_DEFAULTS__INIT;
  Smime__V1__GroupDefaults b = SMIME__V1__GROUP_DEFAULTS__INIT;
  Smime__V1__GroupDefaults *groups[2] = {&a, &b};
  char *remove[2] = {"x", "x"};
  char long_name[402];
  Smime__V1__Settings *s = NULL;
  STATUS err;

  /* Every invalid request also asks to enable, which must not happen either. */
  req.enabled_value_case = SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED;
  req.enabled = 1;
  req.group_defaults = groups;

  a.group = "";
  req.n_group_defaults = 1;
  expect_invalid(db, &req, "group_defaults[0].group", __LINE__);

  memset(long_name, 'g', 201);
  long_name[201] = '\0';
  a.group = long_name;
  expect_invalid(db, &req, "201 characters", __LINE__);

  a.group = "bad\xff";
  expect_invalid(db, &req, "UTF-8", __LINE__);

  a.group = "new\nline";
  expect_invalid(db, &req, "control character", __LINE__);

  a.group = "twice";
  b.group = "twice";
  req.n_group_defaults = 2;
  expect_invalid(db, &req, "named twice", __LINE__);

  b.group = "other";
  req.remove_groups = remove;
  req.n_remove_groups = 2;
  expect_invalid(db, &req, "remove_groups[1]", __LINE__);

  remove[0] = "other";
  req.n_remove_groups = 1;
  expect_invalid(db, &req, "both set", __LINE__);

  req.n_remove_groups = 0;
  req.remove_groups = NULL;
  req.n_group_defaults = 0;

  /* 200 characters of two bytes each is a valid name. */
  for (int i = 0; i < 200; i++) {
    long_name[2 * i] = (char)0xc3;
    long_name[2 * i + 1] = (char)0xa9;
  }
  long_name[400] = '\0';
  a.group = long_name;
  req.n_group_defaults = 1;
  req.enabled_value_case = SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE__NOT_SET;
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL) {
    CHECK(s->n_group_defaults == 2);
    smime__v1__settings__free_unpacked(s, NULL);
  }
}

static void test_too_many(DB *db) {
  Smime__V1__UpdateSettingsRequest req = SMIME__V1__UPDATE_SETTINGS_REQUEST__INIT;
  Smime__V1__GroupDefaults *items = calloc(1001, sizeof(*items));
  Smime__V1__GroupDefaults **groups = calloc(1001, sizeof(*groups));
  char (*names)[16] = calloc(1001, 16);
  Smime__V1__Settings *s = NULL;
  STATUS err;

  if (items == NULL || groups == NULL || names == NULL) {
    CHECK(0);
    goto out;
  }
  for (int i = 0; i < 1001; i++) {
    smime__v1__group_defaults__init(&items[i]);
    snprintf(names[i], 16, "g%04d", i);
    items[i].group = names[i];
    items[i].default_sign = 1;
    groups[i] = &items[i];
  }
  req.group_defaults = groups;
  req.n_group_defaults = 1001;
  expect_invalid(db, &req, "at most 1000", __LINE__);

  /* 999 new ones fit one request but not with the 2 groups already stored. */
  req.n_group_defaults = 999;
  expect_invalid(db, &req, "1001 groups", __LINE__);

  req.n_group_defaults = 998;
  CHECK(update(db, &req, &s, &err) == STATUS_OK);
  if (s != NULL) {
    CHECK(s->n_group_defaults == 1000);
    smime__v1__settings__free_unpacked(s, NULL);
  }

out:
  free(items);
  free(groups);
  free(names);
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
  db = db_open(pg_cluster_conninfo(cluster), 2, &err);
  CHECK(db != NULL);
  if (db == NULL) {
    fprintf(stderr, "db_open: %s\n", err.message);
  } else {
    test_defaults(db);
    test_enable(db);
    test_groups(db);
    test_invalid(db);
    test_too_many(db);
    db_close(db);
  }
  pg_cluster_stop(cluster);
  test_rmtree(tmp);
  free(tmp);
  return test_summary("settings_store_test");
}
