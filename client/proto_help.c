/* proto_help.c: see proto_help.h. Comments are found through SourceCodeInfo paths:
 * a list of field numbers and indexes from the FileDescriptorProto down to the element,
 * e.g. [6, s, 2, m] for method m of service s (6: FileDescriptorProto.service,
 * 2: ServiceDescriptorProto.method). */
#include "client/proto_help.h"

#include <stdlib.h>
#include <string.h>

#include "client/text.h"
#include "google/protobuf/descriptor.pb-c.h"

/* Field numbers in descriptor.proto that SourceCodeInfo paths use. */
enum {
  FILE_MESSAGE_TYPE = 4,
  FILE_ENUM_TYPE = 5,
  FILE_SERVICE = 6,
  MESSAGE_FIELD = 2,
  MESSAGE_NESTED_TYPE = 3,
  MESSAGE_ENUM_TYPE = 4,
  MESSAGE_ONEOF_DECL = 8,
  ENUM_VALUE = 2,
  SERVICE_METHOD = 2,
};

/* PATH_MAX_LEN bounds paths (nesting of 14 message levels is plenty). */
#define PATH_MAX_LEN 32

struct proto_help_st {
  Google__Protobuf__FileDescriptorSet *set;
};

/* PATH is a SourceCodeInfo path being built. */
typedef struct path_st {
  int32_t p[PATH_MAX_LEN];
  size_t n;
} PATH;

static int path_push(PATH *path, int32_t a, int32_t b) {
  if (path->n + 2 > PATH_MAX_LEN) {
    return 0;
  }
  path->p[path->n++] = a;
  path->p[path->n++] = b;
  return 1;
}

PROTO_HELP *proto_help_new(const uint8_t *set, size_t len) {
  PROTO_HELP *h = calloc(1, sizeof(*h));
  if (h == NULL) {
    return NULL;
  }
  h->set = google__protobuf__file_descriptor_set__unpack(NULL, len, set);
  if (h->set == NULL) {
    free(h);
    return NULL;
  }
  return h;
}

void proto_help_free(PROTO_HELP *h) {
  if (h == NULL) {
    return;
  }
  google__protobuf__file_descriptor_set__free_unpacked(h->set, NULL);
  free(h);
}

/* strip_package returns the part of |full| after |file|'s package and a dot, or NULL
 * if |full| is not in that package. */
static const char *strip_package(const Google__Protobuf__FileDescriptorProto *file,
                                 const char *full) {
  const char *pkg = file->package != NULL ? file->package : "";
  size_t n = strlen(pkg);
  if (n == 0) {
    return full;
  }
  if (strncmp(full, pkg, n) != 0 || full[n] != '.') {
    return NULL;
  }
  return full + n + 1;
}

/* name_is returns 1 if |len| bytes of |s| are exactly |name|. */
static int name_is(const char *name, const char *s, size_t len) {
  return name != NULL && strlen(name) == len && strncmp(name, s, len) == 0;
}

/* find_message_in finds the message whose name relative to |file|'s package is the first
 * |len| bytes of |rel| ("Layer" or "Outer.Inner"), appending its path to |path|. */
static const Google__Protobuf__DescriptorProto *find_message_in(
    const Google__Protobuf__FileDescriptorProto *file, const char *rel, size_t len,
    PATH *path) {
  const Google__Protobuf__DescriptorProto *m = NULL;
  size_t start = 0;
  while (start <= len) {
    size_t end = start;
    while (end < len && rel[end] != '.') {
      end++;
    }
    size_t n = m == NULL ? file->n_message_type : m->n_nested_type;
    Google__Protobuf__DescriptorProto **list =
        m == NULL ? file->message_type : m->nested_type;
    int32_t tag = m == NULL ? FILE_MESSAGE_TYPE : MESSAGE_NESTED_TYPE;
    const Google__Protobuf__DescriptorProto *found = NULL;
    for (size_t i = 0; i < n; i++) {
      if (name_is(list[i]->name, rel + start, end - start)) {
        found = list[i];
        if (!path_push(path, tag, (int32_t)i)) {
          return NULL;
        }
        break;
      }
    }
    if (found == NULL) {
      return NULL;
    }
    m = found;
    start = end + 1;
  }
  return m;
}

