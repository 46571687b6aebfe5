/* grpc_call.c: see grpc_call.h. One batch carries the whole unary call (send initial
 * metadata, the message and half-close; receive initial metadata, the message and the
 * status) on a pluck completion queue, the pattern of gRPC's own C core clients. */
#include "client/grpc_call.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rpc_channel_st {
  grpc_channel *channel;
};

/* g_grpc_errors collects what gRPC logs at ERROR severity while a channel is created:
 * an unusable target (a unix: path over 107 bytes, a malformed URI) is reported only
 * there, while the call on the resulting "lame" channel just says UNKNOWN. */
static char g_grpc_errors[1024];
static int g_capturing;

/* quiet_log replaces gRPC's logging, which would otherwise mix its own lines into
 * smimectl's stderr: errors are kept while a channel is created, the rest dropped.
 * GRPC_VERBOSITY in the environment restores gRPC's logging, for debugging. */
static void quiet_log(gpr_log_func_args *args) {
  if (!g_capturing || args->severity != GPR_LOG_SEVERITY_ERROR || args->message == NULL) {
    return;
  }
  size_t used = strlen(g_grpc_errors);
  // The message proper, without the debug details gRPC appends (" {file:...}").
  size_t n = strcspn(args->message, "{");
  while (n > 0 && args->message[n - 1] == ' ') {
    n--;
  }
  snprintf(g_grpc_errors + used, sizeof(g_grpc_errors) - used, "%s%.*s",
           used > 0 ? "; " : "", (int)n, args->message);
}

/* status_set fills |err| and returns 0. */
/* read_pem reads a whole PEM file as a NUL-terminated string (caller frees). */
static char *read_pem(const char *what, const char *path, STATUS *err) {
  char *data = NULL;
  size_t len = 0, cap = 0;
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    status_set(err, GRPC_STATUS_INVALID_ARGUMENT, "cannot read %s %s: %s", what, path,
               strerror(errno));
    return NULL;
  }
  for (;;) {
    if (cap - len < 4096) {
      cap = cap == 0 ? 8192 : cap * 2;
      char *grown = realloc(data, cap);
      if (grown == NULL) {
        status_set(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory reading %s", path);
        goto err;
      }
      data = grown;
    }
    size_t n = fread(data + len, 1, cap - len - 1, fp);
    if (n == 0) {
      break;
    }
    len += n;
  }
  if (ferror(fp)) {
    status_set(err, GRPC_STATUS_INVALID_ARGUMENT, "cannot read %s %s: %s", what, path,
               strerror(errno));
    goto err;
  }
  fclose(fp);
  data[len] = '\0';
  return data;

err:
  fclose(fp);
  free(data);
  return NULL;
}

/* tls_credentials makes SSL channel credentials from the files in |tls|. */
static grpc_channel_credentials *tls_credentials(const RPC_TLS *tls, STATUS *err) {
  grpc_channel_credentials *creds = NULL;
  char *ca = NULL, *cert = NULL, *key = NULL;
  if (tls->ca_file != NULL && (ca = read_pem("CA file", tls->ca_file, err)) == NULL) {
    goto out;
  }
  if (tls->cert_file != NULL &&
      (cert = read_pem("certificate file", tls->cert_file, err)) == NULL) {
    goto out;
  }
  if (tls->key_file != NULL && (key = read_pem("key file", tls->key_file, err)) == NULL) {
    goto out;
  }
  grpc_ssl_pem_key_cert_pair pair = {key, cert};
  creds = grpc_ssl_credentials_create(ca, cert != NULL && key != NULL ? &pair : NULL,
                                      NULL, NULL);
  if (creds == NULL) {
    status_set(err, GRPC_STATUS_INVALID_ARGUMENT, "TLS credentials refused by gRPC");
  }

out:
  free(ca);
  free(cert);
  if (key != NULL) {
    // The private key should not outlive its use in this process's memory.
    memset(key, 0, strlen(key));
    free(key);
  }
  return creds;
}

