/* audit.c: see audit.h. */
#include "service/front/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "service/common/log.h"
#include "service/db/log_store.h"

void audit_init(AUDIT *a, const CALL_INFO *info, Smime__V1__Direction direction) {
  memset(a, 0, sizeof(*a));
  smime__v1__log_entry__init(&a->entry);
  a->entry.direction = direction;
  a->entry.operations = a->ops;
  a->entry.caller = (char *)info->caller;
  a->entry.rpc = (char *)info->method;
  a->entry.addresses = a->addresses;
  a->entry.certificate_sha256 = a->fingerprints;
}

void audit_add_operation(AUDIT *a, Smime__V1__Operation op) {
  for (size_t i = 0; i < a->entry.n_operations; i++) {
    if (a->ops[i] == op) {
      return;
    }
  }
  if (a->entry.n_operations < sizeof(a->ops) / sizeof(a->ops[0])) {
    a->ops[a->entry.n_operations++] = op;
  }
}

/* add_name appends |name| to |names| (of |*n|) unless it is there or full. */
static void add_name(char **names, size_t *n, char *name) {
  if (name == NULL || name[0] == '\0') {
    return;
  }
  for (size_t i = 0; i < *n; i++) {
    if (strcmp(names[i], name) == 0) {
      return;
    }
  }
  if (*n < AUDIT_MAX_NAMES) {
    names[(*n)++] = name;
  }
}

void audit_add_address(AUDIT *a, char *addr) {
  add_name(a->addresses, &a->entry.n_addresses, addr);
}

void audit_add_fingerprint(AUDIT *a, char *hex) {
  add_name(a->fingerprints, &a->entry.n_certificate_sha256, hex);
}

void audit_add_certificate(AUDIT *a, const Smime__V1__Certificate *c) {
  audit_add_fingerprint(a, c->sha256_fingerprint);
  for (size_t i = 0; i < c->n_email_addresses; i++) {
    audit_add_address(a, c->email_addresses[i]);
  }
}

void audit_comment(AUDIT *a, const char *fmt, ...) {
  size_t used = strlen(a->comment);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->comment + used, sizeof(a->comment) - used, fmt, ap);
  va_end(ap);
}

/* send_entry is the log writer's LOG_WRITE_FN for one LogEntry: one statement. */
static int send_entry(PGconn *conn, void *entry, int *out_id_statement, STATUS *err) {
  *out_id_statement = 0;
  return log_store_send_insert(conn, entry, err);
}

int audit_append(APP *app, const Smime__V1__LogEntry *entry, int64_t *out_id, STATUS *err) {
  return log_writer_run(app->log_writer, send_entry, (void *)entry, out_id, err);
}

/* finish_entry sets the entry's status and comment. */
static void finish_entry(AUDIT *a, int success) {
  a->entry.status = success ? SMIME__V1__LOG_STATUS__LOG_STATUS_SUCCESS
                            : SMIME__V1__LOG_STATUS__LOG_STATUS_FAILURE;
  a->entry.comment = a->comment;
}

int audit_write(APP *app, PGconn *conn, AUDIT *a, int success, int64_t *out_id, STATUS *err) {
  int64_t id = 0;
  finish_entry(a, success);
  int ok = conn != NULL ? log_store_insert(conn, &a->entry, &id, err)
                        : audit_append(app, &a->entry, &id, err);
  if (ok && out_id != NULL) {
    *out_id = id;
  }
  return ok;
}

int audit_send(PGconn *conn, AUDIT *a, int success, STATUS *err) {
  finish_entry(a, success);
  return log_store_send_insert(conn, &a->entry, err);
}

void audit_failure(APP *app, AUDIT *a, const STATUS *why) {
  STATUS err;
  audit_comment(a, "%sfailed: %s: %s", a->comment[0] != '\0' ? "; " : "",
                status_code_name(why->code), why->message);
  if (!audit_write(app, NULL, a, 0, NULL, &err)) {
    log_warn("could not write the audit entry of a failed %s: %s", a->entry.rpc, err.message);
  }
}
