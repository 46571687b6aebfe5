/* server.c: see server.h.
 *
 * Each thread owns one completion queue, registered with the server, and asks for one
 * call at a time: grpc_server_request_call with that queue both for the notification
 * and as the call's queue. While a thread handles a call, the only events on its queue
 * are that call's batches, so the thread waits for each batch with
 * grpc_completion_queue_next on its own queue. */
#include "service/front/server.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/common/log.h"
#include "service/common/malloc_tuning.h"
#include "service/front/metrics.h"

struct server_call_st {
  grpc_call *call;
  grpc_completion_queue *cq;
  int sent_initial_metadata;
  size_t moved; /* request and response bytes of the call, for malloc_release_after */
};

typedef struct server_thread_st {
  SERVER *server;
  grpc_completion_queue *cq;
  pthread_t thread;
  int started;
} SERVER_THREAD;

struct server_st {
  grpc_server *grpc;
  grpc_completion_queue *shutdown_cq;
  const SERVER_METHOD *methods;
  size_t n_methods;
  SERVER_CONFIG config;
  SERVER_THREAD *threads;
  ROLE_MAP default_roles;
};

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int call_info_remaining_ms(const CALL_INFO *info, int cap_ms) {
  if (info->deadline_ms == INT64_MAX) {
    return cap_ms;
  }
  int64_t left = info->deadline_ms - monotonic_ms();
  if (left < 0) {
    return 0;
  }
  return left < cap_ms ? (int)left : cap_ms;
}

/* deadline_to_monotonic_ms converts gRPC's call deadline to our clock. */
static int64_t deadline_to_monotonic_ms(gpr_timespec deadline) {
  gpr_timespec mono = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
  if (gpr_time_cmp(mono, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0 ||
      mono.tv_sec > INT64_MAX / 2000) {
    return INT64_MAX;
  }
  /* gpr's monotonic clock has its own epoch: measure the distance from now. */
  gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
  gpr_timespec left = gpr_time_sub(mono, now);
  return monotonic_ms() + (int64_t)left.tv_sec * 1000 + left.tv_nsec / 1000000;
}

/* run_batch starts |ops| on |sc| and waits for it on the thread's queue. */
static int run_batch(SERVER_CALL *sc, grpc_op *ops, size_t n) {
  grpc_call_error rc = grpc_call_start_batch(sc->call, ops, n, sc, NULL);
  if (rc != GRPC_CALL_OK) {
    log_error("grpc_call_start_batch failed: %d", (int)rc);
    return 0;
  }
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(sc->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_OP_COMPLETE && ev.tag == sc) {
      return ev.success;
    }
    if (ev.type == GRPC_QUEUE_SHUTDOWN) {
      return 0;
    }
  }
}

/* byte_buffer_to_message decodes |bb| as |desc|, adding its length to |*moved|, and
 * destroys |bb|: as soon as its bytes are gathered and before they are decoded, so
 * that a large message is not held three times (gRPC's slices, their gathered copy,
 * the decoded message). */
static ProtobufCMessage *byte_buffer_to_message(grpc_byte_buffer *bb,
                                                const ProtobufCMessageDescriptor *desc,
                                                size_t *moved) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) {
    grpc_byte_buffer_destroy(bb);
    return NULL;
  }
  grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  grpc_byte_buffer_destroy(bb);
  /* gRPC received a large request in many small blocks of its poller thread's arena:
   * given back now, not once the call is done. */
  malloc_release_after(GRPC_SLICE_LENGTH(slice));
  *moved += GRPC_SLICE_LENGTH(slice);
  ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(slice),
                                                    GRPC_SLICE_START_PTR(slice));
  grpc_slice_unref(slice);
  return msg;
}

/* kLendMin is the size from which a bytes field of a response goes to gRPC as a slice
 * of the response itself instead of a copy. */
static const size_t kLendMin = 1024 * 1024;

/* SLICE_SINK is the ProtobufCBuffer that message_to_byte_buffer packs into: pieces are
 * gathered in |pending| slices, except one piece of kLendMin bytes or more (a large
 * message), which becomes a slice that points into the message and frees the whole
 * message when gRPC lets go of it. */
