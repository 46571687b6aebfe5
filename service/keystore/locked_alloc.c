/* locked_alloc.c: BoringSSL's allocation hooks, defined by the keystore so that every
 * block BoringSSL allocates in it (private keys' bignums, decrypted PKCS#8 and PKCS#12
 * contents, content-encryption keys) lies in locked pages, which are never written to
 * swap, and is wiped when freed.
 *
 * BoringSSL calls OPENSSL_memory_alloc, _free and _get_size instead of its own malloc
 * wrappers when the program defines them (weak symbols of libcrypto; the linker exports
 * the keystore's definitions because libcrypto refers to them). With the hooks,
 * wiping on free is ours to do (BoringSSL's crypto/mem.c says so).
 *
 * Locking: the heap (glibc's main arena, where nearly all of the keystore's memory
 * lives) is locked from its start up to the highest block handed out so far, so that
 * every page of it is locked, whoever allocated in it: BoringSSL through these hooks
 * (locked when allocated, before a key is written there), and the request, the arena
 * and the response frame through plain malloc (locked when the next BoringSSL block or
 * locked_alloc_lock_heap, called by the keystore's loop around every request, extends
 * the range). The range only grows, because locked_alloc_init stops glibc from
 * returning heap memory to the system, so a locked page stays locked (and mapped) for
 * the life of the process. Blocks glibc serves with their own mapping (larger than the
 * mmap threshold: a big PKCS#12 being imported) are locked each time; their lock ends
 * with their munmap. Beyond RLIMIT_MEMLOCK, mlock fails: the block is still returned
 * (a refused allocation would fail the request), and the keystore says once in its log
 * that key memory is no longer locked.
 *
 * The keystore is single-threaded: no lock guards the range. */
#include "service/keystore/locked_alloc.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "service/common/log.h"

void *OPENSSL_memory_alloc(size_t size);
void OPENSSL_memory_free(void *ptr);
size_t OPENSSL_memory_get_size(void *ptr);

/* LOCKED_ALLOC_MMAP_THRESHOLD: blocks up to this size come from the heap (glibc's
 * largest threshold), so that almost everything lands in the locked range. */
#define LOCKED_ALLOC_MMAP_THRESHOLD (32 * 1024 * 1024)

static uintptr_t g_page;
static uintptr_t g_heap_lo;   /* the first heap page locked_alloc_init saw */
static uintptr_t g_locked_hi; /* [g_heap_lo, g_locked_hi) is locked */
static int g_lock_failed;

static uintptr_t page_floor(uintptr_t a) { return a & ~(g_page - 1); }
static uintptr_t page_ceil(uintptr_t a) { return (a + g_page - 1) & ~(g_page - 1); }

/* lock_pages mlocks [lo, hi), page-aligned; 0 (logged once) when it cannot. */
static int lock_pages(uintptr_t lo, uintptr_t hi) {
  if (mlock((void *)lo, hi - lo) == 0) {
    return 1;
  }
  if (!g_lock_failed) {
    g_lock_failed = 1;
    log_warn("mlock of key memory failed (%s): from now on private keys may be swapped "
             "out; raise the keystore's RLIMIT_MEMLOCK (ulimit -l) or grant CAP_IPC_LOCK",
             strerror(errno));
  }
  return 0;
}

/* lock_heap_to extends the locked heap range up to |end| (an address in the heap). */
static void lock_heap_to(uintptr_t end) {
  uintptr_t hi = page_ceil(end);
  if (hi > g_locked_hi && lock_pages(g_locked_hi, hi)) {
    g_locked_hi = hi;
  }
}

/* heap_start is where the heap begins, read from /proc/self/maps (locked_alloc_init
 * runs before the seccomp filter forbids opening files); else the first block malloc
 * returns, at or above it. */
static uintptr_t heap_start(void) {
  uintptr_t lo = 0;
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    if (strstr(line, "[heap]") != NULL) {
      lo = (uintptr_t)strtoull(line, NULL, 16);
      break;
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  if (lo == 0) {
    void *probe = malloc(1);
    lo = probe != NULL ? (uintptr_t)probe : (uintptr_t)sbrk(0);
    free(probe);
  }
  return page_floor(lo);
}

void locked_alloc_init(void) {
  long page = sysconf(_SC_PAGESIZE);
  g_page = page > 0 ? (uintptr_t)page : 4096;
  /* Never give heap pages back (they would come back unlocked at the same addresses). */
  if (!mallopt(M_TRIM_THRESHOLD, -1) || !mallopt(M_MMAP_THRESHOLD, LOCKED_ALLOC_MMAP_THRESHOLD)) {
    log_warn("mallopt refused the keystore's settings; key memory may not stay locked");
  }
  g_heap_lo = heap_start();
  g_locked_hi = g_heap_lo;
  locked_alloc_lock_heap();
}

void locked_alloc_lock_heap(void) {
  /* sbrk(0) reads glibc's cached program break: no system call. */
  lock_heap_to((uintptr_t)sbrk(0));
}

/* lock_block locks the pages of a block of |size| bytes at |p|. */
static void lock_block(void *p, size_t size) {
  uintptr_t lo = (uintptr_t)p, end = lo + size;
  if (g_page == 0) {
    locked_alloc_init();
  }
  if (lo >= g_heap_lo && end <= (uintptr_t)sbrk(0)) {
    lock_heap_to(end);
  } else if (!(lo >= g_heap_lo && end <= g_locked_hi)) {
    lock_pages(page_floor(lo), page_ceil(end));
  }
}

void *OPENSSL_memory_alloc(size_t size) {
  void *p = malloc(size > 0 ? size : 1);
  if (p != NULL) {
    lock_block(p, malloc_usable_size(p));
  }
  return p;
}

void OPENSSL_memory_free(void *ptr) {
  /* BoringSSL never passes NULL here. */
  explicit_bzero(ptr, malloc_usable_size(ptr));
  free(ptr);
}

size_t OPENSSL_memory_get_size(void *ptr) { return malloc_usable_size(ptr); }
