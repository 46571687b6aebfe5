/* arena.c: see arena.h. Each allocation is its own malloc block on a list: responses
 * hold a handful of fields, so simplicity beats packing. */
#include "service/ipc/arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* arena_block is one allocation; |data| follows the header, aligned for any type. */
struct arena_block {
  struct arena_block *next;
  size_t len;
  alignas(max_align_t) unsigned char data[];
};

/* arena_adopted is a malloc'd buffer given to the arena by arena_adopt. */
struct arena_adopted {
  struct arena_adopted *next;
  uint8_t *p;
  size_t len;
};

struct arena_st {
  struct arena_block *head;
  struct arena_adopted *adopted;
};

ARENA *arena_new(void) { return calloc(1, sizeof(ARENA)); }

void arena_free(ARENA *a) {
  if (a == NULL) {
    return;
  }
  struct arena_block *b = a->head;
  while (b != NULL) {
    struct arena_block *next = b->next;
    explicit_bzero(b->data, b->len);
    free(b);
    b = next;
  }
  struct arena_adopted *d = a->adopted;
  while (d != NULL) {
    struct arena_adopted *next = d->next;
    explicit_bzero(d->p, d->len);
    free(d->p);
    free(d);
    d = next;
  }
  free(a);
}

void *arena_alloc(ARENA *a, size_t len) {
  if (len > (size_t)-1 - sizeof(struct arena_block)) {
    return NULL;
  }
  struct arena_block *b = calloc(1, sizeof(struct arena_block) + len);
  if (b == NULL) {
    return NULL;
  }
  b->len = len;
  b->next = a->head;
  a->head = b;
  return b->data;
}

char *arena_strdup(ARENA *a, const char *s) {
  size_t len = strlen(s);
  char *p = arena_alloc(a, len + 1);
  if (p == NULL) {
    return NULL;
  }
  memcpy(p, s, len);
  return p;
}

uint8_t *arena_memdup(ARENA *a, const void *p, size_t len) {
  uint8_t *q = arena_alloc(a, len);
  if (q == NULL) {
    return NULL;
  }
  if (len > 0) {
    memcpy(q, p, len);
  }
  return q;
}

uint8_t *arena_adopt(ARENA *a, uint8_t *p, size_t len) {
  struct arena_adopted *d = malloc(sizeof(*d));
  if (d == NULL) {
    explicit_bzero(p, len);
    free(p);
    return NULL;
  }
  d->p = p;
  d->len = len;
  d->next = a->adopted;
  a->adopted = d;
  return p;
}
