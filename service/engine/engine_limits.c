/* engine_limits.c: see engine_limits.h. */
#include "service/engine/engine_limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* g_limits is written only by engine_limits_flag, at start (the engine is single
 * threaded). */
static ENGINE_LIMITS g_limits = {
    ENGINE_MAX_MIME_DEPTH_DEFAULT,
    ENGINE_MAX_MIME_PARTS_DEFAULT,
    ENGINE_MAX_CHAIN_LENGTH_DEFAULT,
};

/* LIMIT_FLAG is one flag: its name, range and where its value goes. */
typedef struct limit_flag_st {
  const char *name;
  unsigned min;
  unsigned max;
  unsigned *value;
} LIMIT_FLAG;

static const LIMIT_FLAG kFlags[] = {
    {"--max-mime-depth", ENGINE_MAX_MIME_DEPTH_MIN, ENGINE_MAX_MIME_DEPTH_MAX,
     &g_limits.max_mime_depth},
    {"--max-mime-parts", ENGINE_MAX_MIME_PARTS_MIN, ENGINE_MAX_MIME_PARTS_MAX,
     &g_limits.max_mime_parts},
    {"--max-chain-length", ENGINE_MAX_CHAIN_LENGTH_MIN, ENGINE_MAX_CHAIN_LENGTH_MAX,
     &g_limits.max_chain_length},
};

static const LIMIT_FLAG *find_flag(const char *arg) {
  for (size_t i = 0; i < sizeof(kFlags) / sizeof(kFlags[0]); i++) {
    if (strcmp(arg, kFlags[i].name) == 0) {
      return &kFlags[i];
    }
  }
  return NULL;
}

const ENGINE_LIMITS *engine_limits(void) { return &g_limits; }

int engine_limits_is_flag(const char *arg) { return find_flag(arg) != NULL; }

int engine_limits_flag(const char *arg, const char *value, STATUS *err) {
  const LIMIT_FLAG *f = find_flag(arg);
  if (f == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "unknown flag %s", arg);
  }
  char *end = NULL;
  errno = 0;
  unsigned long v = value[0] >= '0' && value[0] <= '9' ? strtoul(value, &end, 10) : 0;
  if (end == NULL || errno != 0 || *end != '\0' || v < f->min || v > f->max) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s must be a number from %u to %u, not \"%s\"",
                      f->name, f->min, f->max, value);
  }
  *f->value = (unsigned)v;
  return 1;
}

void engine_mime_limits(MIME_LIMITS *out) {
  mime_limits_default(out);
  out->max_depth = g_limits.max_mime_depth;
  out->max_parts = g_limits.max_mime_parts;
  out->depth_name = "--max-mime-depth";
  out->parts_name = "--max-mime-parts";
}

MIME_TREE *engine_mime_parse(const uint8_t *data, size_t len, STATUS *err) {
  MIME_LIMITS lim;
  engine_mime_limits(&lim);
  return mime_parse(data, len, &lim, err);
}
