/* kek_rotation.c: see kek_rotation.h.
 *
 * Order, chosen so that an interruption anywhere loses nothing and the same command
 * finishes the job:
 *   1. checks that change nothing (the old file exists; with --data-dir the new one
 *      can be hard-linked into DIR);
 *   2. the exclusive advisory lock (refused while any daemon runs on the database);
 *   3. a keystore with both keys (creates NEW_KEK_FILE if absent);
 *   4. one transaction: lock the recorded check value and every private_keys row,
 *      re-wrap each in the keystore, store, record the new check value, commit;
 *      when the database already records the new value, skip to 5;
 *   5. with --data-dir: DIR/kek.key.retired-OLDCHECK as a second name of the old key,
 *      then DIR/kek.key replaced (rename) by the new key, then the directory fsync'ed.
 *      DIR/kek.key holds the old or the new key at every instant, never nothing, so a
 *      daemon or keystore never creates a stray third key there. NEW_KEK_FILE stays as
 *      a second name of the new key: a repeated run then finds both files holding the
 *      same key and the database agreeing, and says there is nothing to do. */
#include "service/front/kek_rotation.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/common/log.h"
#include "service/common/status.h"
#include "service/db/kek_rotation_store.h"
#include "service/pool/worker_pool.h"

/* REWRAP_TIMEOUT_MS bounds one keystore call (a few milliseconds in practice). */
#define REWRAP_TIMEOUT_MS 10000

/* CHECK_LEN holds a check value (16 hex digits) and more, for what a database holds. */
#define CHECK_LEN 80

/* ROTATION is one run's state. */
typedef struct rotation_st {
  const KEK_ROTATION_CONFIG *config;
  KEK_ROTATION_STORE *store;
  WORKER_POOL *pool;
  char old_check[CHECK_LEN]; /* of kek_path, from the keystore */
  char new_check[CHECK_LEN]; /* of new_kek_path, from the keystore */
  char db_check[CHECK_LEN];  /* recorded in the database before this run */
  size_t rewrapped;          /* keys re-wrapped by this run */
  int resumed;               /* the database already recorded new_check */
  char retired[PATH_MAX];    /* with data_dir: where the old key now also is */
} ROTATION;

/* same_file reports whether |a| and |b| name one file (both must exist). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* same_file_system reports whether the directory of |path| is on |dir|'s file system,
 * as a hard link from one to the other needs. */
static int same_file_system(const char *path, const char *dir, STATUS *err) {
  char copy[PATH_MAX];
  struct stat sp, sd;
  snprintf(copy, sizeof(copy), "%s", path);
  const char *parent = dirname(copy);
  if (stat(parent, &sp) != 0) {
    return status_set(err, STATUS_FAILED_PRECONDITION, "directory %s of %s: %s", parent,
                      path, strerror(errno));
  }
  if (stat(dir, &sd) != 0) {
    return status_set(err, STATUS_FAILED_PRECONDITION, "data directory %s: %s", dir,
                      strerror(errno));
  }
  if (sp.st_dev != sd.st_dev) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "%s is on another file system than %s; the new key is hard-linked "
                      "into the data directory: put it there, e.g. %s/kek.key.new",
                      path, dir, dir);
  }
  return 1;
}

/* check_paths refuses, before anything changes, what cannot work: no current key to
 * rotate from (a keystore would create one), the same file twice, or a new file that
 * cannot be linked into the data directory. */
static int check_paths(const KEK_ROTATION_CONFIG *c, STATUS *err) {
  struct stat st;
  if (stat(c->kek_path, &st) != 0) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "current key-encryption key file %s: %s; there is nothing to rotate "
                      "from",
                      c->kek_path, strerror(errno));
  }
  if (strcmp(c->kek_path, c->new_kek_path) == 0) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "--rotate-kek %s is the current key-encryption key file; give the "
                      "path of a new one (it is created when absent)",
                      c->new_kek_path);
  }
  if (c->data_dir != NULL && !same_file_system(c->new_kek_path, c->data_dir, err)) {
    return 0;
  }
  return 1;
}