/* find_message finds message |full| in any file of |h|. */
static const Google__Protobuf__DescriptorProto *find_message(
    const PROTO_HELP *h, const char *full,
    const Google__Protobuf__FileDescriptorProto **out_file, PATH *out_path) {
  for (size_t f = 0; f < h->set->n_file; f++) {
    const Google__Protobuf__FileDescriptorProto *file = h->set->file[f];
    const char *rel = strip_package(file, full);
    if (rel == NULL) {
      continue;
    }
    PATH path = {{0}, 0};
    const Google__Protobuf__DescriptorProto *m =
        find_message_in(file, rel, strlen(rel), &path);
    if (m != NULL) {
      *out_file = file;
      *out_path = path;
      return m;
    }
  }
  return NULL;
}

/* find_enum finds enum |full| (top-level or nested in a message) in any file of |h|. */
static const Google__Protobuf__EnumDescriptorProto *find_enum(
    const PROTO_HELP *h, const char *full,
    const Google__Protobuf__FileDescriptorProto **out_file, PATH *out_path) {
  for (size_t f = 0; f < h->set->n_file; f++) {
    const Google__Protobuf__FileDescriptorProto *file = h->set->file[f];
    const char *rel = strip_package(file, full);
    if (rel == NULL) {
      continue;
    }
    PATH path = {{0}, 0};
    const char *dot = strrchr(rel, '.');
    const char *enum_name = dot != NULL ? dot + 1 : rel;
    size_t n = file->n_enum_type;
    Google__Protobuf__EnumDescriptorProto **list = file->enum_type;
    int32_t tag = FILE_ENUM_TYPE;
    if (dot != NULL) {
      const Google__Protobuf__DescriptorProto *m =
          find_message_in(file, rel, (size_t)(dot - rel), &path);
      if (m == NULL) {
        continue;
      }
      n = m->n_enum_type;
      list = m->enum_type;
      tag = MESSAGE_ENUM_TYPE;
    }
    for (size_t i = 0; i < n; i++) {
      if (list[i]->name != NULL && strcmp(list[i]->name, enum_name) == 0 &&
          path_push(&path, tag, (int32_t)i)) {
        *out_file = file;
        *out_path = path;
        return list[i];
      }
    }
  }
  return NULL;
}

/* find_service finds service |full| in any file of |h|. */
static const Google__Protobuf__ServiceDescriptorProto *find_service(
    const PROTO_HELP *h, const char *full,
    const Google__Protobuf__FileDescriptorProto **out_file, PATH *out_path) {
  for (size_t f = 0; f < h->set->n_file; f++) {
    const Google__Protobuf__FileDescriptorProto *file = h->set->file[f];
    const char *rel = strip_package(file, full);
    if (rel == NULL) {
      continue;
    }
    for (size_t i = 0; i < file->n_service; i++) {
      if (file->service[i]->name != NULL && strcmp(file->service[i]->name, rel) == 0) {
        PATH path = {{0}, 0};
        path_push(&path, FILE_SERVICE, (int32_t)i);
        *out_file = file;
        *out_path = path;
        return file->service[i];
      }
    }
  }
  return NULL;
}

/* clean_comment returns |raw| without the space after each "//", trailing blanks and
 * surrounding blank lines, or NULL if nothing is left. */
static char *clean_comment(const char *raw) {
  STRBUF b;
  strbuf_init(&b);
  size_t pending_blank = 0;  // blank lines seen since the last text line
  const char *p = raw;
  while (*p != '\0') {
    size_t n = strcspn(p, "\n");
    const char *line = p;
    p += n;
    if (*p == '\n') {
      p++;
    }
    if (n > 0 && line[0] == ' ') {
      line++;
      n--;
    }
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r')) {
      n--;
    }
    if (n == 0) {
      pending_blank++;
      continue;
    }
    if (b.len > 0) {
      strbuf_putc(&b, '\n');
      strbuf_repeat(&b, '\n', pending_blank > 0 ? 1 : 0);
    }
    pending_blank = 0;
    strbuf_append(&b, line, n);
  }
  if (b.len == 0) {
    strbuf_cleanup(&b);
    return NULL;
  }
  return strbuf_finish(&b);
}

