/* cli_args.c: see cli_args.h. Messages are built with malloc, field by field through
 * the descriptors, exactly as protobuf_c_message_unpack would have allocated them, so
 * that protobuf_c_message_free_unpacked(msg, NULL) frees every part, also half-built
 * messages on error paths. */
#include "client/cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/names.h"
#include "client/text.h"
#include "client/timestamp.h"

/* SET_RECORD notes that field |f| of message |m| was given on the command line: for
 * proto3 fields without presence that is the only way to tell "given as 0" from "not
 * given", which the twice-given check and the repeated-element rule need. */
typedef struct set_record_st {
  const ProtobufCMessage *m;
  const ProtobufCFieldDescriptor *f;
} SET_RECORD;

/* PARSER is the state of one cli_args_parse call. */
typedef struct parser_st {
  const ProtobufCMessageDescriptor *desc;
  ProtobufCMessage *msg;
  SET_RECORD *set;
  size_t n_set;
  size_t cap_set;
  char *err;
} PARSER;

/* fail records the first error message of |ps| and returns 0. */
static int fail(PARSER *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(PARSER *ps, const char *fmt, ...) {
  if (ps->err != NULL) {
    return 0;
  }
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&ps->err, fmt, ap) < 0) {
    ps->err = NULL;
  }
  va_end(ap);
  return 0;
}

/* fail_oom records an allocation failure. */
static int fail_oom(PARSER *ps) {
  return fail(ps, "out of memory");
}

int cli_args_is_leaf(const ProtobufCFieldDescriptor *f) {
  return f->type != PROTOBUF_C_TYPE_MESSAGE || timestamp_is(f->descriptor);
}

/* field_by_flag finds the field of |d| that |n| bytes of |s| name. */
static const ProtobufCFieldDescriptor *field_by_flag(const ProtobufCMessageDescriptor *d,
                                                     const char *s, size_t n) {
  for (unsigned i = 0; i < d->n_fields; i++) {
    if (names_flag_matches(s, n, d->fields[i].name)) {
      return &d->fields[i];
    }
  }
  return NULL;
}

int cli_args_resolve(const ProtobufCMessageDescriptor *desc, const char *path, size_t len,
                     const ProtobufCFieldDescriptor *out_fields[CLI_MAX_DEPTH],
                     size_t *out_n) {
  *out_n = 0;
  const ProtobufCMessageDescriptor *d = desc;
  size_t n = 0;
  size_t start = 0;
  for (;;) {
    size_t end = start;
    while (end < len && path[end] != '.') {
      end++;
    }
    if (n == CLI_MAX_DEPTH || d == NULL) {
      return 0;
    }
    const ProtobufCFieldDescriptor *f = field_by_flag(d, path + start, end - start);
    if (f == NULL) {
      return 0;
    }
    out_fields[n++] = f;
    if (end == len) {
      break;
    }
    // Only a message (other than a Timestamp, which is one value) has sub-flags.
    if (cli_args_is_leaf(f)) {
      return 0;
    }
    d = f->descriptor;
    start = end + 1;
  }
  *out_n = n;
  return 1;
}

/* field_ptr returns where field |f| of |m| is stored. */
static void *field_ptr(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return (char *)m + f->offset;
}

/* quantifier_ptr returns where the count, has_ flag or oneof case of |f| is stored. */
static void *quantifier_ptr(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  return (char *)m + f->quantifier_offset;
}

/* value_size returns how many bytes one value of a field of type |t| takes. */
static size_t value_size(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
      return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
      return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(ProtobufCMessage *);
  }
  return 0;
}

/* message_new allocates an empty message of type |d|, or returns NULL. */
static ProtobufCMessage *message_new(const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = malloc(d->sizeof_message);
  if (m == NULL) {
    return NULL;
  }
  protobuf_c_message_init(d, m);
  return m;
}

/* free_value frees what one value of type |t| at |v| owns (on error paths, before it
 * was stored in a message). */
static void free_value(ProtobufCType t, void *v) {
  if (t == PROTOBUF_C_TYPE_STRING) {
    free(*(char **)v);
  } else if (t == PROTOBUF_C_TYPE_BYTES) {
    free(((ProtobufCBinaryData *)v)->data);
  } else if (t == PROTOBUF_C_TYPE_MESSAGE) {
    protobuf_c_message_free_unpacked(*(ProtobufCMessage **)v, NULL);
  }
}

