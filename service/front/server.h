/* server.h: the gRPC server loop of the front, on the gRPC C core.
 *
 * A fixed pool of threads, each with its own completion queue, each accepting one call
 * at a time and handling it synchronously (handlers block on PostgreSQL and on worker
 * IPC). Calls beyond the pool wait in gRPC until a thread is free. Unary methods are
 * dispatched by full method name to a handler that receives the decoded request;
 * streaming methods get the call itself (server_stream_*). */
#ifndef SMIMED_FRONT_SERVER_H
#define SMIMED_FRONT_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/front/roles.h"

typedef struct server_st SERVER;
typedef struct server_call_st SERVER_CALL;

/* CALL_INFO is what a handler knows of its caller. */
typedef struct call_info_st {
  const char *method;  /* "/smime.v1.SettingsService/GetSettings" */
  const char *caller;  /* for the audit log, e.g. "admin (unix socket)" or
                          "service: CN=helpdesk-app (tls 127.0.0.1:54321)" */
  int64_t deadline_ms; /* CLOCK_MONOTONIC ms; INT64_MAX when the client set none */
  int role;            /* the caller's ROLE (roles.h), already checked for |method| */
} CALL_INFO;

/* call_info_remaining_ms is how long until the call's deadline, capped at |cap_ms|. */
int call_info_remaining_ms(const CALL_INFO *info, int cap_ms);

/* unary_handler_fn handles one unary call. On success it returns 1 and sets |*out_resp|
 * (freed by the server with protobuf_c_message_free_unpacked). On failure it returns 0
 * and fills |err|. |req| is the handler's to change until it returns: it may free a
 * large bytes field it no longer needs (data NULL, len 0), so that a large message is
 * not held to the end of the call; the server frees the rest. */
typedef int (*unary_handler_fn)(void *app, const CALL_INFO *info,
                                ProtobufCMessage *req, ProtobufCMessage **out_resp,
                                STATUS *err);

/* stream_handler_fn handles a streaming call with server_stream_read/write. It returns
 * the final status: 1 for OK, or 0 with |err| filled. */
typedef int (*stream_handler_fn)(void *app, const CALL_INFO *info, SERVER_CALL *call,
                                 STATUS *err);

/* precheck_fn runs before every call's handler (e.g. "is the integration enabled?").
 * Returns 1 to proceed, or 0 with |err| filled to answer with that status. */
typedef int (*precheck_fn)(void *app, const CALL_INFO *info, STATUS *err);

/* SERVER_METHOD binds one RPC. Exactly one of |unary| and |stream| is set; both NULL
 * answers UNIMPLEMENTED (an RPC of the API that a later version will serve). */
typedef struct server_method_st {
  const char *path; /* "/package.Service/Method" */
  const ProtobufCMessageDescriptor *input;
  unary_handler_fn unary;
  stream_handler_fn stream;
  precheck_fn precheck; /* NULL: none */
} SERVER_METHOD;

/* denied_fn is told of every call refused for its caller's role (for the audit log). */
typedef void (*denied_fn)(void *app, const CALL_INFO *info, const STATUS *st);

typedef struct server_config_st {
  unsigned threads;          /* calls handled at once */
  size_t max_message_size;   /* bytes; larger requests get RESOURCE_EXHAUSTED */
  void *app;                 /* passed to every handler */
  /* roles maps a TLS client certificate to its role; kept by reference. NULL: the
   * defaults (SAN URI smimed:role:admin / smimed:role:service). */
  const ROLE_MAP *roles;
  denied_fn denied;          /* NULL: none */
} SERVER_CONFIG;

/* server_new creates a server (grpc_init must have been called) serving |methods|
 * (|n_methods| entries, kept by reference). Returns NULL on failure. */
SERVER *server_new(const SERVER_CONFIG *config, const SERVER_METHOD *methods,
                   size_t n_methods, STATUS *err);

/* server_add_insecure_listener binds |addr| ("unix:/path" or "127.0.0.1:port") without
 * transport security. Call before server_start. */
int server_add_insecure_listener(SERVER *server, const char *addr, STATUS *err);

/* server_add_tls_listener binds |addr| ("0.0.0.0:8443") with mutual TLS: the server
 * presents |cert_pem| (certificate chain, leaf first) with |key_pem|, and requires a
 * client certificate that verifies against |client_ca_pem|; a client without one, or
 * with one from another CA, fails the handshake. The caller's role then comes from its
 * certificate (roles.h). The PEM strings are copied. Call before server_start. */
int server_add_tls_listener(SERVER *server, const char *addr, const char *cert_pem,
                            const char *key_pem, const char *client_ca_pem, STATUS *err);

/* server_start starts the threads. */
int server_start(SERVER *server, STATUS *err);

/* server_shutdown stops accepting calls, lets calls in flight finish for up to
 * |grace_ms|, cancels the rest, joins the threads and frees |server|. Accepts NULL. */
void server_shutdown(SERVER *server, int grace_ms);

/* server_stream_read reads the next message of a streaming call into |*out_msg|.
 * Returns 1 with a message, 1 with |*out_msg| NULL at the end of the client's stream,
 * or 0 with |err| filled (the call broke, or the message does not decode). */
int server_stream_read(SERVER_CALL *call, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out_msg, STATUS *err);

/* server_stream_write sends |msg| on a streaming call. Returns 1 or 0 (call broken). */
int server_stream_write(SERVER_CALL *call, const ProtobufCMessage *msg, STATUS *err);

#endif /* SMIMED_FRONT_SERVER_H */
