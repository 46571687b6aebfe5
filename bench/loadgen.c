/* loadgen: drives smimed's MessageService with many unary calls in flight on one
 * channel (gRPC C core, one completion queue), and prints what the benchmark tabulates.
 *
 *   loadgen --addr unix:/tmp/x/smimed.sock --message FILE (--sign|--encrypt|--open)
 *           [--recipient ADDR]... [--concurrency C] [--calls N] [--warmup W]
 *
 * --sign and/or --encrypt call SignEncrypt with the message; --open calls DecryptVerify
 * and checks that every layer decrypted and every signature is valid (a benchmark that
 * counts failures as throughput would flatter us). The output is one line of key=value
 * pairs: calls ok failed seconds msgs_per_s p50_ms p99_ms max_ms cpu_s (this process's
 * CPU, all its threads, over the measured calls: it shares the cores with the service,
 * and the benchmark reports it). It links the gRPC C
 * core and protobuf-c only, never BoringSSL (DESIGN.md section 2). */
#include <getopt.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smime/v1/message.pb-c.h"

/* MAX_RECIPIENTS bounds --recipient: the benchmark encrypts to one or two addresses. */
#define MAX_RECIPIENTS 8

/* MAX_CONCURRENCY bounds --concurrency; each slot holds one call's state. */
#define MAX_CONCURRENCY 4096

/* SLOT is one call in flight: its gRPC state and when it started. */
typedef struct slot_st {
  grpc_call *call;
  grpc_metadata_array initial_md;
  grpc_metadata_array trailing_md;
  grpc_byte_buffer *response;
  grpc_status_code status;
  grpc_slice details;
  double started;
} SLOT;

/* OPTIONS are the command-line flags. */
typedef struct options_st {
  const char *addr;
  const char *message_file;
  int sign;
  int encrypt;
  int open;
  const char *recipients[MAX_RECIPIENTS];
  size_t n_recipients;
  long concurrency;
  long calls;
  long warmup;
} OPTIONS;

/* now_seconds is a monotonic clock, for latencies. */
static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* quiet_log drops gRPC's own log lines unless GRPC_VERBOSITY asks for them: the
 * benchmark's stdout is parsed. */
static void quiet_log(gpr_log_func_args *args) { (void)args; }

/* read_file returns the contents of |path| (caller frees) and its length, or NULL. */
static uint8_t *read_file(const char *path, size_t *out_len) {
  uint8_t *data = NULL;
  size_t len = 0, cap = 0;
  FILE *fp = fopen(path, "rb");
  *out_len = 0;
  if (fp == NULL) {
    perror(path);
    return NULL;
  }
  for (;;) {
    if (cap - len < 65536) {
      cap = cap == 0 ? 131072 : cap * 2;
      uint8_t *grown = realloc(data, cap);
      if (grown == NULL) {
        free(data);
        data = NULL;
        goto out;
      }
      data = grown;
    }
    size_t n = fread(data + len, 1, cap - len, fp);
    if (n == 0) {
      break;
    }
    len += n;
  }
  if (ferror(fp)) {
    perror(path);
    free(data);
    data = NULL;
    goto out;
  }
  *out_len = len;

out:
  fclose(fp);
  return data;
}

/* pack_request builds the one request every call sends, serialized once: the
 * benchmark measures the service, not the client's protobuf encoder. (grpc_slice_malloc
 * aborts rather than return NULL, so this cannot fail.) */
static grpc_slice pack_request(const OPTIONS *o, const uint8_t *msg, size_t msg_len) {
  ProtobufCMessage *m;
  Smime__V1__SignEncryptRequest se = SMIME__V1__SIGN_ENCRYPT_REQUEST__INIT;
  Smime__V1__DecryptVerifyRequest dv = SMIME__V1__DECRYPT_VERIFY_REQUEST__INIT;
  if (o->open) {
    dv.message.data = (uint8_t *)msg;
    dv.message.len = msg_len;
    m = &dv.base;
  } else {
    se.message.data = (uint8_t *)msg;
    se.message.len = msg_len;
    se.sign = o->sign;
    se.encrypt = o->encrypt;
    se.n_recipients = o->n_recipients;
    se.recipients = (char **)o->recipients;
    m = &se.base;
  }
  size_t len = protobuf_c_message_get_packed_size(m);
  grpc_slice s = grpc_slice_malloc(len);
  protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
  return s;
}