/* record_set notes that |f| of |m| was given. */
static int record_set(PARSER *ps, const ProtobufCMessage *m,
                      const ProtobufCFieldDescriptor *f) {
  if (ps->n_set == ps->cap_set) {
    size_t cap = ps->cap_set == 0 ? 16 : ps->cap_set * 2;
    SET_RECORD *set = realloc(ps->set, cap * sizeof(*set));
    if (set == NULL) {
      return fail_oom(ps);
    }
    ps->set = set;
    ps->cap_set = cap;
  }
  ps->set[ps->n_set].m = m;
  ps->set[ps->n_set].f = f;
  ps->n_set++;
  return 1;
}

/* was_set returns 1 if |f| of |m| was given before. */
static int was_set(const PARSER *ps, const ProtobufCMessage *m,
                   const ProtobufCFieldDescriptor *f) {
  for (size_t i = 0; i < ps->n_set; i++) {
    if (ps->set[i].m == m && ps->set[i].f == f) {
      return 1;
    }
  }
  return 0;
}

/* oneof_case returns the oneof case of |f| in |m| (0: none), or 0 if |f| is not in a
 * oneof. */
static uint32_t oneof_case(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0) {
    return 0;
  }
  return *(uint32_t *)quantifier_ptr(m, f);
}

/* check_oneof fails if another member of |f|'s oneof is already set in |m|. |flag| is
 * the whole flag text and |prefix_len| the length of its part before |f|'s name. */
static int check_oneof(PARSER *ps, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                       const char *flag, size_t prefix_len) {
  uint32_t c = oneof_case(m, f);
  if (c == 0 || c == f->id) {
    return 1;
  }
  const ProtobufCFieldDescriptor *other =
      protobuf_c_message_descriptor_get_field(m->descriptor, c);
  char *other_name = names_kebab_from_snake(other != NULL ? other->name : "?");
  if (other_name == NULL) {
    return fail_oom(ps);
  }
  fail(ps, "--%s cannot be combined with --%.*s%s: they are alternatives (one oneof)",
       flag, (int)prefix_len, flag, other_name);
  free(other_name);
  return 0;
}

/* mark_present records that singular field |f| of |m| now has a value: the oneof case,
 * or the has_ flag of a proto2 optional field. */
static void mark_present(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    *(uint32_t *)quantifier_ptr(m, f) = f->id;
  } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
             f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
    *(protobuf_c_boolean *)quantifier_ptr(m, f) = 1;
  }
}

/* append_value appends the |size|-byte value at |v| to repeated field |f| of |m|; the
 * message then owns what the value points to. */
static int append_value(PARSER *ps, ProtobufCMessage *m,
                        const ProtobufCFieldDescriptor *f, const void *v, size_t size) {
  size_t *n = quantifier_ptr(m, f);
  void **arr = field_ptr(m, f);
  if (*n >= SIZE_MAX / size - 1) {
    return fail_oom(ps);
  }
  char *grown = realloc(*arr, (*n + 1) * size);
  if (grown == NULL) {
    return fail_oom(ps);
  }
  memcpy(grown + *n * size, v, size);
  *arr = grown;
  (*n)++;
  return 1;
}

/* type_name names a field type in error messages and help. */
static const char *type_name(ProtobufCType t) {
  switch (t) {
    case PROTOBUF_C_TYPE_INT32:
      return "int32";
    case PROTOBUF_C_TYPE_SINT32:
      return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
      return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
      return "int64";
    case PROTOBUF_C_TYPE_SINT64:
      return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
      return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
      return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
      return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
      return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
      return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
      return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
      return "double";
    case PROTOBUF_C_TYPE_BOOL:
      return "bool";
    case PROTOBUF_C_TYPE_ENUM:
      return "enum";
    case PROTOBUF_C_TYPE_STRING:
      return "string";
    case PROTOBUF_C_TYPE_BYTES:
      return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
      return "message";
  }
  return "?";
}

/* parse_signed reads a decimal integer in [min, max]. */
static int parse_signed(PARSER *ps, const char *flag, const ProtobufCFieldDescriptor *f,
                        const char *text, int64_t min, int64_t max, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (text[0] == '\0' || isspace((unsigned char)text[0]) || *end != '\0') {
    return fail(ps, "--%s: \"%s\" is not a valid %s (a whole number, like 10)", flag,
                text, type_name(f->type));
  }
  if (errno == ERANGE || v < min || v > max) {
    return fail(ps, "--%s: %s is out of range for %s (%" PRId64 " to %" PRId64 ")", flag,
                text, type_name(f->type), min, max);
  }
  *out = v;
  return 1;
}