/* start_keystore spawns the workers (one engine, which the pool insists on, and the
 * keystore with both keys) and reads the two check values. */
static int start_keystore(ROTATION *r, STATUS *err) {
  const KEK_ROTATION_CONFIG *c = r->config;
  WORKER_POOL_CONFIG wc = {.engine_path = c->engine_path,
                           .keystore_path = c->keystore_path,
                           .kek_path = c->kek_path,
                           .new_kek_path = c->new_kek_path,
                           .engines = 1};
  r->pool = worker_pool_start(&wc, err);
  if (r->pool == NULL) {
    return 0;
  }
  /* The pool's first hello reported both keys' check values. */
  if (worker_pool_new_kek_check_value(r->pool)[0] == '\0') {
    return status_set(err, STATUS_INTERNAL, "the keystore did not report the new key "
                                            "(is smime-keystore older than smimed?)");
  }
  snprintf(r->old_check, sizeof(r->old_check), "%s", worker_pool_kek_check_value(r->pool));
  snprintf(r->new_check, sizeof(r->new_check), "%s", worker_pool_new_kek_check_value(r->pool));
  return 1;
}

/* rewrap_one is the KEK_REWRAP_FN: one keystore round trip per key. Only wrapped
 * blobs pass through here. */
static int rewrap_one(void *ctx, long long certificate_id, const uint8_t *cert_sha256,
                      const uint8_t *wrapped, size_t wrapped_len, uint8_t **out,
                      size_t *out_len, STATUS *err) {
  ROTATION *r = ctx;
  Smime__Ipc__WrappedKey key = SMIME__IPC__WRAPPED_KEY__INIT;
  key.certificate_sha256.data = (uint8_t *)cert_sha256;
  key.certificate_sha256.len = 32;
  key.wrapped.data = (uint8_t *)wrapped;
  key.wrapped.len = wrapped_len;
  Smime__Ipc__KeystoreRewrapRequest rewrap = SMIME__IPC__KEYSTORE_REWRAP_REQUEST__INIT;
  rewrap.key = &key;
  Smime__Ipc__KeystoreRequest req = SMIME__IPC__KEYSTORE_REQUEST__INIT;
  req.body_case = SMIME__IPC__KEYSTORE_REQUEST__BODY_REWRAP;
  req.rewrap = &rewrap;
  Smime__Ipc__KeystoreResponse *resp = NULL;
  STATUS st;
  status_clear(&st);
  if (!worker_pool_keystore_call(r->pool, &req, &resp, REWRAP_TIMEOUT_MS, &st)) {
    return status_set(err, st.code, "re-wrapping the key of certificate id %lld: %s",
                      certificate_id, st.message);
  }
  int ok = 0;
  if (resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_REWRAP &&
      resp->rewrap->wrapped.len > 0) {
    *out = malloc(resp->rewrap->wrapped.len);
    if (*out == NULL) {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    } else {
      memcpy(*out, resp->rewrap->wrapped.data, resp->rewrap->wrapped.len);
      *out_len = resp->rewrap->wrapped.len;
      ok = 1;
    }
  } else {
    status_set(err, resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR
                        ? (int)resp->error->code
                        : STATUS_INTERNAL,
               "re-wrapping the key of certificate id %lld: %s", certificate_id,
               resp->body_case == SMIME__IPC__KEYSTORE_RESPONSE__BODY_ERROR
                   ? resp->error->message
                   : "the keystore answered something else");
  }
  smime__ipc__keystore_response__free_unpacked(resp, NULL);
  return ok;
}

/* rewrap_database is step 4: the one transaction, or nothing when an earlier run
 * already committed it. */
