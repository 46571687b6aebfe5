/* kek.c: see kek.h. */
#include "service/keystore/kek.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include "service/common/log.h"

/* KEK_HEX_MAX is the largest file accepted: 64 hex digits and a newline. */
#define KEK_HEX_MAX (2 * KEK_LEN + 1)

/* kek_st keeps the key at the start of a private anonymous mapping of its own, so that
 * it can be locked and kept out of core dumps without touching the heap. */
struct kek_st {
  uint8_t *page;
  size_t page_len;
  int locked;
};

static const char kCheckLabel[] = "smimed kek check";

static KEK *kek_new(void) {
  KEK *kek = calloc(1, sizeof(KEK));
  if (kek == NULL) {
    return NULL;
  }
  long pagesize = sysconf(_SC_PAGESIZE);
  kek->page_len = pagesize > 0 ? (size_t)pagesize : 4096;
  void *p = mmap(NULL, kek->page_len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    free(kek);
    return NULL;
  }
  kek->page = p;
  /* kek_new keeps going without the lock or the dump exclusion (e.g. RLIMIT_MEMLOCK of
   * 0 in some containers): the keystore is also not dumpable and has no core limit. */
  madvise(kek->page, kek->page_len, MADV_DONTDUMP);
  if (mlock(kek->page, kek->page_len) == 0) {
    kek->locked = 1;
  } else {
    log_warn("cannot lock the key-encryption key in memory (%s); it may be swapped out",
             strerror(errno));
  }
  return kek;
}

void kek_free(KEK *kek) {
  if (kek == NULL) {
    return;
  }
  if (kek->page != NULL) {
    OPENSSL_cleanse(kek->page, kek->page_len);
    if (kek->locked) {
      munlock(kek->page, kek->page_len);
    }
    munmap(kek->page, kek->page_len);
  }
  free(kek);
}

void kek_wipe(KEK *kek) {
  if (kek != NULL && kek->page != NULL) {
    OPENSSL_cleanse(kek->page, kek->page_len);
  }
}

const uint8_t *kek_bytes(const KEK *kek) { return kek->page; }

int kek_check_value(const KEK *kek, char out[KEK_CHECK_VALUE_LEN + 1]) {
  static const char kHex[] = "0123456789abcdef";
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  out[0] = '\0';
  if (HMAC(EVP_sha256(), kek->page, KEK_LEN, (const uint8_t *)kCheckLabel,
           sizeof(kCheckLabel) - 1, mac, &mac_len) == NULL ||
      mac_len < KEK_CHECK_VALUE_LEN / 2) {
    return 0;
  }
  for (size_t i = 0; i < KEK_CHECK_VALUE_LEN / 2; i++) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 0x0f];
  }
  out[KEK_CHECK_VALUE_LEN] = '\0';
  OPENSSL_cleanse(mac, sizeof(mac));
  return 1;
}

static int hex_value(uint8_t c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* decode_contents turns the |len| bytes of the file into the key, in either form. */
static int decode_contents(const char *path, const uint8_t *buf, size_t len,
                           uint8_t *key, STATUS *err) {
  if (len == KEK_LEN) {
    memcpy(key, buf, KEK_LEN);
    return 1;
  }
  if (len != 2 * KEK_LEN && !(len == 2 * KEK_LEN + 1 && buf[2 * KEK_LEN] == '\n')) {
    return status_set(err, STATUS_FAILED_PRECONDITION,
                      "KEK file %s has %zu bytes; it must hold exactly %d bytes, or %d "
                      "hex digits and an optional newline",
                      path, len, KEK_LEN, 2 * KEK_LEN);
  }
  for (size_t i = 0; i < KEK_LEN; i++) {
    int hi = hex_value(buf[2 * i]);
    int lo = hex_value(buf[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(key, KEK_LEN);
      return status_set(err, STATUS_FAILED_PRECONDITION,
                        "KEK file %s is neither %d raw bytes nor %d hex digits: byte %zu "
                        "is not a hex digit",
                        path, KEK_LEN, 2 * KEK_LEN, hi < 0 ? 2 * i : 2 * i + 1);
    }
    key[i] = (uint8_t)(hi << 4 | lo);
  }
  return 1;
}

/* load_file reads an existing KEK file into |key|. Returns 1; or 0 with |err| filled,
 * and |*out_absent| set when the file does not exist (so that the caller creates it). */
static int load_file(const char *path, uint8_t *key, int *out_absent, STATUS *err) {
  *out_absent = 0;
  int ret = 0;
  uint8_t buf[KEK_HEX_MAX + 1];
  size_t got = 0;
  /* load_file follows a symlink (Kubernetes and Docker mount secrets through them)
   * but then insists on a regular file; O_NONBLOCK keeps a FIFO from hanging us. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) {
      *out_absent = 1;
    }
    return status_set(err, STATUS_FAILED_PRECONDITION, "cannot open KEK file %s: %s",
                      path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot stat KEK file %s: %s", path,
               strerror(errno));
    goto out;
  }
  if (!S_ISREG(st.st_mode)) {
    status_set(err, STATUS_FAILED_PRECONDITION, "KEK file %s is not a regular file",
               path);
    goto out;
  }
  unsigned mode = (unsigned)(st.st_mode & 07777);
  if (st.st_mode & (S_IRGRP | S_IROTH)) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "KEK file %s is readable by others (mode %04o); chmod 600 %s", path, mode,
               path);
    goto out;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH | S_IXGRP | S_IXOTH)) {
    status_set(err, STATUS_FAILED_PRECONDITION,
               "KEK file %s is accessible by others (mode %04o); chmod 600 %s", path,
               mode, path);
    goto out;
  }
  /* load_file reads one byte more than the largest valid file, so that a file that
   * grew after fstat is still caught. */
  while (got < sizeof(buf)) {
    ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      status_set(err, STATUS_FAILED_PRECONDITION, "cannot read KEK file %s: %s", path,
                 strerror(errno));
      goto out;
    }
    if (n == 0) {
      break;
    }
    got += (size_t)n;
  }
  if (!decode_contents(path, buf, got, key, err)) {
    goto out;
  }
  ret = 1;

out:
  OPENSSL_cleanse(buf, sizeof(buf));
  close(fd);
  return ret;
}

/* sync_parent fsyncs the directory holding |path|, so that the new file's name
 * survives a crash along with its contents. */
static int sync_parent(const char *path, STATUS *err) {
  int ret = 0;
  char *copy = strdup(path);
  if (copy == NULL) {
    return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
  }
  const char *dir = dirname(copy);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot open directory %s of KEK file: %s",
               dir, strerror(errno));
    goto out;
  }
  /* sync_parent accepts EINVAL: some file systems cannot sync a directory. */
  if (fsync(fd) != 0 && errno != EINVAL) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot sync directory %s of KEK file: %s",
               dir, strerror(errno));
    close(fd);
    goto out;
  }
  close(fd);
  ret = 1;