typedef struct slice_sink_st {
  ProtobufCBuffer base;
  grpc_slice_buffer *out;
  ProtobufCMessage *owner; /* the message lent from */
  int lent;                /* a piece was lent: |owner| now belongs to that slice */
  uint8_t *pending;        /* gathered small pieces, not yet a slice */
  size_t used, cap;
} SLICE_SINK;

static void free_lent_message(void *msg) {
  protobuf_c_message_free_unpacked(msg, NULL);
}

/* slice_sink_flush turns the gathered pieces into one slice. */
static void slice_sink_flush(SLICE_SINK *k) {
  if (k->used > 0) {
    grpc_slice_buffer_add(k->out, grpc_slice_from_copied_buffer((const char *)k->pending,
                                                                k->used));
    k->used = 0;
  }
}

static void slice_sink_append(ProtobufCBuffer *base, size_t len, const uint8_t *data) {
  SLICE_SINK *k = (SLICE_SINK *)base;
  if (len >= kLendMin && k->owner != NULL && !k->lent) {
    slice_sink_flush(k);
    grpc_slice_buffer_add(k->out, grpc_slice_new_with_user_data((void *)data, len,
                                                                free_lent_message, k->owner));
    k->lent = 1;
    return;
  }
  if (len > k->cap - k->used) {
    slice_sink_flush(k);
  }
  if (len > k->cap) {
    grpc_slice_buffer_add(k->out, grpc_slice_from_copied_buffer((const char *)data, len));
    return;
  }
  memcpy(k->pending + k->used, data, len);
  k->used += len;
}

/* message_to_byte_buffer encodes |msg| for sending, adding its length to |*moved|.
 * With |take| (NULL or |msg|) it takes |msg|: when |msg| is large, one large bytes
 * field of it is lent to gRPC rather than copied, and |msg| is freed when gRPC is done
 * with it; otherwise |msg| is freed at once. The bytes are those
 * protobuf_c_message_pack writes. */
static grpc_byte_buffer *message_to_byte_buffer(const ProtobufCMessage *msg,
                                                ProtobufCMessage *take, size_t *moved) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  *moved += len;
  if (take == NULL || len < kLendMin) {
    grpc_slice slice = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    if (take != NULL) {
      protobuf_c_message_free_unpacked(take, NULL);
    }
    return bb;
  }
  grpc_slice_buffer sb;
  grpc_slice_buffer_init(&sb);
  uint8_t pending[4096];
  SLICE_SINK k = {.base = {.append = slice_sink_append},
                  .out = &sb,
                  .owner = take,
                  .lent = 0,
                  .pending = pending,
                  .used = 0,
                  .cap = sizeof(pending)};
  protobuf_c_message_pack_to_buffer(msg, &k.base);
  slice_sink_flush(&k);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sb.slices, sb.count);
  grpc_slice_buffer_destroy(&sb);
  if (!k.lent) {
    protobuf_c_message_free_unpacked(take, NULL);
  }
  return bb;
}

int server_stream_read(SERVER_CALL *call, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **out_msg, STATUS *err) {
  *out_msg = NULL;
  grpc_byte_buffer *payload = NULL;
  grpc_op op;
  memset(&op, 0, sizeof(op));
  op.op = GRPC_OP_RECV_MESSAGE;
  op.data.recv_message.recv_message = &payload;
  if (!run_batch(call, &op, 1)) {
    return status_set(err, STATUS_CANCELLED, "the call was cancelled");
  }
  if (payload == NULL) {
    return 1; /* the client half-closed: end of its stream */
  }
  ProtobufCMessage *msg = byte_buffer_to_message(payload, desc, &call->moved);
  if (msg == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "the request is not a valid %s message",
                      desc->name);
  }
  *out_msg = msg;
  return 1;
}