/* response_ok parses a DecryptVerify response and says whether every layer opened:
 * decrypted where enveloped, a valid signature where signed. SignEncrypt responses only
 * need a non-empty message. On failure it writes why to |why|. */
static int response_ok(const OPTIONS *o, grpc_byte_buffer *bb, char *why, size_t why_len) {
  int ok = 0;
  grpc_byte_buffer_reader reader;
  if (bb == NULL || !grpc_byte_buffer_reader_init(&reader, bb)) {
    snprintf(why, why_len, "no response message");
    return 0;
  }
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  if (!o->open) {
    Smime__V1__SignEncryptResponse *r = smime__v1__sign_encrypt_response__unpack(
        NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    if (r == NULL || r->message.len == 0) {
      snprintf(why, why_len, "SignEncrypt answered without a message");
    } else {
      ok = 1;
    }
    if (r != NULL) {
      smime__v1__sign_encrypt_response__free_unpacked(r, NULL);
    }
    goto out;
  }
  Smime__V1__DecryptVerifyResponse *r = smime__v1__decrypt_verify_response__unpack(
      NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
  if (r == NULL) {
    snprintf(why, why_len, "DecryptVerify response does not parse");
    goto out;
  }
  if (r->n_layers == 0) {
    snprintf(why, why_len, "DecryptVerify found no S/MIME layer");
  } else {
    ok = 1;
  }
  for (size_t i = 0; ok && i < r->n_layers; i++) {
    const Smime__V1__Layer *l = r->layers[i];
    if (l->kind == SMIME__V1__LAYER__KIND__KIND_SIGNED &&
        l->signature_status != SMIME__V1__SIGNATURE_STATUS__SIGNATURE_STATUS_VALID) {
      snprintf(why, why_len, "layer %zu: signature status %d (%s)", i,
               (int)l->signature_status, l->comment != NULL ? l->comment : "");
      ok = 0;
    } else if (l->kind != SMIME__V1__LAYER__KIND__KIND_SIGNED &&
               l->decryption_status !=
                   SMIME__V1__DECRYPTION_STATUS__DECRYPTION_STATUS_DECRYPTED) {
      snprintf(why, why_len, "layer %zu: decryption status %d (%s)", i,
               (int)l->decryption_status, l->comment != NULL ? l->comment : "");
      ok = 0;
    }
  }
  smime__v1__decrypt_verify_response__free_unpacked(r, NULL);

out:
  grpc_slice_unref(all);
  return ok;
}

/* start_call starts one call in |s| on |cq|, tagged with |s|. */
static int start_call(grpc_channel *ch, grpc_completion_queue *cq, const char *method,
                      grpc_slice request, SLOT *s) {
  memset(s, 0, sizeof(*s));
  grpc_metadata_array_init(&s->initial_md);
  grpc_metadata_array_init(&s->trailing_md);
  s->details = grpc_empty_slice();
  s->status = GRPC_STATUS_UNKNOWN;
  grpc_slice method_slice = grpc_slice_from_static_string(method);
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                       gpr_time_from_seconds(120, GPR_TIMESPAN));
  s->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method_slice,
                                     NULL, deadline, NULL);
  if (s->call == NULL) {
    return 0;
  }
  // The byte buffer takes its own reference to the request slice: no copy per call.
  grpc_byte_buffer *req = grpc_raw_byte_buffer_create(&request, 1);
  grpc_op ops[6];
  memset(ops, 0, sizeof(ops));
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = req;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &s->response;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing_md;
  ops[5].data.recv_status_on_client.status = &s->status;
  ops[5].data.recv_status_on_client.status_details = &s->details;
  s->started = now_seconds();
  grpc_call_error rc = grpc_call_start_batch(s->call, ops, 6, s, NULL);
  // gRPC holds its own reference to the message once the batch is started.
  grpc_byte_buffer_destroy(req);
  return rc == GRPC_CALL_OK;
}