/* parse_unsigned reads a decimal integer in [0, max]. */
static int parse_unsigned(PARSER *ps, const char *flag, const ProtobufCFieldDescriptor *f,
                          const char *text, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  const char *digits = text[0] == '+' ? text + 1 : text;
  if (digits[0] < '0' || digits[0] > '9') {
    if (digits[0] == '-' && digits[1] >= '0' && digits[1] <= '9') {
      return fail(ps, "--%s: %s is out of range for %s (0 to %" PRIu64 ")", flag, text,
                  type_name(f->type), max);
    }
    return fail(ps, "--%s: \"%s\" is not a valid %s (a whole number, like 10)", flag,
                text, type_name(f->type));
  }
  unsigned long long v = strtoull(digits, &end, 10);
  if (*end != '\0') {
    return fail(ps, "--%s: \"%s\" is not a valid %s (a whole number, like 10)", flag,
                text, type_name(f->type));
  }
  if (errno == ERANGE || v > max) {
    return fail(ps, "--%s: %s is out of range for %s (0 to %" PRIu64 ")", flag, text,
                type_name(f->type), max);
  }
  *out = v;
  return 1;
}

/* parse_real reads a float or double. */
static int parse_real(PARSER *ps, const char *flag, const ProtobufCFieldDescriptor *f,
                      const char *text, double *out) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (text[0] == '\0' || isspace((unsigned char)text[0]) || *end != '\0') {
    return fail(ps, "--%s: \"%s\" is not a valid %s (a number, like 1.5)", flag, text,
                type_name(f->type));
  }
  if ((errno == ERANGE && (v > 1 || v < -1)) ||
      (f->type == PROTOBUF_C_TYPE_FLOAT && (v > FLT_MAX || v < -FLT_MAX) && v == v &&
       v - v == 0)) {
    return fail(ps, "--%s: %s is out of range for %s", flag, text, type_name(f->type));
  }
  *out = v;
  return 1;
}

/* read_stream reads all of |fp| into |*out_data| (NUL-terminated, caller frees). */
static int read_stream(FILE *fp, uint8_t **out_data, size_t *out_len) {
  *out_data = NULL;
  *out_len = 0;
  STRBUF b;
  strbuf_init(&b);
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
    if (!strbuf_append(&b, chunk, n)) {
      strbuf_cleanup(&b);
      errno = ENOMEM;
      return 0;
    }
  }
  if (ferror(fp)) {
    int saved = errno;
    strbuf_cleanup(&b);
    errno = saved != 0 ? saved : EIO;
    return 0;
  }
  size_t len = b.len;
  uint8_t *data = (uint8_t *)strbuf_finish(&b);
  if (data == NULL) {
    errno = ENOMEM;
    return 0;
  }
  *out_data = data;
  *out_len = len;
  return 1;
}

/* parse_bytes turns a bytes flag value into bytes: @FILE, @- (stdin), @@text or text. */
static int parse_bytes(PARSER *ps, const char *flag, const char *text,
                       ProtobufCBinaryData *out) {
  out->len = 0;
  out->data = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  if (text[0] == '@' && text[1] != '@') {
    const char *path = text + 1;
    if (path[0] == '\0') {
      return fail(ps, "--%s: \"@\" names no file (@FILE reads a file, @- stdin)", flag);
    }
    int ok;
    if (strcmp(path, "-") == 0) {
      ok = read_stream(stdin, &data, &len);
      if (!ok) {
        return fail(ps, "--%s: cannot read stdin: %s", flag, strerror(errno));
      }
    } else {
      FILE *fp = fopen(path, "rb");
      if (fp == NULL) {
        return fail(ps, "--%s: cannot read %s: %s", flag, path, strerror(errno));
      }
      ok = read_stream(fp, &data, &len);
      int saved = errno;
      fclose(fp);
      if (!ok) {
        return fail(ps, "--%s: cannot read %s: %s", flag, path, strerror(saved));
      }
    }
  } else {
    // "@@x" is the text "@x", so that text starting with @ can be given too.
    const char *literal = text[0] == '@' ? text + 1 : text;
    len = strlen(literal);
    data = malloc(len + 1);
    if (data == NULL) {
      return fail_oom(ps);
    }
    memcpy(data, literal, len + 1);
  }
  out->len = len;
  out->data = data;
  return 1;
}

