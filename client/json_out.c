/* json_out.c: see json_out.h. */
#include "client/json_out.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/names.h"
#include "client/timestamp.h"

int json_out_string(STRBUF *b, const char *s, size_t n) {
  const uint8_t *p = (const uint8_t *)s;
  strbuf_putc(b, '"');
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c == '"') {
      strbuf_puts(b, "\\\"");
    } else if (c == '\\') {
      strbuf_puts(b, "\\\\");
    } else if (c == '\n') {
      strbuf_puts(b, "\\n");
    } else if (c == '\r') {
      strbuf_puts(b, "\\r");
    } else if (c == '\t') {
      strbuf_puts(b, "\\t");
    } else if (c == '\b') {
      strbuf_puts(b, "\\b");
    } else if (c == '\f') {
      strbuf_puts(b, "\\f");
    } else if (c < 0x20 || c == 0x7f) {
      strbuf_printf(b, "\\u%04x", c);
    } else if (c < 0x80) {
      strbuf_putc(b, (char)c);
    } else {
      size_t len = utf8_char_len(p + i, n - i);
      if (len == 0) {
        // Not UTF-8 (a server bug or a legacy name): say so rather than emit bad JSON.
        strbuf_puts(b, "\\ufffd");
        i++;
        continue;
      }
      strbuf_append(b, p + i, len);
      i += len;
      continue;
    }
    i++;
  }
  return strbuf_putc(b, '"');
}

int json_out_base64(STRBUF *b, const uint8_t *p, size_t n) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                   alphabet[v & 63]};
    strbuf_append(b, out, 4);
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)p[i] << 16;
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], '=', '='};
    strbuf_append(b, out, 4);
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    char out[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                   '='};
    strbuf_append(b, out, 4);
  }
  return !b->failed;
}

/* json_double appends |v| in the shortest "%.*g" form that reads back as |v| (as a
 * float if |single|), or as the strings proto3 JSON uses for non-finite values. */
static void json_double(STRBUF *b, double v, int single) {
  if (isnan(v)) {
    strbuf_puts(b, "\"NaN\"");
    return;
  }
  if (isinf(v)) {
    strbuf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char text[64];
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(text, sizeof(text), "%.*g", prec, v);
    if (single ? strtof(text, NULL) == (float)v : strtod(text, NULL) == v) {
      break;
    }
  }
  strbuf_puts(b, text);
}

/* indent_to starts a new line indented for nesting level |level|. */
static void indent_to(STRBUF *b, int level) {
  strbuf_putc(b, '\n');
  strbuf_repeat(b, ' ', (size_t)level * 2);
}

static void json_message(STRBUF *b, const ProtobufCMessage *m, int level);

/* json_value appends one value of field |f| stored at |v|. */
static void json_value(STRBUF *b, const ProtobufCFieldDescriptor *f, const void *v,
                       int level) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      strbuf_printf(b, "%" PRId32, *(const int32_t *)v);
      return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      strbuf_printf(b, "%" PRIu32, *(const uint32_t *)v);
      return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      // As strings: JSON readers often hold numbers in doubles, exact only to 2^53.
      strbuf_printf(b, "\"%" PRId64 "\"", *(const int64_t *)v);
      return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      strbuf_printf(b, "\"%" PRIu64 "\"", *(const uint64_t *)v);
      return;
    case PROTOBUF_C_TYPE_FLOAT:
      json_double(b, *(const float *)v, 1);
      return;
    case PROTOBUF_C_TYPE_DOUBLE:
      json_double(b, *(const double *)v, 0);
      return;
    case PROTOBUF_C_TYPE_BOOL:
      strbuf_puts(b, *(const protobuf_c_boolean *)v ? "true" : "false");
      return;
    case PROTOBUF_C_TYPE_ENUM: {
      int value = *(const int *)v;
      const ProtobufCEnumValue *ev =
          protobuf_c_enum_descriptor_get_value(f->descriptor, value);
      if (ev != NULL) {
        json_out_string(b, ev->name, strlen(ev->name));
      } else {
        strbuf_printf(b, "%d", value);
      }
      return;
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)v;
      if (s == NULL) {
        s = "";
      }
      json_out_string(b, s, strlen(s));
      return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *bin = v;
      strbuf_putc(b, '"');
      json_out_base64(b, bin->data, bin->len);
      strbuf_putc(b, '"');
      return;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)v;
      int64_t seconds;
      int32_t nanos;
      char text[TIMESTAMP_TEXT_MAX];
      if (sub == NULL) {
        strbuf_puts(b, "{}");
      } else if (timestamp_is(sub->descriptor) && timestamp_get(sub, &seconds, &nanos) &&
                 timestamp_format(seconds, nanos, text)) {
        strbuf_printf(b, "\"%s\"", text);
      } else {
        // Includes a Timestamp out of range: printed as a plain message rather than
        // dropped, so that nothing the server said is lost.
        json_message(b, sub, level);
      }
      return;
    }
  }
  strbuf_puts(b, "null");
}