static int rewrap_database(ROTATION *r, STATUS *err) {
  if (!kek_rotation_store_begin(r->store, r->db_check, sizeof(r->db_check), err)) {
    return 0;
  }
  if (strcmp(r->db_check, r->new_check) == 0) {
    kek_rotation_store_rollback(r->store);
    r->resumed = 1;
    return 1;
  }
  if (r->db_check[0] == '\0') {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "the database records no key-encryption key yet (smimed never "
                      "started on it): there is nothing to re-wrap");
  }
  if (strcmp(r->db_check, r->old_check) != 0) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "the database's keys are wrapped under the key-encryption key with "
                      "check value %s, but %s holds %s and %s holds %s: give the key file "
                      "this database uses; nothing was changed",
                      r->db_check, r->config->kek_path, r->old_check,
                      r->config->new_kek_path, r->new_check);
  }
  if (!kek_rotation_store_rewrap_all(r->store, r->old_check, r->new_check, rewrap_one, r,
                                     &r->rewrapped, err)) {
    return 0;
  }
  /* rewrap_database refuses to commit blobs from two keystore processes: a restarted
   * one loaded NEW_KEK_FILE again, and that file could have changed in between. */
  WORKER_POOL_STATS stats;
  worker_pool_stats(r->pool, &stats);
  if (stats.keystore_restarts != 0) {
    return status_set(err, STATUS_ABORTED,
                      "the keystore restarted during the rotation; nothing was changed, "
                      "run the command again");
  }
  return kek_rotation_store_commit(r->store, err);
}

/* sync_dir fsyncs |dir| so that renames and links in it survive a crash. */
static int sync_dir(const char *dir, STATUS *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return status_set(err, STATUS_INTERNAL, "cannot open %s to sync it: %s", dir,
                      strerror(errno));
  }
  /* sync_dir accepts EINVAL: some file systems cannot sync a directory. */
  int ok = fsync(fd) == 0 || errno == EINVAL;
  if (!ok) {
    status_set(err, STATUS_INTERNAL, "cannot sync %s: %s", dir, strerror(errno));
  }
  close(fd);
  return ok;
}

/* link_retired gives the old key its retired name, DIR/kek.key.retired-OLDCHECK, as a
 * second link: a name left by an interrupted run is accepted when it is that file. */
static int link_retired(ROTATION *r, STATUS *err) {
  const KEK_ROTATION_CONFIG *c = r->config;
  snprintf(r->retired, sizeof(r->retired), "%s/kek.key.retired-%s", c->data_dir,
           r->old_check);
  if (link(c->kek_path, r->retired) == 0 ||
      (errno == EEXIST && same_file(c->kek_path, r->retired))) {
    return 1;
  }
  if (errno == EEXIST) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "%s exists and is not %s: move it away, then run the same command "
                      "again (the database is already done)",
                      r->retired, c->kek_path);
  }
  return status_set(err, STATUS_INTERNAL, "cannot link %s to %s: %s", c->kek_path, r->retired,
                    strerror(errno));
}

/* install_new_kek is step 5 (data directory only). The new key reaches DIR/kek.key by
 * link and rename, so the front never reads a key byte. */
static int install_new_kek(ROTATION *r, STATUS *err) {
  const KEK_ROTATION_CONFIG *c = r->config;
  char tmp[PATH_MAX];
  if (!link_retired(r, err)) {
    return 0;
  }
  snprintf(tmp, sizeof(tmp), "%s/kek.key.installing", c->data_dir);
  if (unlink(tmp) != 0 && errno != ENOENT) {
    return status_set(err, STATUS_INTERNAL, "cannot remove %s: %s", tmp, strerror(errno));
  }
  if (link(c->new_kek_path, tmp) != 0) {
    return status_set(err, STATUS_INTERNAL, "cannot link %s to %s: %s", c->new_kek_path, tmp,
                      strerror(errno));
  }
  if (rename(tmp, c->kek_path) != 0) {
    status_set(err, STATUS_INTERNAL, "cannot rename %s to %s: %s", tmp, c->kek_path,
               strerror(errno));
    unlink(tmp);
    return 0;
  }
  return sync_dir(c->data_dir, err);
}

