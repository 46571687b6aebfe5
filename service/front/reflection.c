/* reflection.c: see reflection.h.
 *
 * Each request is answered with the file that defines what was asked for and all the
 * files it imports, transitively (the protocol allows omitting files already sent on
 * the stream; sending them again keeps the server stateless and clients accept it). */
#include "service/front/reflection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"

typedef struct reflection_file_st {
  const char *name;
  ProtobufCBinaryData packed;
  size_t n_deps;
  size_t *deps; /* indexes into files */
} REFLECTION_FILE;

typedef struct reflection_symbol_st {
  char *name; /* fully qualified, without a leading dot */
  size_t file;
} REFLECTION_SYMBOL;

struct reflection_st {
  Google__Protobuf__FileDescriptorSet *set;
  REFLECTION_FILE *files;
  size_t n_files;
  REFLECTION_SYMBOL *symbols;
  size_t n_symbols;
  size_t cap_symbols;
  const char *const *services;
  size_t n_services;
};

/* add_symbol records that |prefix|.|name| is defined in |file|. */
static int add_symbol(REFLECTION *r, const char *prefix, const char *name, size_t file,
                      char **out_full) {
  if (r->n_symbols == r->cap_symbols) {
    size_t cap = r->cap_symbols ? r->cap_symbols * 2 : 256;
    REFLECTION_SYMBOL *grown = realloc(r->symbols, cap * sizeof(REFLECTION_SYMBOL));
    if (grown == NULL) {
      return 0;
    }
    r->symbols = grown;
    r->cap_symbols = cap;
  }
  size_t len = strlen(prefix) + 1 + strlen(name) + 1;
  char *full = malloc(len);
  if (full == NULL) {
    return 0;
  }
  if (prefix[0] != '\0') {
    snprintf(full, len, "%s.%s", prefix, name);
  } else {
    snprintf(full, len, "%s", name);
  }
  r->symbols[r->n_symbols].name = full;
  r->symbols[r->n_symbols].file = file;
  r->n_symbols++;
  if (out_full != NULL) {
    *out_full = full;
  }
  return 1;
}

/* add_message_symbols records a message, its nested messages and enums. */
static int add_message_symbols(REFLECTION *r, const char *prefix,
                               const Google__Protobuf__DescriptorProto *msg, size_t file) {
  char *full = NULL;
  if (!add_symbol(r, prefix, msg->name, file, &full)) {
    return 0;
  }
  for (size_t i = 0; i < msg->n_nested_type; i++) {
    if (!add_message_symbols(r, full, msg->nested_type[i], file)) {
      return 0;
    }
  }
  for (size_t i = 0; i < msg->n_enum_type; i++) {
    if (!add_symbol(r, full, msg->enum_type[i]->name, file, NULL)) {
      return 0;
    }
  }
  return 1;
}

static int index_file(REFLECTION *r, size_t idx) {
  const Google__Protobuf__FileDescriptorProto *fd = r->set->file[idx];
  const char *pkg = fd->package != NULL ? fd->package : "";
  REFLECTION_FILE *f = &r->files[idx];
  f->name = fd->name;
  f->packed.len = protobuf_c_message_get_packed_size(&fd->base);
  f->packed.data = malloc(f->packed.len ? f->packed.len : 1);
  f->deps = calloc(fd->n_dependency ? fd->n_dependency : 1, sizeof(size_t));
  if (f->packed.data == NULL || f->deps == NULL) {
    return 0;
  }
  protobuf_c_message_pack(&fd->base, f->packed.data);
  /* A set made with --include_imports lists every dependency before its users. */
  for (size_t d = 0; d < fd->n_dependency; d++) {
    for (size_t j = 0; j < idx; j++) {
      if (strcmp(r->set->file[j]->name, fd->dependency[d]) == 0) {
        f->deps[f->n_deps++] = j;
        break;
      }
    }
  }
  for (size_t i = 0; i < fd->n_message_type; i++) {
    if (!add_message_symbols(r, pkg, fd->message_type[i], idx)) {
      return 0;
    }
  }
  for (size_t i = 0; i < fd->n_enum_type; i++) {
    if (!add_symbol(r, pkg, fd->enum_type[i]->name, idx, NULL)) {
      return 0;
    }
  }
  for (size_t i = 0; i < fd->n_service; i++) {
    char *svc = NULL;
    if (!add_symbol(r, pkg, fd->service[i]->name, idx, &svc)) {
      return 0;
    }
    for (size_t m = 0; m < fd->service[i]->n_method; m++) {
      if (!add_symbol(r, svc, fd->service[i]->method[m]->name, idx, NULL)) {
        return 0;
      }
    }
  }
  return 1;
}