RPC_CHANNEL *rpc_channel_new(const char *target, const RPC_TLS *tls, STATUS *err) {
  RPC_CHANNEL *ch = NULL;
  grpc_channel_credentials *creds = NULL;
  int use_tls = tls != NULL && (tls->cert_file != NULL || tls->key_file != NULL ||
                                tls->ca_file != NULL || tls->server_name != NULL);
  status_set(err, GRPC_STATUS_OK, "%s", "");
  if (getenv("GRPC_VERBOSITY") == NULL) {
    gpr_set_log_function(quiet_log);
  }
  grpc_init();
  if (use_tls) {
    creds = tls_credentials(tls, err);
  } else {
    creds = grpc_insecure_credentials_create();
    if (creds == NULL) {
      status_set(err, GRPC_STATUS_INTERNAL, "cannot create insecure credentials");
    }
  }
  if (creds == NULL) {
    goto err;
  }
  grpc_arg args[2];
  size_t n_args = 0;
  args[n_args].type = GRPC_ARG_INTEGER;
  args[n_args].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[n_args].value.integer = GRPC_CALL_MAX_RECEIVE;
  n_args++;
  if (use_tls && tls->server_name != NULL) {
    args[n_args].type = GRPC_ARG_STRING;
    args[n_args].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
    args[n_args].value.string = (char *)tls->server_name;
    n_args++;
  }
  grpc_channel_args channel_args = {n_args, args};
  ch = calloc(1, sizeof(*ch));
  if (ch == NULL) {
    status_set(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  g_grpc_errors[0] = '\0';
  g_capturing = 1;
  ch->channel = grpc_channel_create(target, creds, &channel_args);
  g_capturing = 0;
  if (ch->channel == NULL || g_grpc_errors[0] != '\0') {
    status_set(err, GRPC_STATUS_INVALID_ARGUMENT, "cannot use the address %s: %s", target,
               g_grpc_errors[0] != '\0' ? g_grpc_errors : "refused by gRPC");
    goto err;
  }
  grpc_channel_credentials_release(creds);
  return ch;

err:
  if (ch != NULL && ch->channel != NULL) {
    grpc_channel_destroy(ch->channel);
  }
  free(ch);
  if (creds != NULL) {
    grpc_channel_credentials_release(creds);
  }
  grpc_shutdown();
  return NULL;
}

void rpc_channel_free(RPC_CHANNEL *ch) {
  if (ch == NULL) {
    return;
  }
  grpc_channel_destroy(ch->channel);
  free(ch);
  grpc_shutdown();
}

/* pack_request serializes |req| into a byte buffer for gRPC, or returns NULL. */
static grpc_byte_buffer *pack_request(const ProtobufCMessage *req) {
  size_t len = protobuf_c_message_get_packed_size(req);
  uint8_t *data = malloc(len > 0 ? len : 1);
  if (data == NULL) {
    return NULL;
  }
  protobuf_c_message_pack(req, data);
  grpc_slice slice = grpc_slice_from_copied_buffer((const char *)data, len);
  free(data);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);
  return bb;
}

/* unpack_response parses the received |bb| as |desc|, or returns NULL. */
static ProtobufCMessage *unpack_response(grpc_byte_buffer *bb,
                                         const ProtobufCMessageDescriptor *desc) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) {
    return NULL;
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(all),
                                                  GRPC_SLICE_START_PTR(all));
  grpc_slice_unref(all);
  return m;
}

/* deadline_after returns the time |seconds| from now. */
static gpr_timespec deadline_after(double seconds) {
  int64_t ms = (int64_t)(seconds * 1000.0);
  return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                      gpr_time_from_millis(ms > 0 ? ms : 1, GPR_TIMESPAN));
}

int rpc_call_unary(RPC_CHANNEL *ch, const char *method, const ProtobufCMessage *req,
                   const ProtobufCMessageDescriptor *resp_desc, double deadline_seconds,
                   ProtobufCMessage **out_resp, STATUS *err) {
  int ok = 0;
  grpc_completion_queue *cq = NULL;
  grpc_call *call = NULL;
  grpc_byte_buffer *request = NULL;
  grpc_byte_buffer *response = NULL;
  grpc_metadata_array initial_md, trailing_md;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  const char *error_string = NULL;

  *out_resp = NULL;
  status_set(err, GRPC_STATUS_OK, "%s", "");
  grpc_metadata_array_init(&initial_md);
  grpc_metadata_array_init(&trailing_md);

  request = pack_request(req);
  if (request == NULL) {
    status_set(err, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory packing the request");
    goto out;
  }
  cq = grpc_completion_queue_create_for_pluck(NULL);
  grpc_slice method_slice = grpc_slice_from_copied_string(method);
  call = grpc_channel_create_call(ch->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                  method_slice, NULL, deadline_after(deadline_seconds),
                                  NULL);
  grpc_slice_unref(method_slice);
  if (call == NULL) {
    status_set(err, GRPC_STATUS_INTERNAL, "cannot create a call to %s", method);
    goto out;
  }

  grpc_op ops[6];
  memset(ops, 0, sizeof(ops));
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 0;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = request;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &response;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  ops[5].data.recv_status_on_client.error_string = &error_string;
  void *tag = &ops;
  grpc_call_error rc = grpc_call_start_batch(call, ops, 6, tag, NULL);
  if (rc != GRPC_CALL_OK) {
    status_set(err, GRPC_STATUS_INTERNAL, "cannot start the call (grpc_call_error %d)",
               (int)rc);
    goto out;
  }
  // The call's deadline bounds the wait: the batch always completes by then.
  grpc_event ev =
      grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  if (ev.type != GRPC_OP_COMPLETE) {
    status_set(err, GRPC_STATUS_INTERNAL, "the call did not complete");
    goto out;
  }
  if (status != GRPC_STATUS_OK) {
    char *text = grpc_slice_to_c_string(details);
    status_set(err, (int)status, "%s",
               text != NULL && text[0] != '\0' ? text : "(no message from the server)");
    gpr_free(text);
    goto out;
  }
  if (response == NULL) {
    status_set(err, GRPC_STATUS_INTERNAL, "the server sent no response message");
    goto out;
  }
  *out_resp = unpack_response(response, resp_desc);
  if (*out_resp == NULL) {
    status_set(err, GRPC_STATUS_INTERNAL, "the response is not a valid %s",
               resp_desc->name);
    goto out;
  }
  ok = 1;

out:
  if (call != NULL) {
    grpc_call_unref(call);
  }
  if (cq != NULL) {
    grpc_completion_queue_shutdown(cq);
    // A pluck queue reports GRPC_QUEUE_SHUTDOWN once drained; then it may go.
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
  }
  grpc_byte_buffer_destroy(request);
  grpc_byte_buffer_destroy(response);
  grpc_slice_unref(details);
  gpr_free((void *)error_string);
  grpc_metadata_array_destroy(&initial_md);
  grpc_metadata_array_destroy(&trailing_md);
  return ok;
}