/* print_report says what happened and what the operator must do now. */
static void print_report(const ROTATION *r) {
  const KEK_ROTATION_CONFIG *c = r->config;
  if (r->resumed) {
    printf("The database already records the new key-encryption key (check value %s): an "
           "earlier run re-wrapped its keys; none were re-wrapped now.\n",
           r->new_check);
  } else {
    printf("Re-wrapped %zu private key(s) under the new key-encryption key, in one "
           "transaction; the database now records its check value.\n",
           r->rewrapped);
  }
  printf("  old key-encryption key: check value %s (%s)\n", r->old_check,
         c->data_dir != NULL ? r->retired : c->kek_path);
  printf("  new key-encryption key: check value %s (%s)\n", r->new_check,
         c->data_dir != NULL ? c->kek_path : c->new_kek_path);
  printf("Next:\n");
  if (c->data_dir != NULL) {
    printf("  - %s is now the new key (%s is a second name of it; remove that name once "
           "the key is backed up). Start smimed as before: smimed --data-dir %s\n",
           c->kek_path, c->new_kek_path, c->data_dir);
  } else {
    printf("  - start every smimed that uses this database with --kek-file %s (or that "
           "key in the file or secret they mount): one started with the old key refuses "
           "to start on this database\n",
           c->new_kek_path);
  }
  printf("  - back up the new key now, apart from the database\n");
  printf("  - keep the old key (%s) as long as you keep database backups made before "
         "this rotation: only it opens their keys. Then destroy it.\n",
         c->data_dir != NULL ? r->retired : c->kek_path);
}

/* rotate runs steps 2 to 5 on |r|. */
static int rotate(ROTATION *r, STATUS *err) {
  const KEK_ROTATION_CONFIG *c = r->config;
  r->store = kek_rotation_store_open(c->conninfo, err);
  if (r->store == NULL || !start_keystore(r, err)) {
    return 0;
  }
  if (strcmp(r->old_check, r->new_check) == 0) {
    /* rotate meets one key under two names after a completed run (data directory), or
     * when it was given a copy of the current key. */
    int done = kek_rotation_store_begin(r->store, r->db_check, sizeof(r->db_check), err) &&
               strcmp(r->db_check, r->new_check) == 0;
    kek_rotation_store_rollback(r->store);
    if (done) {
      printf("Nothing to do: %s and %s hold the same key-encryption key (check value %s), "
             "and the database records it: the rotation is complete.\n",
             c->kek_path, c->new_kek_path, r->new_check);
      return 1;
    }
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "%s holds the same key-encryption key as %s (check value %s); give "
                      "the path of a new key file (it is created when absent)",
                      c->new_kek_path, c->kek_path, r->new_check);
  }
  log_info("rotating the key-encryption key: %s (check value %s) -> %s (check value %s)",
           c->kek_path, r->old_check, c->new_kek_path, r->new_check);
  if (!rewrap_database(r, err)) {
    return 0;
  }
  if (c->data_dir != NULL && !install_new_kek(r, err)) {
    STATUS why = *err;
    return status_set(err, why.code,
                      "the keys are re-wrapped and committed, but installing the new key "
                      "in %s failed: %s. Fix that and run the same command again: it "
                      "finishes this step",
                      c->data_dir, why.message);
  }
  print_report(r);
  return 1;
}

int kek_rotation_main(const KEK_ROTATION_CONFIG *config) {
  ROTATION r;
  STATUS err;
  memset(&r, 0, sizeof(r));
  r.config = config;
  status_clear(&err);
  int ok = check_paths(config, &err) && rotate(&r, &err);
  /* The keystore goes first: it holds both keys. */
  worker_pool_free(r.pool);
  kek_rotation_store_free(r.store);
  if (!ok) {
    log_error("key-encryption key rotation failed: %s", err.message);
    return 1;
  }
  fflush(stdout);
  return 0;
}
