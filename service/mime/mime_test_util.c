/* mime_test_util.c: see mime_test_util.h. */
#include "service/mime/mime_test_util.h"

#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

uint8_t *test_read_file(const char *path, size_t *len) {
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return NULL;
  }
  size_t cap = 65536;
  size_t n = 0;
  uint8_t *buf = malloc(cap + 1);
  while (buf != NULL) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (n < cap) {
      break;
    }
    cap *= 2;
    uint8_t *nb = realloc(buf, cap + 1);
    if (nb == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
  }
  fclose(f);
  if (buf != NULL) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

int test_write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    return 0;
  }
  int ok = fwrite(data, 1, len, f) == len;
  return fclose(f) == 0 && ok;
}

const char *test_tmpdir(void) {
  const char *d = getenv("TEST_TMPDIR");
  return d != NULL && d[0] != '\0' ? d : "/tmp";
}

int test_run(const char *const argv[], const char *log) {
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) {
    return -1;
  }
  const char *out = log == NULL ? "/dev/null" : log;
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return -1;
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
    return -1;
  }
  return WEXITSTATUS(st);
}

double test_now(void) {
  struct timespec ts;
  /* CPU time, not wall time: the time limits of these tests are about our code's
   * complexity, and must not fail because other work shares the machine (CI). */
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int test_contains(const uint8_t *p, size_t len, const char *needle) {
  return memmem(p, len, needle, strlen(needle)) != NULL;
}
