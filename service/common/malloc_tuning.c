/* malloc_tuning.c: see malloc_tuning.h. */
#include "service/common/malloc_tuning.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service/common/log.h"

void malloc_exec_with_huge_pages(char **argv) {
  const char *old = getenv("GLIBC_TUNABLES");
  if (old != NULL && strstr(old, "glibc.malloc.hugetlb") != NULL) {
    return; /* done, or the operator's own choice */
  }
  char tunables[1024];
  int n = snprintf(tunables, sizeof(tunables), "%s%sglibc.malloc.hugetlb=1",
                   old != NULL ? old : "", old != NULL && old[0] != '\0' ? ":" : "");
  if (n < 0 || (size_t)n >= sizeof(tunables) || setenv("GLIBC_TUNABLES", tunables, 1) != 0) {
    log_warn("cannot set GLIBC_TUNABLES; large messages will be slower");
    return;
  }
  /* The program's own path, not /proc/self/exe: the name of the process (comm) is
   * that of the file executed. */
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (len <= 0 || (size_t)len >= sizeof(self) - 1) {
    log_warn("cannot find the program to re-execute; large messages will be slower");
  } else {
    self[len] = '\0';
    execv(self, argv);
    log_warn("re-executing with huge pages: %s; large messages will be slower",
             strerror(errno));
  }
  if (old != NULL) {
    setenv("GLIBC_TUNABLES", old, 1);
  } else {
    unsetenv("GLIBC_TUNABLES");
  }
}

void malloc_tune_for_messages(void) {
  if (!mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024) || !mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024) ||
      !mallopt(M_TOP_PAD, 1024 * 1024)) {
    log_warn("mallopt refused a setting; large messages will be slower");
  }
}

int malloc_release_after(size_t bytes) {
  if (bytes < MALLOC_LARGE_CALL) {
    return 0;
  }
  malloc_trim(0);
  return 1;
}