REFLECTION *reflection_new(const uint8_t *set, size_t len, const char *const *services,
                           size_t n_services, STATUS *err) {
  REFLECTION *r = calloc(1, sizeof(REFLECTION));
  if (r == NULL) {
    goto err;
  }
  r->services = services;
  r->n_services = n_services;
  r->set = google__protobuf__file_descriptor_set__unpack(NULL, len, set);
  if (r->set == NULL) {
    goto err;
  }
  r->n_files = r->set->n_file;
  r->files = calloc(r->n_files ? r->n_files : 1, sizeof(REFLECTION_FILE));
  if (r->files == NULL) {
    goto err;
  }
  for (size_t i = 0; i < r->n_files; i++) {
    if (!index_file(r, i)) {
      goto err;
    }
  }
  return r;

err:
  reflection_free(r);
  status_set(err, STATUS_INTERNAL, "cannot index the built-in descriptor set");
  return NULL;
}

void reflection_free(REFLECTION *r) {
  if (r == NULL) {
    return;
  }
  for (size_t i = 0; r->files != NULL && i < r->n_files; i++) {
    free(r->files[i].packed.data);
    free(r->files[i].deps);
  }
  free(r->files);
  for (size_t i = 0; i < r->n_symbols; i++) {
    free(r->symbols[i].name);
  }
  free(r->symbols);
  if (r->set != NULL) {
    google__protobuf__file_descriptor_set__free_unpacked(r->set, NULL);
  }
  free(r);
}

static long find_file(const REFLECTION *r, const char *name) {
  for (size_t i = 0; i < r->n_files; i++) {
    if (strcmp(r->files[i].name, name) == 0) {
      return (long)i;
    }
  }
  return -1;
}

static long find_symbol(const REFLECTION *r, const char *name) {
  if (name[0] == '.') {
    name++;
  }
  for (size_t i = 0; i < r->n_symbols; i++) {
    if (strcmp(r->symbols[i].name, name) == 0) {
      return (long)r->symbols[i].file;
    }
  }
  return -1;
}

/* collect_closure marks |idx| and everything it imports in |wanted|. */
static void collect_closure(const REFLECTION *r, size_t idx, unsigned char *wanted) {
  if (wanted[idx]) {
    return;
  }
  wanted[idx] = 1;
  for (size_t d = 0; d < r->files[idx].n_deps; d++) {
    collect_closure(r, r->files[idx].deps[d], wanted);
  }
}

/* answer_request fills |resp| for |req|; |scratch| holds what |resp| points to. */
typedef struct answer_scratch_st {
  Grpc__Reflection__V1__FileDescriptorResponse files;
  ProtobufCBinaryData *file_data;
  Grpc__Reflection__V1__ListServiceResponse list;
  Grpc__Reflection__V1__ServiceResponse *service_items;
  Grpc__Reflection__V1__ServiceResponse **service_ptrs;
  Grpc__Reflection__V1__ErrorResponse error;
  char error_text[300];
} ANSWER_SCRATCH;

static void answer_error(Grpc__Reflection__V1__ServerReflectionResponse *resp,
                         ANSWER_SCRATCH *s, int code, const char *what, const char *name) {
  grpc__reflection__v1__error_response__init(&s->error);
  s->error.error_code = code;
  snprintf(s->error_text, sizeof(s->error_text), "%s %s not found", what, name);
  s->error.error_message = s->error_text;
  resp->message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
  resp->error_response = &s->error;
}