int server_stream_write(SERVER_CALL *call, const ProtobufCMessage *msg, STATUS *err) {
  grpc_op ops[2];
  size_t n = 0;
  memset(ops, 0, sizeof(ops));
  if (!call->sent_initial_metadata) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  }
  grpc_byte_buffer *bb = message_to_byte_buffer(msg, NULL, &call->moved);
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = bb;
  int ok = run_batch(call, ops, n);
  grpc_byte_buffer_destroy(bb);
  if (!ok) {
    return status_set(err, STATUS_CANCELLED, "the call was cancelled");
  }
  call->sent_initial_metadata = 1;
  return 1;
}

/* finish_call sends the response (if any; finish_call takes it) and the status, and
 * waits for the close. */
static void finish_call(SERVER_CALL *sc, ProtobufCMessage *resp, const STATUS *st) {
  grpc_op ops[4];
  size_t n = 0;
  int cancelled = 0;
  grpc_byte_buffer *bb = NULL;
  memset(ops, 0, sizeof(ops));
  if (!sc->sent_initial_metadata) {
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
  }
  if (resp != NULL) {
    bb = message_to_byte_buffer(resp, resp, &sc->moved);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
  }
  grpc_slice details = grpc_slice_from_copied_string(st->message);
  ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  ops[n].data.send_status_from_server.status = (grpc_status_code)st->code;
  ops[n++].data.send_status_from_server.status_details = &details;
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &cancelled;
  run_batch(sc, ops, n);
  grpc_slice_unref(details);
  grpc_byte_buffer_destroy(bb);
}

static const SERVER_METHOD *find_method(const SERVER *server, grpc_slice method) {
  for (size_t i = 0; i < server->n_methods; i++) {
    const char *path = server->methods[i].path;
    if (grpc_slice_str_cmp(method, path) == 0) {
      return &server->methods[i];
    }
  }
  return NULL;
}

/* handle_call runs one call from its first message to its status. */
static void handle_call(SERVER *server, SERVER_CALL *sc, const grpc_call_details *details) {
  STATUS st;
  ProtobufCMessage *req = NULL;
  ProtobufCMessage *resp = NULL;
  char method_name[256];
  CALLER caller;
  struct timespec started;
  status_clear(&st);
  clock_gettime(CLOCK_MONOTONIC, &started);
  metrics_call_started();

  size_t mlen = GRPC_SLICE_LENGTH(details->method);
  if (mlen >= sizeof(method_name)) {
    mlen = sizeof(method_name) - 1;
  }
  memcpy(method_name, GRPC_SLICE_START_PTR(details->method), mlen);
  method_name[mlen] = '\0';
  const ROLE_MAP *roles =
      server->config.roles != NULL ? server->config.roles : &server->default_roles;
  caller_from_call(roles, sc->call, &caller);
  CALL_INFO info = {
      .method = method_name,
      .caller = caller.name,
      .deadline_ms = deadline_to_monotonic_ms(details->deadline),
      .role = (int)caller.role,
  };

  const SERVER_METHOD *m = find_method(server, details->method);
  if (m == NULL) {
    status_set(&st, STATUS_UNIMPLEMENTED, "unknown method %s", method_name);
    goto out;
  }
  /* The role is checked before the request is read: a caller without the right role
   * learns nothing from how its request would have been handled. */
  if (!role_authorize(roles, &caller, method_name, &st)) {
    if (server->config.denied != NULL) {
      server->config.denied(server->config.app, &info, &st);
    }
    goto out;
  }
  if (m->stream != NULL) {
    if (m->precheck != NULL && !m->precheck(server->config.app, &info, &st)) {
      goto out;
    }
    if (!m->stream(server->config.app, &info, sc, &st)) {
      goto out;
    }
    status_clear(&st);
    goto out;
  }
  /* Read the request first, so that an oversized or undecodable one is reported as
   * such whatever the method's state. */
  if (!server_stream_read(sc, m->input, &req, &st)) {
    goto out;
  }
  if (req == NULL) {
    status_set(&st, STATUS_INVALID_ARGUMENT, "the client sent no request message");
    goto out;
  }
  if (m->precheck != NULL && !m->precheck(server->config.app, &info, &st)) {
    goto out;
  }
  if (m->unary == NULL) {
    status_set(&st, STATUS_UNIMPLEMENTED,
               "%s is part of the API but not implemented in this version", method_name);
    goto out;
  }
  if (!m->unary(server->config.app, &info, req, &resp, &st)) {
    goto out;
  }
  status_clear(&st);

out:
  if (st.code != STATUS_OK && st.code != STATUS_UNIMPLEMENTED &&
      st.code != STATUS_FAILED_PRECONDITION && st.code != STATUS_INVALID_ARGUMENT &&
      st.code != STATUS_NOT_FOUND && st.code != STATUS_ALREADY_EXISTS) {
    log_warn("%s from %s: %s: %s", method_name, caller.name, status_code_name(st.code),
             st.message);
  }
  /* Every call is counted once, here, with its final status; an unknown path counts as
   * "unknown" (NULL) so that clients cannot grow the metrics' label set. Counted just
   * before the status leaves, so that a client that scrapes after its answer sees its
   * call (the duration thus ends when the answer is ready, not when it is sent). */
  struct timespec finished;
  clock_gettime(CLOCK_MONOTONIC, &finished);
  metrics_call_finished(m != NULL ? m->path : NULL, st.code,
                        (double)(finished.tv_sec - started.tv_sec) +
                            (double)(finished.tv_nsec - started.tv_nsec) / 1e9);
  /* handle_call frees the request before the response is packed: with a large message
   * both would otherwise be alive at once. */
  if (req != NULL) {
    protobuf_c_message_free_unpacked(req, NULL);
  }
  if (st.code != STATUS_OK && resp != NULL) {
    protobuf_c_message_free_unpacked(resp, NULL);
    resp = NULL;
  }
  finish_call(sc, resp, &st);
  /* handle_call gives a large call's heap back once its buffers are freed: a thread's
   * malloc arena would otherwise keep the largest message it ever handled. */
  malloc_release_after(sc->moved);
}