/* enum_choices lists the short names of |e| for error messages. */
static char *enum_choices(const ProtobufCEnumDescriptor *e) {
  STRBUF b;
  strbuf_init(&b);
  for (unsigned i = 0; i < e->n_values; i++) {
    char *s = names_enum_short(e, &e->values[i]);
    if (s == NULL) {
      strbuf_cleanup(&b);
      return NULL;
    }
    strbuf_printf(&b, "%s%s", i == 0 ? "" : ", ", s);
    free(s);
  }
  return strbuf_finish(&b);
}

/* parse_value converts |text| into one value of field |f|, written to |v| (which
 * value_size(f->type) bytes at |v| can hold). Pointers in it are owned by the caller. */
static int parse_value(PARSER *ps, const char *flag, const ProtobufCFieldDescriptor *f,
                       const char *text, void *v) {
  int64_t i64;
  uint64_t u64;
  double d;
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      if (!parse_signed(ps, flag, f, text, INT32_MIN, INT32_MAX, &i64)) {
        return 0;
      }
      *(int32_t *)v = (int32_t)i64;
      return 1;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      if (!parse_signed(ps, flag, f, text, INT64_MIN, INT64_MAX, &i64)) {
        return 0;
      }
      *(int64_t *)v = i64;
      return 1;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      if (!parse_unsigned(ps, flag, f, text, UINT32_MAX, &u64)) {
        return 0;
      }
      *(uint32_t *)v = (uint32_t)u64;
      return 1;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      if (!parse_unsigned(ps, flag, f, text, UINT64_MAX, &u64)) {
        return 0;
      }
      *(uint64_t *)v = u64;
      return 1;
    case PROTOBUF_C_TYPE_FLOAT:
      if (!parse_real(ps, flag, f, text, &d)) {
        return 0;
      }
      *(float *)v = (float)d;
      return 1;
    case PROTOBUF_C_TYPE_DOUBLE:
      if (!parse_real(ps, flag, f, text, &d)) {
        return 0;
      }
      *(double *)v = d;
      return 1;
    case PROTOBUF_C_TYPE_BOOL:
      if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
        *(protobuf_c_boolean *)v = 1;
        return 1;
      }
      if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        *(protobuf_c_boolean *)v = 0;
        return 1;
      }
      return fail(ps, "--%s: \"%s\" is not true or false (--%s alone means true)", flag,
                  text, flag);
    case PROTOBUF_C_TYPE_ENUM: {
      const ProtobufCEnumDescriptor *e = f->descriptor;
      const ProtobufCEnumValue *ev = names_enum_value_by_text(e, text);
      if (ev == NULL) {
        char *choices = enum_choices(e);
        fail(ps, "--%s: \"%s\" is not one of: %s", flag, text,
             choices != NULL ? choices : "?");
        free(choices);
        return 0;
      }
      *(int *)v = ev->value;
      return 1;
    }
    case PROTOBUF_C_TYPE_STRING: {
      size_t len = strlen(text);
      if (!utf8_valid((const uint8_t *)text, len)) {
        return fail(ps, "--%s: the text is not valid UTF-8", flag);
      }
      char *s = strdup(text);
      if (s == NULL) {
        return fail_oom(ps);
      }
      *(char **)v = s;
      return 1;
    }
    case PROTOBUF_C_TYPE_BYTES:
      return parse_bytes(ps, flag, text, v);
    case PROTOBUF_C_TYPE_MESSAGE: {
      // Only Timestamps get here (cli_args_is_leaf).
      int64_t seconds;
      int32_t nanos;
      if (!timestamp_parse(text, &seconds, &nanos)) {
        return fail(ps,
                    "--%s: \"%s\" is not an RFC 3339 time like 2026-11-29T10:00:00Z "
                    "(years 1 to 9999; fractions and offsets like +01:00 allowed)",
                    flag, text);
      }
      ProtobufCMessage *ts = message_new(f->descriptor);
      if (ts == NULL) {
        return fail_oom(ps);
      }
      timestamp_set(ts, seconds, nanos);
      *(ProtobufCMessage **)v = ts;
      return 1;
    }
  }
  return fail(ps, "--%s: unsupported field type", flag);
}

