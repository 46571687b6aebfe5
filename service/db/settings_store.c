/* settings_store.c: see settings_store.h. */
#include "service/db/settings_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/db/db_util.h"
#include "service/db/log_store.h"
#include "smime/v1/log.pb-c.h"

#define GROUP_NAME_MAX_CHARS 200
#define GROUPS_MAX 1000
#define CALLER_MAX 1024

/* load_settings reads the settings row and every group's defaults on |conn| (inside the
 * caller's transaction, if any) into a new |*out|. */
static int load_settings(PGconn *conn, Smime__V1__Settings **out, int *out_broken,
                         STATUS *err) {
  int ret = 0;
  PGresult *res = NULL;
  Smime__V1__Settings *s = NULL;
  int rows;

  *out = NULL;
  res = PQexec(conn,
               "SELECT enabled, (extract(epoch FROM updated_at) * 1000000)::bigint, "
               "coalesce(updated_by, '') FROM settings");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "reading settings", out_broken, err);
    goto out;
  }
  s = malloc(sizeof(*s));
  if (s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }
  smime__v1__settings__init(s);
  s->enabled = PQgetvalue(res, 0, 0)[0] == 't';
  if (!PQgetisnull(res, 0, 1)) {
    s->update_time = timestamp_from_unix_us(strtoll(PQgetvalue(res, 0, 1), NULL, 10));
    if (s->update_time == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
  }
  if (PQgetvalue(res, 0, 2)[0] != '\0') {
    s->updated_by = strdup(PQgetvalue(res, 0, 2));
    if (s->updated_by == NULL) {
      s->updated_by = (char *)protobuf_c_empty_string;
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
  }
  PQclear(res);

  /* Byte order (COLLATE "C"): the same sorting whatever the database's locale. */
  res = PQexec(conn,
               "SELECT group_name, default_sign, default_encrypt FROM group_defaults "
               "ORDER BY group_name COLLATE \"C\"");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
    db_result_status(conn, res, "reading group defaults", out_broken, err);
    goto out;
  }
  rows = PQntuples(res);
  if (rows > 0) {
    s->group_defaults = calloc((size_t)rows, sizeof(*s->group_defaults));
    if (s->group_defaults == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
  }
  for (int i = 0; i < rows; i++) {
    Smime__V1__GroupDefaults *g = malloc(sizeof(*g));
    if (g == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
    smime__v1__group_defaults__init(g);
    s->group_defaults[s->n_group_defaults++] = g;
    g->group = strdup(PQgetvalue(res, i, 0));
    if (g->group == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
      goto out;
    }
    g->default_sign = PQgetvalue(res, i, 1)[0] == 't';
    g->default_encrypt = PQgetvalue(res, i, 2)[0] == 't';
  }
  *out = s;
  s = NULL;
  ret = 1;

out:
  PQclear(res);
  if (s != NULL) {
    smime__v1__settings__free_unpacked(s, NULL);
  }
  return ret;
}

int settings_store_get(DB *db, Smime__V1__Settings **out, STATUS *err) {
  int ok;
  int broken = 0;
  PGconn *conn;

  *out = NULL;
  conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  /* Two SELECTs: one REPEATABLE READ transaction gives them the same snapshot. */
  ok = db_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &broken, err) &&
       load_settings(conn, out, &broken, err) && db_exec(conn, "COMMIT", &broken, err);
  if (!ok && *out != NULL) {
    smime__v1__settings__free_unpacked(*out, NULL);
    *out = NULL;
  }
  db_release(db, conn, broken);
  return ok;
}

int settings_store_is_enabled(DB *db, int *out_enabled, STATUS *err) {
  int ret = 0;
  int broken = 0;
  PGresult *res = NULL;
  PGconn *conn;

  *out_enabled = 0;
  conn = db_acquire(db, err);
  if (conn == NULL) {
    return 0;
  }
  res = db_exec_cached(db, conn, "SELECT enabled FROM settings", 0, NULL, NULL, NULL, 0);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "reading settings", &broken, err);
    goto out;
  }
  *out_enabled = PQgetvalue(res, 0, 0)[0] == 't';
  ret = 1;

out:
  PQclear(res);
  db_release(db, conn, broken);
  return ret;
}

/* check_group_name validates one group name; |field| says where it was, for the
 * message, e.g. "group_defaults[2].group". */
static int check_group_name(const char *name, const char *field, STATUS *err) {
  size_t chars;
  if (name == NULL || name[0] == '\0') {
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s: a group name is required", field);
  }
  if (!utf8_check(name, &chars)) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s: the group name is not valid UTF-8",
                      field);
  }
  if (chars > GROUP_NAME_MAX_CHARS) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "%s: group name of %zu characters; at most %d", field, chars,
                      GROUP_NAME_MAX_CHARS);
  }
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
    if (*p < 0x20 || *p == 0x7f) {
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "%s: the group name contains a control character", field);
    }
  }
  return 1;
}

