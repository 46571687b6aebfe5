/* mime_arena.h: private to service/mime. Memory for one parse tree, freed as one, so
 * that a tree of thousands of entities and header fields costs a few large
 * allocations instead of one malloc per string, and cannot leak piecemeal. */
#ifndef SMIMED_MIME_ARENA_H
#define SMIMED_MIME_ARENA_H

#include <stddef.h>

typedef struct mime_arena_st MIME_ARENA;

/* mime_arena_new returns an empty arena, or NULL when out of memory. */
MIME_ARENA *mime_arena_new(void);

/* mime_arena_free frees every allocation of |a|, then |a|. Accepts NULL. */
void mime_arena_free(MIME_ARENA *a);

/* mime_arena_alloc returns |len| zeroed bytes owned by |a|, aligned for any type, or
 * NULL when out of memory (or |len| is absurd). */
void *mime_arena_alloc(MIME_ARENA *a, size_t len);

/* mime_arena_strndup copies |len| bytes of |p| into |a| and NUL-terminates them. */
char *mime_arena_strndup(MIME_ARENA *a, const void *p, size_t len);

#endif /* SMIMED_MIME_ARENA_H */