/* finish_call releases what |s| holds once its batch completed. */
static void finish_call(SLOT *s) {
  grpc_call_unref(s->call);
  s->call = NULL;
  grpc_byte_buffer_destroy(s->response);
  s->response = NULL;
  grpc_slice_unref(s->details);
  grpc_metadata_array_destroy(&s->initial_md);
  grpc_metadata_array_destroy(&s->trailing_md);
}

/* compare_double orders latencies for the percentiles. */
static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* process_cpu_seconds is the CPU time of every thread of this process. */
static double process_cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* run makes |total| calls, |concurrency| in flight; latencies of the calls after the
 * first |skip| go to |lat| (which holds total - skip). Returns the number of calls
 * that failed, or -1 if gRPC refused to start one; |*out_seconds| is the time from the
 * first measured call's start to the last completion, |*out_cpu| this process's CPU
 * over the same span. */
static long run(grpc_channel *ch, const OPTIONS *o, const char *method, grpc_slice request,
                long total, long skip, double *lat, long *out_failed_shown,
                double *out_seconds, double *out_cpu) {
  long failed = -1, started = 0, done = 0, n_lat = 0, fails = 0;
  long concurrency = o->concurrency < total ? o->concurrency : total;
  double t0 = 0, cpu0 = 0;
  grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
  SLOT *slots = calloc((size_t)(concurrency > 0 ? concurrency : 1), sizeof(SLOT));
  *out_seconds = 0;
  *out_cpu = 0;
  if (slots == NULL) {
    goto out;
  }
  if (skip == 0) {
    t0 = now_seconds();
    cpu0 = process_cpu_seconds();
  }
  for (long i = 0; i < concurrency; i++) {
    if (!start_call(ch, cq, method, request, &slots[i])) {
      fprintf(stderr, "loadgen: cannot start a call to %s\n", method);
      goto out;
    }
    started++;
  }
  while (done < total) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
      fprintf(stderr, "loadgen: completion queue event %d\n", (int)ev.type);
      goto out;
    }
    SLOT *s = ev.tag;
    double end = now_seconds();
    char why[512] = "";
    int ok = ev.success && s->status == GRPC_STATUS_OK &&
             response_ok(o, s->response, why, sizeof(why));
    if (!ok) {
      fails++;
      if (*out_failed_shown < 3) {
        char *details = grpc_slice_to_c_string(s->details);
        fprintf(stderr, "loadgen: %s failed: status %d %s %s\n", method, (int)s->status,
                details != NULL ? details : "", why);
        gpr_free(details);
        (*out_failed_shown)++;
      }
    }
    if (done >= skip) {
      lat[n_lat++] = end - s->started;
    }
    done++;
    if (done == skip) {
      // Warm-up is over: measured time starts now; calls still in flight started
      // during warm-up count as measured from here.
      t0 = end;
      cpu0 = process_cpu_seconds();
    }
    finish_call(s);
    if (started < total) {
      if (!start_call(ch, cq, method, request, s)) {
        fprintf(stderr, "loadgen: cannot start a call to %s\n", method);
        goto out;
      }
      started++;
    }
  }
  *out_seconds = now_seconds() - t0;
  *out_cpu = process_cpu_seconds() - cpu0;
  failed = fails;

out:
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  free(slots);
  return failed;
}

