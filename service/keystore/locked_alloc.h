/* locked_alloc.h: the keystore's allocator for BoringSSL: locked, wiped memory
 * (locked_alloc.c defines BoringSSL's OPENSSL_memory_* hooks). */
#ifndef SMIMED_KEYSTORE_LOCKED_ALLOC_H
#define SMIMED_KEYSTORE_LOCKED_ALLOC_H

#include <stddef.h>

/* locked_alloc_init sets glibc's malloc so that heap pages, once locked, stay mapped:
 * call it first in main, before BoringSSL allocates anything. */
void locked_alloc_init(void);

/* locked_alloc_lock_heap locks the heap up to its current end (what plain malloc may
 * have added since): the keystore calls it around each request. */
void locked_alloc_lock_heap(void);

#endif /* SMIMED_KEYSTORE_LOCKED_ALLOC_H */
