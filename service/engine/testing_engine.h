/* testing_engine.h: what the engine's tests share: the real smime-engine started over a
 * socketpair, one request and its answer, a test PKI made by tests/pki/make_pki.sh.
 * Every helper ends the test (CHECK) on failure. testonly. */
#ifndef SMIMED_ENGINE_TESTING_ENGINE_H
#define SMIMED_ENGINE_TESTING_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smime/ipc/ipc.pb-c.h"

/* testing_engine_start runs the engine |path| with its end of a socketpair as fd 3 and
 * the NULL-terminated |args| (or NULL) after "--fd 3"; sets |*out_fd| to our end. */
pid_t testing_engine_start(const char *path, const char *const *args, int *out_fd);

/* testing_engine_stop ends the stream and checks the engine exits 0. */
void testing_engine_stop(pid_t pid, int fd);

/* testing_engine_call sends |req| with request id |id| and returns the answer (free
 * with smime__ipc__engine_response__free_unpacked), checking its id. */
Smime__Ipc__EngineResponse *testing_engine_call(int fd, uint64_t id,
                                                Smime__Ipc__EngineRequest *req);

/* testing_expect_error checks that |resp| is an Error with |code| whose message
 * contains |part|, and frees it. */
void testing_expect_error(Smime__Ipc__EngineResponse *resp, uint32_t code, const char *part);

/* testing_make_pki runs make_pki.sh |script| into a new directory under $TEST_TMPDIR,
 * written to |dir| (|dir_len| bytes). */
void testing_make_pki(const char *script, char *dir, size_t dir_len);

/* testing_remove_dir removes |dir| and everything in it. */
void testing_remove_dir(const char *dir);

/* testing_read_file reads |dir|/|name| (malloc'd; not empty). */
uint8_t *testing_read_file(const char *dir, const char *name, size_t *out_len);

#endif /* SMIMED_ENGINE_TESTING_ENGINE_H */