/* parse_options reads argv into |o|; returns 0 with a message on a bad flag. */
static int parse_options(int argc, char **argv, OPTIONS *o) {
  static const struct option longopts[] = {
      {"addr", required_argument, NULL, 'a'},      {"message", required_argument, NULL, 'm'},
      {"sign", no_argument, NULL, 's'},            {"encrypt", no_argument, NULL, 'e'},
      {"open", no_argument, NULL, 'o'},            {"recipient", required_argument, NULL, 'r'},
      {"concurrency", required_argument, NULL, 'c'}, {"calls", required_argument, NULL, 'n'},
      {"warmup", required_argument, NULL, 'w'},    {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof(*o));
  o->concurrency = 1;
  o->calls = 100;
  int c;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case 'a':
        o->addr = optarg;
        break;
      case 'm':
        o->message_file = optarg;
        break;
      case 's':
        o->sign = 1;
        break;
      case 'e':
        o->encrypt = 1;
        break;
      case 'o':
        o->open = 1;
        break;
      case 'r':
        if (o->n_recipients == MAX_RECIPIENTS) {
          fprintf(stderr, "loadgen: at most %d --recipient\n", MAX_RECIPIENTS);
          return 0;
        }
        o->recipients[o->n_recipients++] = optarg;
        break;
      case 'c':
        o->concurrency = strtol(optarg, NULL, 10);
        break;
      case 'n':
        o->calls = strtol(optarg, NULL, 10);
        break;
      case 'w':
        o->warmup = strtol(optarg, NULL, 10);
        break;
      default:
        return 0;
    }
  }
  if (o->addr == NULL || o->message_file == NULL || (o->open == (o->sign || o->encrypt)) ||
      o->concurrency < 1 || o->concurrency > MAX_CONCURRENCY || o->calls < 1 ||
      o->warmup < 0) {
    fprintf(stderr,
            "usage: loadgen --addr TARGET --message FILE (--sign|--encrypt|--open) "
            "[--recipient ADDR]... [--concurrency 1..%d] [--calls N] [--warmup N]\n",
            MAX_CONCURRENCY);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  int rc = 1;
  OPTIONS o;
  uint8_t *msg = NULL;
  size_t msg_len = 0;
  double *lat = NULL;
  grpc_channel *ch = NULL;
  grpc_channel_credentials *creds = NULL;
  grpc_slice request = grpc_empty_slice();
  int grpc_started = 0;

  if (!parse_options(argc, argv, &o)) {
    return 2;
  }
  msg = read_file(o.message_file, &msg_len);
  if (msg == NULL) {
    goto out;
  }
  lat = calloc((size_t)o.calls, sizeof(double));
  if (lat == NULL) {
    goto out;
  }
  if (getenv("GRPC_VERBOSITY") == NULL) {
    gpr_set_log_function(quiet_log);
  }
  grpc_init();
  grpc_started = 1;
  request = pack_request(&o, msg, msg_len);
  creds = grpc_insecure_credentials_create();
  grpc_arg args[2];
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[0].value.integer = 64 << 20;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
  args[1].value.integer = 64 << 20;
  grpc_channel_args channel_args = {2, args};
  ch = grpc_channel_create(o.addr, creds, &channel_args);
  if (ch == NULL) {
    fprintf(stderr, "loadgen: cannot make a channel to %s\n", o.addr);
    goto out;
  }
  const char *method = o.open ? "/smime.v1.MessageService/DecryptVerify"
                              : "/smime.v1.MessageService/SignEncrypt";
  long shown = 0;
  double seconds = 0, cpu = 0;
  long failed = run(ch, &o, method, request, o.calls + o.warmup, o.warmup, lat, &shown,
                    &seconds, &cpu);
  if (failed < 0) {
    goto out;
  }
  qsort(lat, (size_t)o.calls, sizeof(double), compare_double);
  size_t p50 = (size_t)((double)(o.calls - 1) * 0.50);
  size_t p99 = (size_t)((double)(o.calls - 1) * 0.99 + 0.5);
  printf("calls=%ld ok=%ld failed=%ld seconds=%.6f msgs_per_s=%.2f p50_ms=%.3f "
         "p99_ms=%.3f max_ms=%.3f cpu_s=%.6f\n",
         o.calls, o.calls - failed, failed, seconds,
         seconds > 0 ? (double)o.calls / seconds : 0.0, lat[p50] * 1e3, lat[p99] * 1e3,
         lat[o.calls - 1] * 1e3, cpu);
  rc = failed == 0 ? 0 : 1;

out:
  if (ch != NULL) {
    grpc_channel_destroy(ch);
  }
  if (creds != NULL) {
    grpc_channel_credentials_release(creds);
  }
  grpc_slice_unref(request);
  if (grpc_started) {
    grpc_shutdown();
  }
  free(lat);
  free(msg);
  return rc;
}