/* set_leaf sets field |f| of |m| (a leaf: cli_args_is_leaf) from |text|. */
static int set_leaf(PARSER *ps, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                    const char *flag, const char *text) {
  union {
    int32_t i32;
    int64_t i64;
    double d;
    char *s;
    ProtobufCBinaryData bin;
    ProtobufCMessage *msg;
  } v;
  memset(&v, 0, sizeof(v));
  size_t size = value_size(f->type);
  if (f->label != PROTOBUF_C_LABEL_REPEATED && was_set(ps, m, f)) {
    return fail(ps,
                "--%s: given more than once (only repeated fields take several values)",
                flag);
  }
  if (!parse_value(ps, flag, f, text, &v)) {
    return 0;
  }
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    if (!append_value(ps, m, f, &v, size)) {
      free_value(f->type, &v);
      return 0;
    }
  } else {
    // A field of a oneof shares its storage with the others (a union in protobuf-c);
    // check_oneof made sure no other member is set, so nothing is overwritten.
    memcpy(field_ptr(m, f), &v, size);
    mark_present(m, f);
  }
  return record_set(ps, m, f);
}

/* remainder_set returns 1 if the leaf that |fields[0..n)| leads to from |m| was already
 * given, without creating anything. A repeated leaf is never "already given": repeating
 * its flag adds to it. */
static int remainder_set(const PARSER *ps, ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *const *fields, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    const ProtobufCFieldDescriptor *f = fields[i];
    if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && oneof_case(m, f) != f->id) {
      return 0;
    }
    ProtobufCMessage *sub = *(ProtobufCMessage **)field_ptr(m, f);
    if (sub == NULL) {
      return 0;
    }
    m = sub;
  }
  const ProtobufCFieldDescriptor *leaf = fields[n - 1];
  if (leaf->label == PROTOBUF_C_LABEL_REPEATED) {
    return 0;
  }
  return was_set(ps, m, leaf);
}

/* set_path sets the leaf that |fields[0..n)| (from cli_args_resolve) lead to from the
 * root message, creating the messages on the way. |flag| is the flag's name, and
 * |offsets[i]| where the name of |fields[i]| starts in it. */
static int set_path(PARSER *ps, const ProtobufCFieldDescriptor *const *fields, size_t n,
                    const size_t *offsets, const char *flag, const char *text) {
  ProtobufCMessage *m = ps->msg;
  for (size_t i = 0; i + 1 < n; i++) {
    const ProtobufCFieldDescriptor *f = fields[i];
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t count = *(size_t *)quantifier_ptr(m, f);
      ProtobufCMessage **arr = *(ProtobufCMessage ***)field_ptr(m, f);
      // A deeper repeated message takes the split instead, so that only the innermost
      // element starts anew.
      int deeper_repeated = 0;
      for (size_t j = i + 1; j + 1 < n; j++) {
        if (fields[j]->label == PROTOBUF_C_LABEL_REPEATED) {
          deeper_repeated = 1;
        }
      }
      int start_new =
          count == 0 || (!deeper_repeated &&
                         remainder_set(ps, arr[count - 1], fields + i + 1, n - i - 1));
      if (start_new) {
        ProtobufCMessage *sub = message_new(f->descriptor);
        if (sub == NULL) {
          return fail_oom(ps);
        }
        if (!append_value(ps, m, f, &sub, sizeof(sub))) {
          protobuf_c_message_free_unpacked(sub, NULL);
          return 0;
        }
        count++;
        arr = *(ProtobufCMessage ***)field_ptr(m, f);
      }
      m = arr[count - 1];
    } else {
      if (!check_oneof(ps, m, f, flag, offsets[i])) {
        return 0;
      }
      ProtobufCMessage **slot = field_ptr(m, f);
      if (*slot == NULL) {
        ProtobufCMessage *sub = message_new(f->descriptor);
        if (sub == NULL) {
          return fail_oom(ps);
        }
        *slot = sub;
        mark_present(m, f);
      }
      m = *slot;
    }
  }
  const ProtobufCFieldDescriptor *leaf = fields[n - 1];
  if (!check_oneof(ps, m, leaf, flag, offsets[n - 1])) {
    return 0;
  }
  return set_leaf(ps, m, leaf, flag, text);
}