/* validate_update checks everything about |req| that does not need the database, so
 * that a bad request is refused before anything is written. */
static int validate_update(const Smime__V1__UpdateSettingsRequest *req, STATUS *err) {
  char field[64];

  if (req->n_group_defaults > GROUPS_MAX || req->n_remove_groups > GROUPS_MAX) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "too many groups in one request (%zu set, %zu removed; at most %d "
                      "each)",
                      req->n_group_defaults, req->n_remove_groups, GROUPS_MAX);
  }
  for (size_t i = 0; i < req->n_group_defaults; i++) {
    const Smime__V1__GroupDefaults *g = req->group_defaults[i];
    snprintf(field, sizeof(field), "group_defaults[%zu].group", i);
    if (g == NULL) {
      return status_set(err, STATUS_INVALID_ARGUMENT, "%s: missing", field);
    }
    if (!check_group_name(g->group, field, err)) {
      return 0;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(req->group_defaults[j]->group, g->group) == 0) {
        return status_set(err, STATUS_INVALID_ARGUMENT,
                          "%s: group \"%.200s\" is named twice in group_defaults", field,
                          g->group);
      }
    }
  }
  for (size_t i = 0; i < req->n_remove_groups; i++) {
    const char *name = req->remove_groups[i];
    snprintf(field, sizeof(field), "remove_groups[%zu]", i);
    if (!check_group_name(name, field, err)) {
      return 0;
    }
    for (size_t j = 0; j < i; j++) {
      if (strcmp(req->remove_groups[j], name) == 0) {
        return status_set(err, STATUS_INVALID_ARGUMENT,
                          "%s: group \"%.200s\" is named twice in remove_groups", field,
                          name);
      }
    }
    for (size_t j = 0; j < req->n_group_defaults; j++) {
      if (strcmp(req->group_defaults[j]->group, name) == 0) {
        return status_set(err, STATUS_INVALID_ARGUMENT,
                          "%s: group \"%.200s\" is both set (group_defaults[%zu]) and "
                          "removed",
                          field, name, j);
      }
    }
  }
  return 1;
}

/* OLD_GROUPS is the stored group defaults as read at the start of an update. */
typedef struct old_groups_st {
  PGresult *res; /* group_name, default_sign, default_encrypt */
} OLD_GROUPS;

/* old_group_find returns the row of |name|, or -1. */
static int old_group_find(const OLD_GROUPS *old, const char *name) {
  int rows = PQntuples(old->res);
  for (int i = 0; i < rows; i++) {
    if (strcmp(PQgetvalue(old->res, i, 0), name) == 0) {
      return i;
    }
  }
  return -1;
}

static const char *on_off(int v) { return v ? "on" : "off"; }

/* exec_params runs a parameterized command that returns no rows. */
static int exec_params(PGconn *conn, const char *sql, int n, const char *const *params,
                       const char *what, int *out_broken, STATUS *err) {
  PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
  int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) {
    db_result_status(conn, res, what, out_broken, err);
  }
  PQclear(res);
  return ok;
}

