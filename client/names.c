/* names.c: see names.h. */
#include "client/names.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/text.h"

char *names_kebab_from_camel(const char *camel) {
  STRBUF b;
  strbuf_init(&b);
  for (size_t i = 0; camel[i] != '\0'; i++) {
    unsigned char c = (unsigned char)camel[i];
    if (isupper(c) && i > 0) {
      unsigned char prev = (unsigned char)camel[i - 1];
      unsigned char next = (unsigned char)camel[i + 1];
      // A word starts at an upper-case letter after a lower-case one or a digit, or at
      // the last capital of an acronym that a lower-case word follows ("HTTPStatus").
      if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next))) {
        strbuf_putc(&b, '-');
      }
    }
    strbuf_putc(&b, c == '_' ? '-' : (char)tolower(c));
  }
  return strbuf_finish(&b);
}

char *names_kebab_from_snake(const char *snake) {
  char *ret = strdup(snake);
  if (ret == NULL) {
    return NULL;
  }
  for (char *p = ret; *p != '\0'; p++) {
    if (*p == '_') {
      *p = '-';
    }
  }
  return ret;
}

char *names_json_from_snake(const char *snake) {
  STRBUF b;
  strbuf_init(&b);
  int upper_next = 0;
  for (const char *p = snake; *p != '\0'; p++) {
    if (*p == '_') {
      upper_next = 1;
    } else if (upper_next) {
      strbuf_putc(&b, (char)toupper((unsigned char)*p));
      upper_next = 0;
    } else {
      strbuf_putc(&b, *p);
    }
  }
  return strbuf_finish(&b);
}

int names_flag_matches(const char *s, size_t n, const char *field) {
  if (strlen(field) != n) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i] == '-' ? '_' : s[i];
    if (c != field[i]) {
      return 0;
    }
  }
  return 1;
}

size_t names_enum_prefix_len(const ProtobufCEnumDescriptor *e) {
  if (e->n_values < 2) {
    return 0;
  }
  const char *first = e->values[0].name;
  size_t common = strlen(first);
  for (unsigned i = 1; i < e->n_values; i++) {
    const char *name = e->values[i].name;
    size_t j = 0;
    while (j < common && name[j] == first[j]) {
      j++;
    }
    common = j;
  }
  // Cut back to the last underscore, so that A_B_X and A_B_Y share "A_B_", not more.
  while (common > 0 && first[common - 1] != '_') {
    common--;
  }
  // Every value must keep a non-empty short name.
  for (unsigned i = 0; i < e->n_values; i++) {
    if (strlen(e->values[i].name) == common) {
      return 0;
    }
  }
  return common;
}

/* enum_name_equal compares a value name with user text: case-insensitive, '-' = '_'. */
static int enum_name_equal(const char *name, const char *text) {
  for (; *name != '\0' && *text != '\0'; name++, text++) {
    char t = *text == '-' ? '_' : *text;
    if (toupper((unsigned char)t) != toupper((unsigned char)*name)) {
      return 0;
    }
  }
  return *name == '\0' && *text == '\0';
}

const ProtobufCEnumValue *names_enum_value_by_text(const ProtobufCEnumDescriptor *e,
                                                   const char *text) {
  size_t prefix = names_enum_prefix_len(e);
  for (unsigned i = 0; i < e->n_values; i++) {
    const char *name = e->values[i].name;
    if (enum_name_equal(name, text) || enum_name_equal(name + prefix, text)) {
      return &e->values[i];
    }
  }
  return NULL;
}

char *names_enum_short(const ProtobufCEnumDescriptor *e, const ProtobufCEnumValue *v) {
  char *ret = strdup(v->name + names_enum_prefix_len(e));
  if (ret == NULL) {
    return NULL;
  }
  for (char *p = ret; *p != '\0'; p++) {
    *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
  }
  return ret;
}

size_t names_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 100 || lb > 100) {
    return SIZE_MAX;
  }
  size_t row[101];
  for (size_t j = 0; j <= lb; j++) {
    row[j] = j;
  }
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
      if (up + 1 < best) {
        best = up + 1;
      }
      if (row[j - 1] + 1 < best) {
        best = row[j - 1] + 1;
      }
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}
