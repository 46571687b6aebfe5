/* grpc_call.h: one unary gRPC call with the gRPC C core API, for any protobuf-c request
 * and response type. smimectl makes exactly one call per run. */
#ifndef SMIMED_CLIENT_GRPC_CALL_H
#define SMIMED_CLIENT_GRPC_CALL_H

#include <protobuf-c/protobuf-c.h>

#include "service/common/status.h"

/* GRPC_CALL_MAX_RECEIVE is the largest response accepted: 64 MiB, enough for any
 * message the service returns (mail with attachments, certificate lists). */
#define GRPC_CALL_MAX_RECEIVE (64 * 1024 * 1024)


/* RPC_TLS names the PEM files for TLS. All NULL: an insecure channel, which is what a
 * unix: socket or loopback address needs. ca_file alone: server authentication only.
 * cert_file and key_file: mutual TLS (both or neither). server_name overrides the name
 * expected in the server certificate (for connecting by IP address). */
typedef struct rpc_tls_st {
  const char *cert_file;
  const char *key_file;
  const char *ca_file;
  const char *server_name;
} RPC_TLS;

/* RPC_CHANNEL is a channel to one server. */
typedef struct rpc_channel_st RPC_CHANNEL;

/* rpc_channel_new makes a channel to |target| (gRPC target syntax: "unix:/path",
 * "host:port", "dns:///host:port"); it connects lazily, on the first call. Returns NULL
 * and fills |err| (INVALID_ARGUMENT) if a TLS file cannot be read, the credentials are
 * refused or gRPC cannot use the target. gRPC's own log lines are kept off stderr
 * unless GRPC_VERBOSITY is set. */
RPC_CHANNEL *rpc_channel_new(const char *target, const RPC_TLS *tls, STATUS *err);

/* rpc_channel_free closes |ch| and shuts gRPC down; NULL is fine. */
void rpc_channel_free(RPC_CHANNEL *ch);

/* rpc_call_unary calls |method| ("/smime.v1.SettingsService/GetSettings") with |req|,
 * giving up after |deadline_seconds|. On status OK with a response that parses as
 * |resp_desc|, returns 1 and sets |*out_resp| (free with
 * protobuf_c_message_free_unpacked(m, NULL)). Otherwise returns 0 and fills |err|. */
int rpc_call_unary(RPC_CHANNEL *ch, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_desc, double deadline_seconds,
                   ProtobufCMessage **out_resp, STATUS *err);


#endif /* SMIMED_CLIENT_GRPC_CALL_H */