static int answer_files(const REFLECTION *r, Grpc__Reflection__V1__ServerReflectionResponse *resp,
                        ANSWER_SCRATCH *s, size_t idx) {
  unsigned char *wanted = calloc(r->n_files, 1);
  s->file_data = calloc(r->n_files, sizeof(ProtobufCBinaryData));
  if (wanted == NULL || s->file_data == NULL) {
    free(wanted);
    return 0;
  }
  collect_closure(r, idx, wanted);
  grpc__reflection__v1__file_descriptor_response__init(&s->files);
  /* The file asked for first, then its imports. */
  s->file_data[s->files.n_file_descriptor_proto++] = r->files[idx].packed;
  for (size_t i = 0; i < r->n_files; i++) {
    if (wanted[i] && i != idx) {
      s->file_data[s->files.n_file_descriptor_proto++] = r->files[i].packed;
    }
  }
  free(wanted);
  s->files.file_descriptor_proto = s->file_data;
  resp->message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
  resp->file_descriptor_response = &s->files;
  return 1;
}

static int answer_request(const REFLECTION *r, const Grpc__Reflection__V1__ServerReflectionRequest *req,
                          Grpc__Reflection__V1__ServerReflectionResponse *resp,
                          ANSWER_SCRATCH *s) {
  long idx;
  resp->valid_host = req->host;
  resp->original_request = (Grpc__Reflection__V1__ServerReflectionRequest *)req;
  switch (req->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
      grpc__reflection__v1__list_service_response__init(&s->list);
      s->service_items = calloc(r->n_services ? r->n_services : 1,
                                sizeof(Grpc__Reflection__V1__ServiceResponse));
      s->service_ptrs = calloc(r->n_services ? r->n_services : 1,
                               sizeof(Grpc__Reflection__V1__ServiceResponse *));
      if (s->service_items == NULL || s->service_ptrs == NULL) {
        return 0;
      }
      for (size_t i = 0; i < r->n_services; i++) {
        grpc__reflection__v1__service_response__init(&s->service_items[i]);
        s->service_items[i].name = (char *)r->services[i];
        s->service_ptrs[i] = &s->service_items[i];
      }
      s->list.n_service = r->n_services;
      s->list.service = s->service_ptrs;
      resp->message_response_case =
          GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
      resp->list_services_response = &s->list;
      return 1;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
      idx = find_file(r, req->file_by_filename);
      if (idx < 0) {
        answer_error(resp, s, STATUS_NOT_FOUND, "file", req->file_by_filename);
        return 1;
      }
      return answer_files(r, resp, s, (size_t)idx);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
      idx = find_symbol(r, req->file_containing_symbol);
      if (idx < 0) {
        answer_error(resp, s, STATUS_NOT_FOUND, "symbol", req->file_containing_symbol);
        return 1;
      }
      return answer_files(r, resp, s, (size_t)idx);
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
      /* Our protos declare no extensions. */
      answer_error(resp, s, STATUS_NOT_FOUND, "extension of",
                   req->file_containing_extension != NULL
                       ? req->file_containing_extension->containing_type
                       : "?");
      return 1;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
      answer_error(resp, s, STATUS_NOT_FOUND, "extensions of", req->all_extension_numbers_of_type);
      return 1;
    default:
      grpc__reflection__v1__error_response__init(&s->error);
      s->error.error_code = STATUS_INVALID_ARGUMENT;
      s->error.error_message = "the request names no known reflection query";
      resp->message_response_case =
          GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
      resp->error_response = &s->error;
      return 1;
  }
}

int reflection_serve(REFLECTION *r, SERVER_CALL *call, STATUS *err) {
  for (;;) {
    ProtobufCMessage *msg = NULL;
    if (!server_stream_read(call, &grpc__reflection__v1__server_reflection_request__descriptor,
                            &msg, err)) {
      return 0;
    }
    if (msg == NULL) {
      return 1;
    }
    Grpc__Reflection__V1__ServerReflectionResponse resp =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
    ANSWER_SCRATCH scratch;
    memset(&scratch, 0, sizeof(scratch));
    int ok = answer_request(r, (const Grpc__Reflection__V1__ServerReflectionRequest *)msg, &resp,
                            &scratch);
    if (ok) {
      ok = server_stream_write(call, &resp.base, err);
    } else {
      status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory answering reflection");
    }
    free(scratch.file_data);
    free(scratch.service_items);
    free(scratch.service_ptrs);
    protobuf_c_message_free_unpacked(msg, NULL);
    if (!ok) {
      return 0;
    }
  }
}
