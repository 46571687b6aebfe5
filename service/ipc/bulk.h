/* bulk.h: which field of an engine response may travel as a bulk frame (ipc.proto,
 * FRAME_TYPE_ENGINE_RESPONSE_BULK then FRAME_TYPE_BULK): the protected message of
 * sign_finish and encrypt. The engine sends it apart when it is large, so that the
 * front reads it straight into the buffer it answers from, instead of reading the
 * frame and then copying the field out of it while unpacking (34 MiB twice for a
 * 25 MiB message). Shared by the engine (writer) and the worker pool (reader). */
#ifndef SMIMED_IPC_BULK_H
#define SMIMED_IPC_BULK_H

#include "smime/ipc/ipc.pb-c.h"

/* BULK_MIN is the size from which the engine sends the field as a bulk frame. */
#define BULK_MIN ((size_t)1024 * 1024)

/* engine_response_bulk_field is the field of |resp| that may travel as a bulk frame,
 * or NULL when its body has none. */
ProtobufCBinaryData *engine_response_bulk_field(Smime__Ipc__EngineResponse *resp);

#endif /* SMIMED_IPC_BULK_H */
