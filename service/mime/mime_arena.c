/* mime_arena.c: see mime_arena.h. */
#include "service/mime/mime_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* MIME_ARENA_CHUNK is the usual chunk size; a larger request gets a chunk of its own,
 * so that a big allocation never wastes the rest of a chunk. */
#define MIME_ARENA_CHUNK 65536
#define MIME_ARENA_ALIGN 16

typedef struct mime_chunk_st {
  struct mime_chunk_st *next;
  size_t used;
  size_t size;
  /* data follows, aligned by the header's size (a multiple of MIME_ARENA_ALIGN). */
} MIME_CHUNK;

struct mime_arena_st {
  MIME_CHUNK *head;
};

/* mime_chunk_header is sizeof(MIME_CHUNK) rounded up, so that data is aligned. */
static size_t mime_chunk_header(void) {
  return (sizeof(MIME_CHUNK) + MIME_ARENA_ALIGN - 1) & ~(size_t)(MIME_ARENA_ALIGN - 1);
}

MIME_ARENA *mime_arena_new(void) {
  return calloc(1, sizeof(MIME_ARENA));
}

void mime_arena_free(MIME_ARENA *a) {
  if (a == NULL) {
    return;
  }
  MIME_CHUNK *c = a->head;
  while (c != NULL) {
    MIME_CHUNK *next = c->next;
    free(c);
    c = next;
  }
  free(a);
}

void *mime_arena_alloc(MIME_ARENA *a, size_t len) {
  if (len > SIZE_MAX / 2) {
    return NULL;
  }
  size_t need = (len + MIME_ARENA_ALIGN - 1) & ~(size_t)(MIME_ARENA_ALIGN - 1);
  if (need == 0) {
    need = MIME_ARENA_ALIGN;
  }
  MIME_CHUNK *c = a->head;
  if (c == NULL || c->size - c->used < need) {
    size_t size = need > MIME_ARENA_CHUNK / 4 ? need : MIME_ARENA_CHUNK;
    MIME_CHUNK *n = malloc(mime_chunk_header() + size);
    if (n == NULL) {
      return NULL;
    }
    n->used = 0;
    n->size = size;
    if (c != NULL && need > MIME_ARENA_CHUNK / 4) {
      /* A dedicated chunk goes second, so the current chunk keeps serving small
       * requests. */
      n->next = c->next;
      c->next = n;
    } else {
      n->next = c;
      a->head = n;
    }
    c = n;
  }
  uint8_t *p = (uint8_t *)c + mime_chunk_header() + c->used;
  c->used += need;
  memset(p, 0, len);
  return p;
}

char *mime_arena_strndup(MIME_ARENA *a, const void *p, size_t len) {
  if (len == SIZE_MAX) {
    return NULL;
  }
  char *s = mime_arena_alloc(a, len + 1);
  if (s == NULL) {
    return NULL;
  }
  if (len > 0) {
    memcpy(s, p, len);
  }
  s[len] = '\0';
  return s;
}