/* sub_flags lists the leaf flags under message field |f| (for "--options is a
 * message" errors), at most a handful. */
static char *sub_flags(const char *flag, const ProtobufCFieldDescriptor *f) {
  const ProtobufCMessageDescriptor *d = f->descriptor;
  STRBUF b;
  strbuf_init(&b);
  unsigned shown = 0;
  for (unsigned i = 0; i < d->n_fields && shown < 4; i++) {
    char *kebab = names_kebab_from_snake(d->fields[i].name);
    if (kebab == NULL) {
      strbuf_cleanup(&b);
      return NULL;
    }
    strbuf_printf(&b, "%s--%s.%s", shown == 0 ? "" : ", ", flag, kebab);
    free(kebab);
    shown++;
  }
  if (shown < d->n_fields) {
    strbuf_puts(&b, ", ...");
  }
  return strbuf_finish(&b);
}

/* SUGGESTION is the closest flag name found so far for an unknown flag. */
typedef struct suggestion_st {
  const char *wanted;
  char *best;
  size_t distance;
} SUGGESTION;

/* suggest_consider keeps |name| (caller's; copied) if it is closer than the best yet. */
static void suggest_consider(SUGGESTION *s, const char *name) {
  size_t d = names_edit_distance(s->wanted, name);
  if (d < s->distance) {
    char *copy = strdup(name);
    if (copy != NULL) {
      free(s->best);
      s->best = copy;
      s->distance = d;
    }
  }
}

/* suggest_fields considers every flag of |d| under |prefix|. */
static void suggest_fields(SUGGESTION *s, const ProtobufCMessageDescriptor *d,
                           const char *prefix, int depth) {
  if (depth >= CLI_MAX_DEPTH) {
    return;
  }
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    char *kebab = names_kebab_from_snake(f->name);
    char *name = NULL;
    if (kebab == NULL || asprintf(&name, "%s%s", prefix, kebab) < 0) {
      free(kebab);
      return;
    }
    free(kebab);
    suggest_consider(s, name);
    if (!cli_args_is_leaf(f)) {
      char *sub = NULL;
      if (asprintf(&sub, "%s.", name) >= 0) {
        suggest_fields(s, f->descriptor, sub, depth + 1);
        free(sub);
      }
    }
    free(name);
  }
}

/* fail_unknown reports an unknown flag, with the closest known one if it is close. */
static int fail_unknown(PARSER *ps, const char *name, size_t len,
                        const CLI_EXTRA_FLAG *extra, size_t n_extra) {
  char *wanted = strndup(name, len);
  if (wanted == NULL) {
    return fail_oom(ps);
  }
  SUGGESTION s = {wanted, NULL, SIZE_MAX};
  suggest_fields(&s, ps->desc, "", 0);
  for (size_t i = 0; i < n_extra; i++) {
    suggest_consider(&s, extra[i].name);
  }
  size_t limit = len / 3 > 2 ? len / 3 : 2;
  if (s.best != NULL && s.distance <= limit) {
    fail(ps, "unknown flag --%s (did you mean --%s?)", wanted, s.best);
  } else {
    fail(ps, "unknown flag --%s", wanted);
  }
  free(s.best);
  free(wanted);
  return 0;
}

/* extra_matches returns 1 if |len| bytes of |name| are the extra flag |e|. */
static int extra_matches(const CLI_EXTRA_FLAG *e, const char *name, size_t len) {
  if (strlen(e->name) != len) {
    return 0;
  }
  for (size_t i = 0; i < len; i++) {
    char a = name[i] == '_' ? '-' : name[i];
    char b = e->name[i] == '_' ? '-' : e->name[i];
    if (a != b) {
      return 0;
    }
  }
  return 1;
}

/* parse_field_flag handles one request-field flag: |name| (without "--", |len| bytes,
 * possibly followed by "=value" in the same argument) resolved to |fields[0..n)|. */