static void *thread_main(void *arg) {
  SERVER_THREAD *t = arg;
  SERVER *server = t->server;
  for (;;) {
    grpc_call *call = NULL;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_call_details_init(&details);
    grpc_metadata_array_init(&md);
    grpc_call_error rc =
        grpc_server_request_call(server->grpc, &call, &details, &md, t->cq, t->cq, t);
    if (rc != GRPC_CALL_OK) {
      grpc_call_details_destroy(&details);
      grpc_metadata_array_destroy(&md);
      break;
    }
    grpc_event ev = grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
      /* The server is shutting down: no more calls for this thread. */
      if (call != NULL) {
        grpc_call_unref(call);
      }
      grpc_call_details_destroy(&details);
      grpc_metadata_array_destroy(&md);
      break;
    }
    SERVER_CALL sc = {.call = call, .cq = t->cq, .sent_initial_metadata = 0};
    handle_call(server, &sc, &details);
    grpc_call_unref(call);
    grpc_call_details_destroy(&details);
    grpc_metadata_array_destroy(&md);
  }
  return NULL;
}

SERVER *server_new(const SERVER_CONFIG *config, const SERVER_METHOD *methods,
                   size_t n_methods, STATUS *err) {
  SERVER *server = calloc(1, sizeof(SERVER));
  if (server == NULL || config->threads == 0) {
    free(server);
    status_set(err, STATUS_INTERNAL, "cannot create the server");
    return NULL;
  }
  server->config = *config;
  if (!role_map_init(&server->default_roles, NULL, NULL, NULL, err)) {
    free(server);
    return NULL;
  }
  server->methods = methods;
  server->n_methods = n_methods;

  grpc_arg args[2];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = config->max_message_size > INT32_MAX ? INT32_MAX
                                                               : (int)config->max_message_size;
  /* Responses are bounded by what the request carried; do not cap them again. */
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = -1;
  grpc_channel_args channel_args = {.num_args = 2, .args = args};
  server->grpc = grpc_server_create(&channel_args, NULL);
  server->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
  server->threads = calloc(config->threads, sizeof(SERVER_THREAD));
  if (server->grpc == NULL || server->shutdown_cq == NULL || server->threads == NULL) {
    status_set(err, STATUS_INTERNAL, "cannot create the gRPC server");
    goto err;
  }
  grpc_server_register_completion_queue(server->grpc, server->shutdown_cq, NULL);
  for (unsigned i = 0; i < config->threads; i++) {
    server->threads[i].server = server;
    server->threads[i].cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(server->grpc, server->threads[i].cq, NULL);
  }
  return server;

err:
  if (server->grpc != NULL) {
    grpc_server_destroy(server->grpc);
  }
  if (server->shutdown_cq != NULL) {
    grpc_completion_queue_destroy(server->shutdown_cq);
  }
  free(server->threads);
  free(server);
  return NULL;
}

