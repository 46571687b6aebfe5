/* kek_rotation.h: smimed --rotate-kek NEW_KEK_FILE: re-wrap every stored private key
 * under a new key-encryption key, in one transaction, then (with --data-dir) install
 * the new key as DIR/kek.key.
 *
 * The front never sees a key: it spawns a keystore with both KEK files (the new one
 * created, 32 random bytes, mode 0600, when absent) and sends it each stored wrapped
 * key; the keystore answers the same key wrapped under the new KEK. The database
 * records the new check value in the same transaction, so the step is all or nothing,
 * and a second run notices it is done (it then only finishes the file step). Refused,
 * with nothing changed, while a daemon runs on the data directory (its flock) or on
 * the database (KEK_ROTATION_LOCK_KEY, kek_rotation_store.h). */
#ifndef SMIMED_FRONT_KEK_ROTATION_H
#define SMIMED_FRONT_KEK_ROTATION_H

typedef struct kek_rotation_config_st {
  const char *conninfo;      /* the database, embedded or --database-url */
  const char *engine_path;   /* smime-engine (the worker pool wants one) */
  const char *keystore_path; /* smime-keystore */
  const char *kek_path;      /* the current KEK file */
  const char *new_kek_path;  /* NEW_KEK_FILE */
  /* data_dir is set when kek_path is DIR/kek.key (--data-dir without --kek-file): the
   * new key is then installed there. NULL: the operator switches the files. */
  const char *data_dir;
} KEK_ROTATION_CONFIG;

/* kek_rotation_main runs the rotation, prints what it did and what the operator must
 * do next on stdout, logs any failure, and returns the process exit status (0 done or
 * nothing to do, 1 refused or failed). */
int kek_rotation_main(const KEK_ROTATION_CONFIG *config);

#endif /* SMIMED_FRONT_KEK_ROTATION_H */
