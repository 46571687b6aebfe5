/* migrations.h: the database schema, as an ordered list of migrations that db_open
 * applies. A migration, once released, never changes: a schema change is a new entry
 * at the end of the list. */
#ifndef SMIMED_DB_MIGRATIONS_H
#define SMIMED_DB_MIGRATIONS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "service/common/status.h"

/* MIGRATION is one schema step: |sql| may hold several statements; it runs inside the
 * transaction that also records |version| in schema_migrations. */
typedef struct migration_st {
  unsigned version;
  const char *description;
  const char *sql;
} MIGRATION;

/* kMigrations lists every migration, versions 1, 2, ... in order; kMigrationsCount is
 * its length. */
extern const MIGRATION kMigrations[];
extern const size_t kMigrationsCount;

/* MIGRATIONS_LOCK_KEY is the pg_advisory_xact_lock key that serializes migrations
 * between replicas starting at the same time ("smimed" in ASCII). */
#define MIGRATIONS_LOCK_KEY 0x736d696d6564LL

/* migrations_apply applies, on |conn| (idle, not in a transaction), every migration
 * newer than the database's, in one transaction under MIGRATIONS_LOCK_KEY, and sets
 * |*out_version| to the schema version now in place. A database whose schema is newer
 * than this binary knows is refused (FAILED_PRECONDITION): an older smimed must not
 * write to it. Sets |*out_broken| to 1 if the connection broke. */
int migrations_apply(PGconn *conn, unsigned *out_version, int *out_broken, STATUS *err);

#endif /* SMIMED_DB_MIGRATIONS_H */