int settings_store_update(DB *db, const Smime__V1__UpdateSettingsRequest *req,
                          const char *caller, const char *rpc, Smime__V1__Settings **out,
                          STATUS *err) {
  int ret = 0;
  int broken = 0;
  int changed = 0;
  int old_enabled;
  int new_enabled;
  long groups_after;
  int64_t log_id;
  PGconn *conn = NULL;
  PGresult *res = NULL;
  OLD_GROUPS old = {NULL};
  STRBUF comment;
  char *comment_s = NULL;
  char *caller_s = NULL;
  Smime__V1__Settings *settings = NULL;
  Smime__V1__LogEntry entry = SMIME__V1__LOG_ENTRY__INIT;
  Smime__V1__Operation op = SMIME__V1__OPERATION__OPERATION_UPDATE_SETTINGS;

  *out = NULL;
  strbuf_init(&comment);
  if (!validate_update(req, err)) {
    goto out;
  }
  caller_s = utf8_sanitize(caller, CALLER_MAX);
  if (caller_s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }

  conn = db_acquire(db, err);
  if (conn == NULL) {
    goto out;
  }
  if (!db_exec(conn, "BEGIN", &broken, err)) {
    goto out;
  }
  /* FOR UPDATE on the one settings row serializes concurrent updates, so that the
   * "old -> new" of each audit comment is what that update really changed. */
  res = PQexec(conn, "SELECT enabled FROM settings FOR UPDATE");
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    db_result_status(conn, res, "reading settings", &broken, err);
    goto out;
  }
  old_enabled = PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  res = NULL;
  old.res = PQexec(conn, "SELECT group_name, default_sign, default_encrypt "
                         "FROM group_defaults");
  if (old.res == NULL || PQresultStatus(old.res) != PGRES_TUPLES_OK) {
    db_result_status(conn, old.res, "reading group defaults", &broken, err);
    goto out;
  }
  groups_after = PQntuples(old.res);

  new_enabled = old_enabled;
  if (req->enabled_value_case == SMIME__V1__UPDATE_SETTINGS_REQUEST__ENABLED_VALUE_ENABLED) {
    new_enabled = req->enabled ? 1 : 0;
  }
  if (new_enabled != old_enabled) {
    strbuf_printf(&comment, "enabled: %s -> %s", old_enabled ? "true" : "false",
                  new_enabled ? "true" : "false");
  }

  for (size_t i = 0; i < req->n_group_defaults; i++) {
    const Smime__V1__GroupDefaults *g = req->group_defaults[i];
    int row = old_group_find(&old, g->group);
    int old_sign = row >= 0 && PQgetvalue(old.res, row, 1)[0] == 't';
    int old_encrypt = row >= 0 && PQgetvalue(old.res, row, 2)[0] == 't';
    const char *params[3];

    if (row >= 0 && old_sign == (g->default_sign ? 1 : 0) &&
        old_encrypt == (g->default_encrypt ? 1 : 0)) {
      continue;
    }
    if (row < 0) {
      groups_after++;
    }
    params[0] = g->group;
    params[1] = g->default_sign ? "true" : "false";
    params[2] = g->default_encrypt ? "true" : "false";
    if (!exec_params(conn,
                     "INSERT INTO group_defaults (group_name, default_sign, default_encrypt)"
                     " VALUES ($1, $2::boolean, $3::boolean) ON CONFLICT (group_name) DO"
                     " UPDATE SET default_sign = EXCLUDED.default_sign,"
                     " default_encrypt = EXCLUDED.default_encrypt",
                     3, params, "storing group defaults", &broken, err)) {
      goto out;
    }
    /* A new group counts as changing from the defaults it had: both off. */
    strbuf_printf(&comment, "%sgroup %s: sign %s -> %s, encrypt %s -> %s",
                  comment.len > 0 ? "; " : "", g->group, on_off(old_sign),
                  on_off(g->default_sign), on_off(old_encrypt), on_off(g->default_encrypt));
  }

  for (size_t i = 0; i < req->n_remove_groups; i++) {
    const char *name = req->remove_groups[i];
    const char *params[1];
    if (old_group_find(&old, name) < 0) {
      continue; /* nothing to remove: not a change */
    }
    groups_after--;
    params[0] = name;
    if (!exec_params(conn, "DELETE FROM group_defaults WHERE group_name = $1", 1, params,
                     "removing group defaults", &broken, err)) {
      goto out;
    }
    strbuf_printf(&comment, "%sgroup %s removed", comment.len > 0 ? "; " : "", name);
  }

  if (groups_after > GROUPS_MAX) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "group_defaults: this change would store defaults for %ld groups; at most %d",
               groups_after, GROUPS_MAX);
    goto out;
  }

  changed = comment.len > 0;
  if (changed) {
    const char *params[2];
    params[0] = new_enabled ? "true" : "false";
    params[1] = caller_s;
    if (!exec_params(conn,
                     "UPDATE settings SET enabled = $1::boolean, updated_at = now(),"
                     " updated_by = $2",
                     2, params, "storing settings", &broken, err)) {
      goto out;
    }
  } else {
    strbuf_puts(&comment, "no change");
  }
  comment_s = strbuf_take(&comment);
  if (comment_s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto out;
  }

  entry.direction = SMIME__V1__DIRECTION__DIRECTION_ADMIN;
  entry.n_operations = 1;
  entry.operations = &op;
  entry.status = SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS;
  entry.caller = caller_s;
  entry.rpc = (char *)(rpc != NULL ? rpc : "");
  entry.comment = comment_s;
  if (!log_store_insert(conn, &entry, &log_id, err)) {
    broken = PQstatus(conn) != CONNECTION_OK;
    goto out;
  }
  if (!load_settings(conn, &settings, &broken, err)) {
    goto out;
  }
  int committed = db_exec(conn, "COMMIT", &broken, err);
  /* Even a failed COMMIT may have committed: the cache starts again either way. */
  db_note_change(db, conn);
  if (!committed) {
    goto out;
  }
  *out = settings;
  settings = NULL;
  ret = 1;

out:
  /* On failure db_release rolls back the open transaction: nothing is written. */
  if (settings != NULL) {
    smime__v1__settings__free_unpacked(settings, NULL);
  }
  PQclear(res);
  PQclear(old.res);
  if (conn != NULL) {
    db_release(db, conn, broken);
  }
  strbuf_cleanup(&comment);
  free(comment_s);
  free(caller_s);
  return ret;
}