static int parse_field_flag(PARSER *ps, const char *name, size_t len,
                            const ProtobufCFieldDescriptor *const *fields, size_t n,
                            const char *value, int argc, char *const *argv, int *i) {
  int ok = 0;
  char *flag = strndup(name, len);
  if (flag == NULL) {
    return fail_oom(ps);
  }
  const ProtobufCFieldDescriptor *leaf = fields[n - 1];
  if (!cli_args_is_leaf(leaf)) {
    char *subs = sub_flags(flag, leaf);
    fail(ps, "--%s is a message: set its fields (%s)", flag, subs != NULL ? subs : "");
    free(subs);
    goto out;
  }
  if (value == NULL) {
    if (leaf->type == PROTOBUF_C_TYPE_BOOL) {
      value = "true";
    } else if (*i + 1 < argc) {
      *i += 1;
      value = argv[*i];
    } else {
      fail(ps, "--%s needs a value", flag);
      goto out;
    }
  }
  // Where each component's name starts, for messages naming a sibling oneof member.
  size_t offsets[CLI_MAX_DEPTH];
  size_t k = 0, pos = 0;
  offsets[k++] = 0;
  for (; pos < len && k < n; pos++) {
    if (name[pos] == '.') {
      offsets[k++] = pos + 1;
    }
  }
  ok = set_path(ps, fields, n, offsets, flag, value);

out:
  free(flag);
  return ok;
}

/* unexpected_word reports an argument that is not a flag; after a bool flag the user
 * most likely meant --flag=false. */
static int unexpected_word(PARSER *ps, const char *arg, const char *prev) {
  if (prev != NULL && (strcasecmp(arg, "true") == 0 || strcasecmp(arg, "false") == 0)) {
    size_t n = strcspn(prev + 2, "=");
    return fail(ps,
                "unexpected argument \"%s\": a bool flag takes its value after '=', "
                "like %.*s=%s",
                arg, (int)(n + 2), prev, arg);
  }
  return fail(ps, "unexpected argument \"%s\": flags start with -- (--name value)", arg);
}

int cli_args_parse(const ProtobufCMessageDescriptor *desc, int argc, char *const *argv,
                   CLI_EXTRA_FLAG *extra, size_t n_extra, ProtobufCMessage **out_msg,
                   char **out_err) {
  int ok = 0;
  PARSER ps;
  memset(&ps, 0, sizeof(ps));
  *out_msg = NULL;
  *out_err = NULL;
  for (size_t e = 0; e < n_extra; e++) {
    extra[e].value = NULL;
    extra[e].given = 0;
  }
  ps.desc = desc;
  ps.msg = message_new(desc);
  if (ps.msg == NULL) {
    fail_oom(&ps);
    goto out;
  }
  const char *prev_bool = NULL;  // the previous argument, if it was a bool flag alone
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || arg[2] == '=') {
      unexpected_word(&ps, arg, prev_bool);
      goto out;
    }
    prev_bool = NULL;
    const char *name = arg + 2;
    size_t len = strcspn(name, "=");
    const char *value = name[len] == '=' ? name + len + 1 : NULL;
    const ProtobufCFieldDescriptor *fields[CLI_MAX_DEPTH];
    size_t n;
    if (cli_args_resolve(desc, name, len, fields, &n)) {
      if (value == NULL && fields[n - 1]->type == PROTOBUF_C_TYPE_BOOL) {
        prev_bool = arg;
      }
      if (!parse_field_flag(&ps, name, len, fields, n, value, argc, argv, &i)) {
        goto out;
      }
      continue;
    }
    size_t e;
    for (e = 0; e < n_extra; e++) {
      if (extra_matches(&extra[e], name, len)) {
        break;
      }
    }
    if (e == n_extra) {
      fail_unknown(&ps, name, len, extra, n_extra);
      goto out;
    }
    if (!extra[e].takes_value) {
      if (value != NULL) {
        fail(&ps, "--%s takes no value", extra[e].name);
        goto out;
      }
    } else if (value == NULL) {
      if (i + 1 >= argc) {
        fail(&ps, "--%s needs a value", extra[e].name);
        goto out;
      }
      value = argv[++i];
    }
    extra[e].value = value;
    extra[e].given++;
  }
  *out_msg = ps.msg;
  ps.msg = NULL;
  ok = 1;

out:
  if (!ok) {
    for (size_t e = 0; e < n_extra; e++) {
      extra[e].value = NULL;
      extra[e].given = 0;
    }
    *out_err = ps.err != NULL ? ps.err : strdup("out of memory");
    ps.err = NULL;
  }
  protobuf_c_message_free_unpacked(ps.msg, NULL);
  free(ps.set);
  free(ps.err);
  return ok;
}