out:
  free(copy);
  return ret;
}

/* create_file writes a fresh random key to the new file |path|. Returns 1; or 0 with
 * |err| filled, and |*out_exists| set when another process created it first. A file
 * that could not be written completely is removed, so that the next start does not
 * meet a short one. */
static int create_file(const char *path, uint8_t *key, int *out_exists, STATUS *err) {
  *out_exists = 0;
  int created = 0;
  RAND_bytes(key, KEK_LEN);
  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      *out_exists = 1;
    }
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot create KEK file %s: %s", path,
               strerror(errno));
    goto err;
  }
  created = 1;
  /* create_file sets the mode again: the umask may have taken bits from 0600. */
  if (fchmod(fd, 0600) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot chmod KEK file %s: %s", path,
               strerror(errno));
    goto err;
  }
  size_t done = 0;
  while (done < KEK_LEN) {
    ssize_t n = write(fd, key + done, KEK_LEN - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      status_set(err, STATUS_FAILED_PRECONDITION, "cannot write KEK file %s: %s", path,
                 n < 0 ? strerror(errno) : "short write");
      goto err;
    }
    done += (size_t)n;
  }
  if (fsync(fd) != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot sync KEK file %s: %s", path,
               strerror(errno));
    goto err;
  }
  int rc = close(fd);
  fd = -1;
  if (rc != 0) {
    status_set(err, STATUS_FAILED_PRECONDITION, "cannot write KEK file %s: %s", path,
               strerror(errno));
    goto err;
  }
  if (!sync_parent(path, err)) {
    goto err;
  }
  return 1;

err:
  if (fd >= 0) {
    close(fd);
  }
  if (created) {
    unlink(path);
  }
  OPENSSL_cleanse(key, KEK_LEN);
  return 0;
}

/* load_or_create is kek_load_or_create, and kek_load when |create| is 0. */
static KEK *load_or_create(const char *path, int create, int *out_created, STATUS *err) {
  if (out_created != NULL) {
    *out_created = 0;
  }
  KEK *kek = kek_new();
  if (kek == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory for the KEK");
    return NULL;
  }
  /* load_or_create tries twice: when two processes race to create the file, the loser
   * loads what the winner wrote. */
  for (int attempt = 0; attempt < 2; attempt++) {
    int absent = 0;
    if (load_file(path, kek->page, &absent, err)) {
      return kek;
    }
    if (!absent || !create) {
      goto err;
    }
    int exists = 0;
    if (create_file(path, kek->page, &exists, err)) {
      if (out_created != NULL) {
        *out_created = 1;
      }
      return kek;
    }
    if (!exists) {
      goto err;
    }
  }

err:
  kek_free(kek);
  return NULL;
}

KEK *kek_load_or_create(const char *path, int *out_created, STATUS *err) {
  return load_or_create(path, 1, out_created, err);
}

KEK *kek_load(const char *path, STATUS *err) {
  return load_or_create(path, 0, NULL, err);
}
