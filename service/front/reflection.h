/* reflection.h: gRPC server reflection (grpc.reflection.v1 and v1alpha, which share one
 * wire format), answered from the FileDescriptorSet compiled into the daemon, so that
 * grpcurl and similar tools list and call our services without local .proto files. */
#ifndef SMIMED_FRONT_REFLECTION_H
#define SMIMED_FRONT_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/front/server.h"

typedef struct reflection_st REFLECTION;

/* reflection_new indexes the FileDescriptorSet |set| (|len| bytes) and announces the
 * |n_services| fully-qualified service names in |services|. */
REFLECTION *reflection_new(const uint8_t *set, size_t len, const char *const *services,
                           size_t n_services, STATUS *err);

/* reflection_free frees |r|. Accepts NULL. */
void reflection_free(REFLECTION *r);

/* reflection_serve answers one ServerReflectionInfo stream until the client ends it. */
int reflection_serve(REFLECTION *r, SERVER_CALL *call, STATUS *err);

#endif /* SMIMED_FRONT_REFLECTION_H */
