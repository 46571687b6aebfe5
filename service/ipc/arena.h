/* arena.h: memory for building one protobuf-c message (a worker's response), freed as
 * one. A handler allocates strings, bytes and sub-messages here and never frees them
 * one by one; the loop frees the arena after the response is written. The memory is
 * wiped before it is freed, since keystore answers can carry key material.
 * No dependencies: linked by the engine and the keystore. */
#ifndef SMIMED_IPC_ARENA_H
#define SMIMED_IPC_ARENA_H

#include <stddef.h>
#include <stdint.h>

typedef struct arena_st ARENA;

/* arena_new returns an empty arena, or NULL when out of memory. */
ARENA *arena_new(void);

/* arena_free wipes and frees every allocation of |a|, then |a|. Accepts NULL. */
void arena_free(ARENA *a);

/* arena_alloc returns |len| zeroed bytes owned by |a| (suitably aligned for any
 * type), or NULL when out of memory. */
void *arena_alloc(ARENA *a, size_t len);

/* arena_strdup copies the NUL-terminated |s| into |a|. */
char *arena_strdup(ARENA *a, const char *s);

/* arena_memdup copies |len| bytes of |p| into |a| (a valid pointer even when |len| is
 * 0, as protobuf-c bytes fields want). */
uint8_t *arena_memdup(ARENA *a, const void *p, size_t len);

/* arena_adopt makes the malloc'd |p| (|len| bytes) owned by |a|, wiped and freed with
 * it, and returns it: a large response field built elsewhere is not copied. On failure
 * (out of memory) it frees |p| and returns NULL. */
uint8_t *arena_adopt(ARENA *a, uint8_t *p, size_t len);

#endif /* SMIMED_IPC_ARENA_H */
