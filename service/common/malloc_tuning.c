/* malloc_tuning.c: see malloc_tuning.h. */
#include "service/common/malloc_tuning.h"

#include <malloc.h>

#include "service/common/log.h"

void malloc_tune_for_messages(void) {
  /* 32 MiB is the largest threshold glibc accepts on 64-bit (half its heap size). */
  if (!mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) ||
      !mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024) || !mallopt(M_TOP_PAD, 64 * 1024 * 1024)) {
    log_warn("mallopt refused a setting; large messages will be slower");
  }
}
