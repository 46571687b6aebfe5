/* page_token.c: see page_token.h. */
#include "service/db/page_token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PREFIX "l1"
#define TOKEN_LEN (2 + 16 + 8)

/* fnv1a updates a 32-bit FNV-1a hash with |n| bytes. */
static uint32_t fnv1a(uint32_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

static uint32_t token_check(const char *domain, int64_t id, const char *filters) {
  uint32_t h = 2166136261u;
  uint64_t u = (uint64_t)id;
  unsigned char be[8];
  for (int i = 0; i < 8; i++) {
    be[i] = (unsigned char)(u >> (56 - 8 * i));
  }
  h = fnv1a(h, domain, strlen(domain) + 1);
  h = fnv1a(h, be, sizeof(be));
  h = fnv1a(h, filters, strlen(filters) + 1);
  return h;
}

char *page_token_make(const char *domain, int64_t id, const char *filters) {
  char *out = malloc(TOKEN_LEN + 1);
  if (out != NULL) {
    snprintf(out, TOKEN_LEN + 1, TOKEN_PREFIX "%016" PRIx64 "%08" PRIx32, (uint64_t)id,
             token_check(domain, id, filters));
  }
  return out;
}

/* hex_value parses |n| lowercase hex digits. */
static int hex_value(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    int d;
    if (s[i] >= '0' && s[i] <= '9') {
      d = s[i] - '0';
    } else if (s[i] >= 'a' && s[i] <= 'f') {
      d = s[i] - 'a' + 10;
    } else {
      return 0;
    }
    v = (v << 4) | (uint64_t)d;
  }
  *out = v;
  return 1;
}

int page_token_parse(const char *domain, const char *token, const char *filters,
                     int64_t *out_id, STATUS *err) {
  uint64_t id, check;
  *out_id = 0;
  if (strlen(token) != TOKEN_LEN || strncmp(token, TOKEN_PREFIX, 2) != 0 ||
      !hex_value(token + 2, 16, &id) || !hex_value(token + 18, 8, &check) ||
      id == 0 || id > (uint64_t)INT64_MAX ||
      (uint32_t)check != token_check(domain, (int64_t)id, filters)) {
    return status_set(err, STATUS_INVALID_ARGUMENT,
                      "page_token is not one this service issued (or the filters changed "
                      "since: keep them the same while paging)");
  }
  *out_id = (int64_t)id;
  return 1;
}