/* comment_at returns the cleaned comment at |path| in |file|, or NULL. */
static char *comment_at(const Google__Protobuf__FileDescriptorProto *file,
                        const PATH *path) {
  const Google__Protobuf__SourceCodeInfo *info = file->source_code_info;
  if (info == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < info->n_location; i++) {
    const Google__Protobuf__SourceCodeInfo__Location *loc = info->location[i];
    if (loc->n_path != path->n ||
        memcmp(loc->path, path->p, path->n * sizeof(int32_t)) != 0) {
      continue;
    }
    char *c = NULL;
    if (loc->leading_comments != NULL) {
      c = clean_comment(loc->leading_comments);
    }
    if (c == NULL && loc->trailing_comments != NULL) {
      c = clean_comment(loc->trailing_comments);
    }
    return c;
  }
  return NULL;
}

char *proto_help_service_comment(const PROTO_HELP *h, const char *service) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  if (find_service(h, service, &file, &path) == NULL) {
    return NULL;
  }
  return comment_at(file, &path);
}

/* find_method finds |method| of |service| and its path. */
static const Google__Protobuf__MethodDescriptorProto *find_method(
    const PROTO_HELP *h, const char *service, const char *method,
    const Google__Protobuf__FileDescriptorProto **out_file, PATH *out_path) {
  const Google__Protobuf__ServiceDescriptorProto *s =
      find_service(h, service, out_file, out_path);
  if (s == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < s->n_method; i++) {
    if (s->method[i]->name != NULL && strcmp(s->method[i]->name, method) == 0 &&
        path_push(out_path, SERVICE_METHOD, (int32_t)i)) {
      return s->method[i];
    }
  }
  return NULL;
}

char *proto_help_method_comment(const PROTO_HELP *h, const char *service,
                                const char *method) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  if (find_method(h, service, method, &file, &path) == NULL) {
    return NULL;
  }
  return comment_at(file, &path);
}

int proto_help_method_streams(const PROTO_HELP *h, const char *service,
                              const char *method) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  const Google__Protobuf__MethodDescriptorProto *m =
      find_method(h, service, method, &file, &path);
  if (m == NULL) {
    return 0;
  }
  return (m->has_client_streaming && m->client_streaming) ||
         (m->has_server_streaming && m->server_streaming);
}

char *proto_help_message_comment(const PROTO_HELP *h, const char *message) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  if (find_message(h, message, &file, &path) == NULL) {
    return NULL;
  }
  return comment_at(file, &path);
}

char *proto_help_field_comment(const PROTO_HELP *h, const char *message,
                               const char *field) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  const Google__Protobuf__DescriptorProto *m = find_message(h, message, &file, &path);
  if (m == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < m->n_field; i++) {
    const Google__Protobuf__FieldDescriptorProto *fd = m->field[i];
    if (fd->name == NULL || strcmp(fd->name, field) != 0) {
      continue;
    }
    PATH field_path = path;
    if (!path_push(&field_path, MESSAGE_FIELD, (int32_t)i)) {
      return NULL;
    }
    char *c = comment_at(file, &field_path);
    // A field alone in a oneof (how protoc-c 1.4 gets presence) is usually documented
    // on the oneof: "// enabled turns..." above "oneof enabled_value { bool enabled = 1;
    // }".
    if (c == NULL && fd->has_oneof_index &&
        path_push(&path, MESSAGE_ONEOF_DECL, fd->oneof_index)) {
      c = comment_at(file, &path);
    }
    return c;
  }
  return NULL;
}

char *proto_help_enum_comment(const PROTO_HELP *h, const char *enum_name) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  if (find_enum(h, enum_name, &file, &path) == NULL) {
    return NULL;
  }
  return comment_at(file, &path);
}

char *proto_help_enum_value_comment(const PROTO_HELP *h, const char *enum_name,
                                    const char *value) {
  const Google__Protobuf__FileDescriptorProto *file;
  PATH path;
  const Google__Protobuf__EnumDescriptorProto *e = find_enum(h, enum_name, &file, &path);
  if (e == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < e->n_value; i++) {
    if (e->value[i]->name != NULL && strcmp(e->value[i]->name, value) == 0) {
      if (!path_push(&path, ENUM_VALUE, (int32_t)i)) {
        return NULL;
      }
      return comment_at(file, &path);
    }
  }
  return NULL;
}