/* is_default returns 1 if the singular value at |v| of field |f| is its type's default,
 * which proto3 JSON leaves out. */
static int is_default(const ProtobufCFieldDescriptor *f, const void *v) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      return *(const uint32_t *)v == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      return *(const uint64_t *)v == 0;
    case PROTOBUF_C_TYPE_FLOAT: {
      float x = *(const float *)v;
      return x == 0 && !signbit(x);
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
      double x = *(const double *)v;
      return x == 0 && !signbit(x);
    }
    case PROTOBUF_C_TYPE_BOOL:
      return !*(const protobuf_c_boolean *)v;
    case PROTOBUF_C_TYPE_ENUM:
      return *(const int *)v == 0;
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)v;
      return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
      return ((const ProtobufCBinaryData *)v)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
      return *(const ProtobufCMessage *const *)v == NULL;
  }
  return 0;
}

/* value_size is how many bytes one element of a repeated field of type |t| takes. */
static size_t value_size(ProtobufCType t) {
  switch (t) {
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
    default:
      return 4;
  }
}

/* field_present returns 1 if field |f| of |m| is printed. */
static int field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const char *base = (const char *)m;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) {
    return *(const size_t *)(base + f->quantifier_offset) > 0;
  }
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
    // The selected member is printed even with a default value: for a oneof that is
    // the whole point ("enabled": false, not nothing).
    return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
  }
  if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
    return 1;
  }
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
      f->type != PROTOBUF_C_TYPE_STRING) {
    // proto2 optional scalars have an explicit has_ flag.
    return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
  }
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
    return *(char *const *)(base + f->offset) != NULL;
  }
  return !is_default(f, base + f->offset);
}

/* json_message appends |m| as an object whose closing brace is at nesting |level|. */
static void json_message(STRBUF *b, const ProtobufCMessage *m, int level) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  int first = 1;
  strbuf_putc(b, '{');
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!field_present(m, f)) {
      continue;
    }
    if (!first) {
      strbuf_putc(b, ',');
    }
    first = 0;
    indent_to(b, level + 1);
    char *name = names_json_from_snake(f->name);
    if (name == NULL) {
      b->failed = 1;
      return;
    }
    json_out_string(b, name, strlen(name));
    free(name);
    strbuf_puts(b, ": ");
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      const char *arr = *(char *const *)(base + f->offset);
      size_t size = value_size(f->type);
      strbuf_putc(b, '[');
      for (size_t j = 0; j < n; j++) {
        indent_to(b, level + 2);
        json_value(b, f, arr + j * size, level + 2);
        if (j + 1 < n) {
          strbuf_putc(b, ',');
        }
      }
      indent_to(b, level + 1);
      strbuf_putc(b, ']');
    } else {
      json_value(b, f, base + f->offset, level + 1);
    }
  }
  if (!first) {
    indent_to(b, level);
  }
  strbuf_putc(b, '}');
}

char *json_out_message(const ProtobufCMessage *msg) {
  STRBUF b;
  strbuf_init(&b);
  json_message(&b, msg, 0);
  strbuf_putc(&b, '\n');
  return strbuf_finish(&b);
}