int server_add_insecure_listener(SERVER *server, const char *addr, STATUS *err) {
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(server->grpc, addr, creds);
  grpc_server_credentials_release(creds);
  if (port == 0) {
    return status_set(err, STATUS_UNAVAILABLE, "cannot listen on %s (in use, or no permission?)",
                      addr);
  }
  return 1;
}

int server_add_tls_listener(SERVER *server, const char *addr, const char *cert_pem,
                            const char *key_pem, const char *client_ca_pem, STATUS *err) {
  grpc_ssl_pem_key_cert_pair pair = {.private_key = key_pem, .cert_chain = cert_pem};
  grpc_server_credentials *creds = grpc_ssl_server_credentials_create_ex(
      client_ca_pem, &pair, 1, GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
  if (creds == NULL) {
    return status_set(err, STATUS_INVALID_ARGUMENT, "cannot set up TLS for %s", addr);
  }
  /* gRPC loads the certificate, key and CA here: a bad PEM or a key that does not match
   * the certificate fails this call (gRPC logs OpenSSL's reason). */
  int port = grpc_server_add_http2_port(server->grpc, addr, creds);
  grpc_server_credentials_release(creds);
  if (port == 0) {
    return status_set(err, STATUS_UNAVAILABLE,
                      "cannot listen on %s with TLS: the address is in use or not ours, or "
                      "--tls-cert, --tls-key and --client-ca are not a PEM certificate chain, "
                      "its matching private key and a PEM CA certificate (see gRPC's message "
                      "above)",
                      addr);
  }
  return 1;
}

int server_start(SERVER *server, STATUS *err) {
  grpc_server_start(server->grpc);
  for (unsigned i = 0; i < server->config.threads; i++) {
    SERVER_THREAD *t = &server->threads[i];
    int rc = pthread_create(&t->thread, NULL, thread_main, t);
    if (rc != 0) {
      return status_set(err, STATUS_INTERNAL, "cannot start server thread: %s", strerror(rc));
    }
    t->started = 1;
  }
  return 1;
}

/* drain_and_destroy_cq empties |cq| after shutdown, as gRPC requires before destroy. */
static void drain_and_destroy_cq(grpc_completion_queue *cq) {
  grpc_completion_queue_shutdown(cq);
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) {
      break;
    }
  }
  grpc_completion_queue_destroy(cq);
}

void server_shutdown(SERVER *server, int grace_ms) {
  if (server == NULL) {
    return;
  }
  static int shutdown_tag;
  grpc_server_shutdown_and_notify(server->grpc, server->shutdown_cq, &shutdown_tag);
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                       gpr_time_from_millis(grace_ms, GPR_TIMESPAN));
  /* The shutdown tag is the only event this queue ever carries. */
  grpc_event ev = grpc_completion_queue_next(server->shutdown_cq, deadline, NULL);
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    log_warn("calls still running after %d ms: cancelling them", grace_ms);
    grpc_server_cancel_all_calls(server->grpc);
    grpc_completion_queue_next(server->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  }
  for (unsigned i = 0; i < server->config.threads; i++) {
    if (server->threads[i].started) {
      pthread_join(server->threads[i].thread, NULL);
    }
  }
  grpc_server_destroy(server->grpc);
  for (unsigned i = 0; i < server->config.threads; i++) {
    drain_and_destroy_cq(server->threads[i].cq);
  }
  drain_and_destroy_cq(server->shutdown_cq);
  free(server->threads);
  free(server);
}
