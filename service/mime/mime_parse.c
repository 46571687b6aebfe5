/* mime_parse.c: see mime_parse.h. */
#include "service/mime/mime_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/mime/mime_arena.h"
#include "service/mime/mime_codec.h"

/* MIME_MAX_BOUNDARY is the longest boundary parameter used as one. RFC 2046 allows 70
 * characters; longer ones are seen in the wild, absurd ones are not. */
#define MIME_MAX_BOUNDARY 998

struct mime_tree_st {
  const uint8_t *data;
  size_t len;
  uint8_t *owned;
  MIME_ARENA *arena;
  MIME_ENTITY *root;
  size_t num_entities;
};

/* PARSER is the state of one mime_parse call. */
typedef struct parser_st {
  const uint8_t *data;
  size_t len;
  MIME_LIMITS lim;
  MIME_ARENA *arena;
  size_t num_entities;
  size_t num_fields;
  STATUS *err;
} PARSER;

void mime_limits_default(MIME_LIMITS *lim) {
  lim->max_depth = MIME_DEFAULT_MAX_DEPTH;
  lim->max_parts = MIME_DEFAULT_MAX_PARTS;
  lim->max_header_bytes = MIME_DEFAULT_MAX_HEADER_BYTES;
  lim->max_header_fields = MIME_DEFAULT_MAX_HEADER_FIELDS;
  lim->depth_name = NULL;
  lim->parts_name = NULL;
}

/* limit_name is " (NAME)" for a named limit, else "". */
static void limit_name(const char *name, char *out, size_t out_len) {
  if (name != NULL) {
    snprintf(out, out_len, " (%s)", name);
  } else if (out_len > 0) {
    out[0] = '\0';
  }
}

/* span makes a MIME_SPAN of [off, off + len) of the parser's input. */
static MIME_SPAN span(const PARSER *p, size_t off, size_t len) {
  MIME_SPAN s;
  s.ptr = p->data + off;
  s.off = off;
  s.len = len;
  return s;
}

/* oom reports an allocation failure. Returns 0. */
static int oom(PARSER *p) {
  return status_set(p->err, STATUS_RESOURCE_EXHAUSTED, "out of memory parsing MIME");
}

/* hex_digit maps a hex digit of either case to its value; -1 for anything else. */
static int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* ascii_lower lowercases ASCII only: header names and tokens are ASCII, and the
 * locale must not matter. */
static char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int mime_name_eq(const char *a, const char *b) {
  return strcasecmp(a, b) == 0;
}

/* lower_dup copies |len| bytes into the arena, lowercased. */
static char *lower_dup(PARSER *p, const char *s, size_t len) {
  char *d = mime_arena_strndup(p->arena, s, len);
  if (d == NULL) {
    return NULL;
  }
  for (size_t i = 0; i < len; i++) {
    d[i] = ascii_lower(d[i]);
  }
  return d;
}

/* line_at finds the line that starts at |pos| (bounded by |end|): its content ends at
 * |*content_end| (before CRLF or LF) and the next line starts at |*next|. */
static void line_at(const uint8_t *data, size_t pos, size_t end, size_t *content_end,
                    size_t *next) {
  const uint8_t *lf = memchr(data + pos, '\n', end - pos);
  if (lf == NULL) {
    *content_end = end;
    *next = end;
    return;
  }
  size_t at = (size_t)(lf - data);
  *next = at + 1;
  *content_end = at > pos && data[at - 1] == '\r' ? at - 1 : at;
}

/* field_name_end returns the end of the field name if [pos, ce) starts a header field
 * (name characters, optional blanks, colon), or 0. The colon is at or after the
 * returned offset. */
static size_t field_name_end(const uint8_t *data, size_t pos, size_t ce) {
  size_t i = pos;
  while (i < ce && data[i] >= 33 && data[i] <= 126 && data[i] != ':') {
    i++;
  }
  if (i == pos) {
    return 0;
  }
  size_t name_end = i;
  while (i < ce && (data[i] == ' ' || data[i] == '\t')) {
    i++;
  }
  if (i >= ce || data[i] != ':') {
    return 0;
  }
  return name_end;
}

/* make_field fills |h| from the raw field [start, end). */
static int make_field(PARSER *p, MIME_HEADER *h, size_t start, size_t end) {
  const uint8_t *d = p->data;
  size_t line_end;
  size_t next;
  line_at(d, start, end, &line_end, &next);
  size_t name_end = field_name_end(d, start, line_end);
  size_t colon = name_end;
  while (d[colon] != ':') {
    colon++;
  }
  char *name = mime_arena_strndup(p->arena, d + start, name_end - start);
  char *value = mime_arena_alloc(p->arena, end - colon);
  if (name == NULL || value == NULL) {
    return oom(p);
  }
  /* Unfold: drop every line end (a continuation line starts with a blank, which
   * stays). */
  size_t n = 0;
  for (size_t i = colon + 1; i < end; i++) {
    uint8_t c = d[i];
    if (c == '\n' || (c == '\r' && i + 1 < end && d[i + 1] == '\n')) {
      continue;
    }
    value[n++] = c == '\0' ? ' ' : (char)c;
  }
  size_t b = 0;
  while (b < n && (value[b] == ' ' || value[b] == '\t' || value[b] == '\r')) {
    b++;
  }
  while (n > b && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r')) {
    n--;
  }
  memmove(value, value + b, n - b);
  value[n - b] = '\0';
  h->name = name;
  h->value = value;
  h->raw = span(p, start, end - start);
  return 1;
}

char *mime_entity_path(const MIME_ENTITY *e, char *buf, size_t size) {
  size_t idx[64];
  size_t n = 0;
  if (size == 0) {
    return buf;
  }
  buf[0] = '\0';
  for (const MIME_ENTITY *x = e; x != NULL && x->parent != NULL; x = x->parent) {
    if (n < sizeof(idx) / sizeof(idx[0])) {
      idx[n++] = x->index + 1;
    }
  }
  if (n == 0) {
    snprintf(buf, size, "0");
    return buf;
  }
  size_t used = 0;
  while (n > 0 && used + 1 < size) {
    n--;
    int w = snprintf(buf + used, size - used, used == 0 ? "%zu" : ".%zu", idx[n]);
    if (w < 0 || (size_t)w >= size - used) {
      break;
    }
    used += (size_t)w;
  }
  return buf;
}

/* parse_headers reads the header block of |e| from [start, end): the fields, the
 * header and body spans. A field runs from a line with "name:" to the next line that
 * does not start with a blank. Two passes (count, then fill) so the fields are one
 * array. */
static int parse_headers(PARSER *p, MIME_ENTITY *e, size_t start, size_t end,
                         int top) {
  const uint8_t *d = p->data;
  MIME_HEADER *fields = NULL;
  size_t count = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t pos = start;
    size_t field_start = SIZE_MAX;
    size_t nfield = 0;
    size_t header_end = end;
    size_t body_start = end;
    unsigned flags = MIME_F_NO_BLANK_LINE;
    int first = 1;
    while (pos < end) {
      size_t ce;
      size_t next;
      line_at(d, pos, end, &ce, &next);
      if (ce == pos && next > pos) {
        /* The empty line that ends the header block. */
        header_end = pos;
        body_start = next;
        flags &= ~(unsigned)MIME_F_NO_BLANK_LINE;
        break;
      }
      int cont = (d[pos] == ' ' || d[pos] == '\t') && field_start != SIZE_MAX;
      int field = !cont && field_name_end(d, pos, ce) != 0;
      int mbox = !cont && !field && top && first && ce - pos >= 5 &&
                 memcmp(d + pos, "From ", 5) == 0;
      if ((cont || field || mbox) && next - start > p->lim.max_header_bytes) {
        char path[128];
        return status_set(p->err, STATUS_RESOURCE_EXHAUSTED,
                          "header block of MIME part %s is larger than %zu bytes",
                          mime_entity_path(e, path, sizeof(path)),
                          p->lim.max_header_bytes);
      }
      if (cont) {
        pos = next;
        first = 0;
        continue;
      }
      if (field) {
        if (field_start != SIZE_MAX) {
          if (pass == 1 && !make_field(p, &fields[nfield], field_start, pos)) {
            return 0;
          }
          nfield++;
        }
        field_start = pos;
        pos = next;
        first = 0;
        continue;
      }
      if (mbox) {
        flags |= MIME_F_MBOX_FROM;
        pos = next;
        first = 0;
        continue;
      }
      /* Not a header field: the body starts here. */
      header_end = pos;
      body_start = pos;
      break;
    }
    if (pos >= end) {
      header_end = end;
      body_start = end;
    }
    if (field_start != SIZE_MAX) {
      if (pass == 1 && !make_field(p, &fields[nfield], field_start, header_end)) {
        return 0;
      }
      nfield++;
    }
    if (pass == 0) {
      count = nfield;
      if (count > p->lim.max_header_fields - p->num_fields ||
          p->num_fields > p->lim.max_header_fields) {
        return status_set(p->err, STATUS_RESOURCE_EXHAUSTED,
                          "message has more than %zu header fields",
                          p->lim.max_header_fields);
      }
      p->num_fields += count;
      if (count > 0) {
        fields = mime_arena_alloc(p->arena, count * sizeof(MIME_HEADER));
        if (fields == NULL) {
          return oom(p);
        }
      }
    } else {
      e->headers = fields;
      e->num_headers = count;
      e->header = span(p, start, header_end - start);
      e->body = span(p, body_start, end - body_start);
      e->flags |= flags;
    }
  }
  return 1;
}

const MIME_HEADER *mime_entity_find_header(const MIME_ENTITY *e, const char *name,
                                           size_t *pos) {
  for (size_t i = *pos; i < e->num_headers; i++) {
    if (strcasecmp(e->headers[i].name, name) == 0) {
      *pos = i + 1;
      return &e->headers[i];
    }
  }
  *pos = e->num_headers;
  return NULL;
}

const char *mime_entity_header(const MIME_ENTITY *e, const char *name) {
  size_t pos = 0;
  const MIME_HEADER *h = mime_entity_find_header(e, name, &pos);
  return h == NULL ? NULL : h->value;
}

/* LEX walks a structured header value (RFC 2045 section 5.1 syntax with RFC 822
 * comments). */
typedef struct lex_st {
  const char *s;
  size_t i;
  size_t n;
} LEX;

/* lex_cfws skips blanks and (nested) comments; an unterminated comment runs to the
 * end. */
static void lex_cfws(LEX *l) {
  while (l->i < l->n) {
    char c = l->s[l->i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      l->i++;
      continue;
    }
    if (c != '(') {
      return;
    }
    int depth = 0;
    while (l->i < l->n) {
      c = l->s[l->i];
      if (c == '\\' && l->i + 1 < l->n) {
        l->i += 2;
        continue;
      }
      l->i++;
      if (c == '(') {
        depth++;
      } else if (c == ')') {
        depth--;
        if (depth == 0) {
          break;
        }
      }
    }
  }
}

/* is_tchar says whether |c| may be part of a token (RFC 2045: not a tspecial, blank or
 * control). */
static int is_tchar(unsigned char c) {
  return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* lex_token reads a token; returns its length (0 if none) and start in |*start|. */
static size_t lex_token(LEX *l, size_t *start) {
  *start = l->i;
  while (l->i < l->n && is_tchar((unsigned char)l->s[l->i])) {
    l->i++;
  }
  return l->i - *start;
}

/* RAW_PARAM is a parameter as written, before RFC 2231 segments are joined. */
typedef struct raw_param_st {
  char *base;     /* lowercased name without the "*..." suffix */
  char *value;    /* unquoted */
  unsigned index; /* RFC 2231 segment number */
  int kind;       /* 0: RFC 2231 segment; 1: plain */
  int ext;        /* the segment is charset'lang'%XX-encoded ("*" at the end) */
  size_t pos;     /* order of appearance */
} RAW_PARAM;

/* raw_param_cmp orders by name, RFC 2231 segments before plain values, segment
 * number, then appearance, so each name's segments are consecutive and in order. */
static int raw_param_cmp(const void *a, const void *b) {
  const RAW_PARAM *x = a;
  const RAW_PARAM *y = b;
  int c = strcmp(x->base, y->base);
  if (c != 0) {
    return c;
  }
  if (x->kind != y->kind) {
    return x->kind < y->kind ? -1 : 1;
  }
  if (x->index != y->index) {
    return x->index < y->index ? -1 : 1;
  }
  return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

/* FINAL_PARAM pairs a finished parameter with its first appearance, for ordering. */
typedef struct final_param_st {
  MIME_PARAM param;
  size_t pos;
} FINAL_PARAM;

/* final_param_cmp orders finished parameters by first appearance. */
static int final_param_cmp(const void *a, const void *b) {
  const FINAL_PARAM *x = a;
  const FINAL_PARAM *y = b;
  return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

/* percent_decode appends the %XX-decoded |s| to |out| at |*n|. */
static void percent_decode(const char *s, char *out, size_t *n) {
  for (size_t i = 0; s[i] != '\0'; i++) {
    int hi = -1;
    int lo = -1;
    if (s[i] == '%' && s[i + 1] != '\0' && s[i + 2] != '\0') {
      hi = hex_digit(s[i + 1]);
      lo = hex_digit(s[i + 2]);
    }
    if (hi >= 0 && lo >= 0) {
      out[(*n)++] = (char)(hi << 4 | lo);
      i += 2;
    } else {
      out[(*n)++] = s[i];
    }
  }
}

/* join_2231 builds the value of the RFC 2231 segments raw[from, to) (sorted, all of one
 * name, segment 0 first). Returns 1, or 0 when out of memory; sets *value NULL when
 * there is no segment 0. */
static int join_2231(PARSER *p, RAW_PARAM *raw, size_t from, size_t to,
                     const char **value, const char **charset) {
  *value = NULL;
  *charset = NULL;
  if (raw[from].index != 0) {
    return 1;
  }
  size_t total = 0;
  size_t last = from;
  unsigned expect = 0;
  for (size_t i = from; i < to; i++) {
    if (raw[i].index != expect) {
      if (raw[i].index == expect - 1) {
        continue; /* a repeated segment: the first one counts */
      }
      break; /* a gap: what follows cannot be placed */
    }
    total += strlen(raw[i].value);
    last = i + 1;
    expect++;
  }
  char *buf = mime_arena_alloc(p->arena, total + 1);
  if (buf == NULL) {
    return oom(p);
  }
  size_t n = 0;
  const char *cs = NULL;
  expect = 0;
  for (size_t i = from; i < last; i++) {
    if (raw[i].index != expect) {
      continue;
    }
    const char *v = raw[i].value;
    if (i == from && raw[i].ext) {
      /* charset'language'text */
      const char *q1 = strchr(v, '\'');
      const char *q2 = q1 == NULL ? NULL : strchr(q1 + 1, '\'');
      if (q2 != NULL) {
        if (q1 > v) {
          cs = lower_dup(p, v, (size_t)(q1 - v));
          if (cs == NULL) {
            return oom(p);
          }
        }
        v = q2 + 1;
      }
    }
    if (raw[i].ext) {
      percent_decode(v, buf, &n);
    } else {
      size_t l = strlen(v);
      memcpy(buf + n, v, l);
      n += l;
    }
    expect++;
  }
  buf[n] = '\0';
  if (cs != NULL && mime_charset_known(cs)) {
    uint8_t *u = NULL;
    size_t ulen = 0;
    if (!mime_charset_to_utf8(cs, (const uint8_t *)buf, n, &u, &ulen, NULL)) {
      return oom(p);
    }
    char *conv = mime_arena_strndup(p->arena, u, ulen);
    free(u);
    if (conv == NULL) {
      return oom(p);
    }
    buf = conv;
  }
  *value = buf;
  *charset = cs;
  return 1;
}

/* parse_params reads "; name=value" parameters from |l| into an arena array, joining
 * RFC 2231 segments and keeping the first of duplicate names (an RFC 2231 form beats a
 * plain one, as mail clients do). */
static int parse_params(PARSER *p, LEX *l, const MIME_PARAM **out, size_t *out_n) {
  *out = NULL;
  *out_n = 0;
  int ret = 0;
  RAW_PARAM *raw = NULL;
  FINAL_PARAM *fin = NULL;
  size_t nraw = 0;
  size_t cap = 0;
  while (l->i < l->n) {
    lex_cfws(l);
    if (l->i >= l->n) {
      break;
    }
    if (l->s[l->i] == ';') {
      l->i++;
      continue;
    }
    size_t a;
    size_t alen = lex_token(l, &a);
    if (alen == 0) {
      l->i++; /* garbage: skip one character and resynchronize */
      continue;
    }
    lex_cfws(l);
    if (l->i >= l->n || l->s[l->i] != '=') {
      continue; /* a name without a value: ignored */
    }
    l->i++;
    lex_cfws(l);
    char *value;
    if (l->i < l->n && l->s[l->i] == '"') {
      l->i++;
      size_t start = l->i;
      while (l->i < l->n && l->s[l->i] != '"') {
        l->i += l->s[l->i] == '\\' && l->i + 1 < l->n ? 2 : 1;
      }
      value = mime_arena_alloc(p->arena, l->i - start + 1);
      if (value == NULL) {
        oom(p);
        goto out;
      }
      size_t n = 0;
      for (size_t i = start; i < l->i && i < l->n; i++) {
        if (l->s[i] == '\\' && i + 1 < l->i) {
          i++;
        }
        value[n++] = l->s[i];
      }
      value[n] = '\0';
      if (l->i < l->n) {
        l->i++;
      }
    } else {
      size_t v;
      size_t vlen = lex_token(l, &v);
      size_t j = l->i;
      while (j < l->n && (l->s[j] == ' ' || l->s[j] == '\t')) {
        j++;
      }
      if (!(j >= l->n || l->s[j] == ';' || l->s[j] == '(')) {
        /* An unquoted value with spaces or tspecials ("name=my file.pdf",
         * "boundary=----=_Part_1"): take it to the next ";". */
        const char *semi = memchr(l->s + v, ';', l->n - v);
        size_t stop = semi == NULL ? l->n : (size_t)(semi - l->s);
        vlen = stop - v;
        while (vlen > 0 && (l->s[v + vlen - 1] == ' ' || l->s[v + vlen - 1] == '\t')) {
          vlen--;
        }
        l->i = stop;
      }
      value = mime_arena_strndup(p->arena, l->s + v, vlen);
      if (value == NULL) {
        oom(p);
        goto out;
      }
    }
    if (nraw == cap) {
      size_t ncap = cap == 0 ? 8 : cap * 2;
      RAW_PARAM *r = realloc(raw, ncap * sizeof(RAW_PARAM));
      if (r == NULL) {
        oom(p);
        goto out;
      }
      raw = r;
      cap = ncap;
    }
    RAW_PARAM *r = &raw[nraw];
    memset(r, 0, sizeof(*r));
    r->value = value;
    r->pos = nraw;
    r->kind = 1;
    const char *star = memchr(l->s + a, '*', alen);
    size_t blen = alen;
    if (star != NULL) {
      /* name*, name*N or name*N*: an RFC 2231 segment. */
      size_t k = (size_t)(star - (l->s + a)) + 1;
      unsigned index = 0;
      int ext = 1;
      int ok = k == alen; /* "name*": one extended segment */
      if (!ok) {
        size_t digits = 0;
        while (k < alen && l->s[a + k] >= '0' && l->s[a + k] <= '9' && digits < 6) {
          index = index * 10 + (unsigned)(l->s[a + k] - '0');
          k++;
          digits++;
        }
        ext = 0;
        if (k < alen && l->s[a + k] == '*') {
          ext = 1;
          k++;
        }
        ok = k == alen && digits > 0;
      }
      if (ok && star > l->s + a) {
        blen = (size_t)(star - (l->s + a));
        r->kind = 0;
        r->index = index;
        r->ext = ext;
      }
    }
    r->base = lower_dup(p, l->s + a, blen);
    if (r->base == NULL) {
      oom(p);
      goto out;
    }
    nraw++;
  }
  if (nraw == 0) {
    ret = 1;
    goto out;
  }
  qsort(raw, nraw, sizeof(RAW_PARAM), raw_param_cmp);
  fin = calloc(nraw, sizeof(FINAL_PARAM));
  if (fin == NULL) {
    oom(p);
    goto out;
  }
  size_t nfin = 0;
  size_t i = 0;
  while (i < nraw) {
    size_t j = i;
    size_t first_pos = raw[i].pos;
    while (j < nraw && strcmp(raw[j].base, raw[i].base) == 0) {
      if (raw[j].pos < first_pos) {
        first_pos = raw[j].pos;
      }
      j++;
    }
    size_t seg_end = i;
    while (seg_end < j && raw[seg_end].kind == 0) {
      seg_end++;
    }
    const char *value = NULL;
    const char *charset = NULL;
    if (seg_end > i && !join_2231(p, raw, i, seg_end, &value, &charset)) {
      goto out;
    }
    if (value == NULL && seg_end < j) {
      /* The first plain value (sorted by appearance within kind 1 and index 0). */
      value = raw[seg_end].value;
    }
    if (value != NULL) {
      fin[nfin].param.name = raw[i].base;
      fin[nfin].param.value = value;
      fin[nfin].param.charset = charset;
      fin[nfin].pos = first_pos;
      nfin++;
    }
    i = j;
  }
  qsort(fin, nfin, sizeof(FINAL_PARAM), final_param_cmp);
  MIME_PARAM *params = mime_arena_alloc(p->arena, (nfin == 0 ? 1 : nfin) * sizeof(MIME_PARAM));
  if (params == NULL) {
    oom(p);
    goto out;
  }
  for (size_t k = 0; k < nfin; k++) {
    params[k] = fin[k].param;
  }
  *out = params;
  *out_n = nfin;
  ret = 1;

out:
  free(raw);
  free(fin);
  return ret;
}

/* param_get finds |name| in |params|. */
static const char *param_get(const MIME_PARAM *params, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(params[i].name, name) == 0) {
      return params[i].value;
    }
  }
  return NULL;
}

const char *mime_entity_param(const MIME_ENTITY *e, const char *name) {
  return param_get(e->params, e->num_params, name);
}

const char *mime_entity_disp_param(const MIME_ENTITY *e, const char *name) {
  return param_get(e->disp_params, e->num_disp_params, name);
}

int mime_entity_is(const MIME_ENTITY *e, const char *type, const char *subtype) {
  return strcmp(e->type, type) == 0 && (subtype == NULL || strcmp(e->subtype, subtype) == 0);
}

/* parse_content_type sets type, subtype and params of |e| from its Content-Type, or
 * the default when the field is absent or its type is invalid. */
static int parse_content_type(PARSER *p, MIME_ENTITY *e) {
  const char *v = mime_entity_header(e, "content-type");
  if (v != NULL) {
    LEX l = {v, 0, strlen(v)};
    size_t t;
    size_t s;
    lex_cfws(&l);
    size_t tlen = lex_token(&l, &t);
    lex_cfws(&l);
    if (tlen > 0 && l.i < l.n && v[l.i] == '/') {
      l.i++;
      lex_cfws(&l);
      size_t slen = lex_token(&l, &s);
      if (slen > 0) {
        e->type = lower_dup(p, v + t, tlen);
        e->subtype = lower_dup(p, v + s, slen);
        if (e->type == NULL || e->subtype == NULL) {
          return oom(p);
        }
        return parse_params(p, &l, &e->params, &e->num_params);
      }
    }
  }
  e->flags |= MIME_F_DEFAULT_TYPE;
  int digest = e->parent != NULL && mime_entity_is(e->parent, "multipart", "digest");
  e->type = digest ? "message" : "text";
  e->subtype = digest ? "rfc822" : "plain";
  if (!digest) {
    MIME_PARAM *cs = mime_arena_alloc(p->arena, sizeof(MIME_PARAM));
    if (cs == NULL) {
      return oom(p);
    }
    cs->name = "charset";
    cs->value = "us-ascii";
    e->params = cs;
    e->num_params = 1;
  }
  return 1;
}

/* parse_cte sets the transfer encoding of |e|. */
static int parse_cte(PARSER *p, MIME_ENTITY *e) {
  const char *v = mime_entity_header(e, "content-transfer-encoding");
  e->cte = MIME_CTE_7BIT;
  e->cte_name = "7bit";
  if (v == NULL) {
    return 1;
  }
  LEX l = {v, 0, strlen(v)};
  size_t t;
  lex_cfws(&l);
  size_t tlen = lex_token(&l, &t);
  if (tlen == 0) {
    return 1;
  }
  char *name = lower_dup(p, v + t, tlen);
  if (name == NULL) {
    return oom(p);
  }
  e->cte_name = name;
  if (strcmp(name, "7bit") == 0) {
    e->cte = MIME_CTE_7BIT;
  } else if (strcmp(name, "8bit") == 0) {
    e->cte = MIME_CTE_8BIT;
  } else if (strcmp(name, "binary") == 0) {
    e->cte = MIME_CTE_BINARY;
  } else if (strcmp(name, "quoted-printable") == 0) {
    e->cte = MIME_CTE_QUOTED_PRINTABLE;
  } else if (strcmp(name, "base64") == 0) {
    e->cte = MIME_CTE_BASE64;
  } else {
    e->cte = MIME_CTE_UNKNOWN;
  }
  return 1;
}

/* parse_disposition sets disposition and its parameters. */
static int parse_disposition(PARSER *p, MIME_ENTITY *e) {
  const char *v = mime_entity_header(e, "content-disposition");
  if (v == NULL) {
    return 1;
  }
  LEX l = {v, 0, strlen(v)};
  size_t t;
  lex_cfws(&l);
  size_t tlen = lex_token(&l, &t);
  if (tlen > 0) {
    e->disposition = lower_dup(p, v + t, tlen);
    if (e->disposition == NULL) {
      return oom(p);
    }
  } else {
    e->disposition = "";
  }
  return parse_params(p, &l, &e->disp_params, &e->num_disp_params);
}

/* parse_entity is defined below; multiparts recurse through it. */
static int parse_entity(PARSER *p, MIME_ENTITY *e, size_t start, size_t end, int top);

/* count_entity accounts for one more entity at |depth|, failing over a limit. */
static int count_entity(PARSER *p, const MIME_ENTITY *parent, size_t depth) {
  char name[80];
  if (depth > p->lim.max_depth) {
    char path[128];
    limit_name(p->lim.depth_name, name, sizeof(name));
    return status_set(p->err, STATUS_RESOURCE_EXHAUSTED,
                      "MIME structure nested deeper than %zu levels at part %s%s",
                      p->lim.max_depth, mime_entity_path(parent, path, sizeof(path)), name);
  }
  if (p->num_entities >= p->lim.max_parts) {
    limit_name(p->lim.parts_name, name, sizeof(name));
    return status_set(p->err, STATUS_RESOURCE_EXHAUSTED,
                      "message has more than %zu MIME parts%s", p->lim.max_parts, name);
  }
  p->num_entities++;
  return 1;
}

/* PART_RANGE is one part of a multipart body, found by parse_multipart. */
typedef struct part_range_st {
  size_t start;
  size_t end;
} PART_RANGE;

/* parse_multipart splits the body of |e| at its boundary delimiters (one memmem pass
 * for "LF--boundary") and parses each part. */
static int parse_multipart(PARSER *p, MIME_ENTITY *e) {
  const char *boundary = mime_entity_param(e, "boundary");
  size_t blen = boundary == NULL ? 0 : strlen(boundary);
  if (blen == 0 || blen > MIME_MAX_BOUNDARY) {
    e->flags |= MIME_F_NO_BOUNDARY;
    return 1;
  }
  const uint8_t *d = p->data;
  size_t bstart = e->body.off;
  size_t bend = bstart + e->body.len;
  int ret = 0;
  PART_RANGE *parts = NULL;
  size_t nparts = 0;
  size_t cap = 0;
  char *needle = malloc(blen + 3);
  if (needle == NULL) {
    return oom(p);
  }
  needle[0] = '\n';
  needle[1] = '-';
  needle[2] = '-';
  memcpy(needle + 3, boundary, blen);

  size_t pos = bstart;
  int first = 1;
  int in_part = 0;
  int closed = 0;
  size_t cur = 0;
  for (;;) {
    size_t cand;
    if (first && bend - bstart >= blen + 2 && memcmp(d + bstart, needle + 1, blen + 2) == 0) {
      cand = bstart;
    } else {
      const uint8_t *hit = pos < bend ? memmem(d + pos, bend - pos, needle, blen + 3) : NULL;
      if (hit == NULL) {
        break;
      }
      cand = (size_t)(hit - d) + 1;
    }
    first = 0;
    size_t q = cand + 2 + blen;
    int close = 0;
    if (bend - q >= 2 && d[q] == '-' && d[q + 1] == '-') {
      close = 1;
    } else {
      while (q < bend && (d[q] == ' ' || d[q] == '\t')) {
        q++;
      }
      if (!(q == bend || d[q] == '\n' || (d[q] == '\r' && q + 1 < bend && d[q + 1] == '\n'))) {
        pos = cand; /* "--boundaryX": not a delimiter; search on */
        continue;
      }
    }
    /* The line end before the delimiter belongs to it. */
    size_t dstart = cand;
    if (cand > bstart) {
      dstart = cand - 1;
      if (dstart > bstart && d[dstart - 1] == '\r') {
        dstart--;
      }
    }
    const uint8_t *lf = memchr(d + q, '\n', bend - q);
    size_t next = lf == NULL ? bend : (size_t)(lf - d) + 1;
    if (!in_part) {
      e->preamble = span(p, bstart, dstart - bstart);
    } else {
      if (nparts == cap) {
        size_t ncap = cap == 0 ? 8 : cap * 2;
        PART_RANGE *np = realloc(parts, ncap * sizeof(PART_RANGE));
        if (np == NULL) {
          oom(p);
          goto out;
        }
        parts = np;
        cap = ncap;
      }
      parts[nparts].start = cur;
      parts[nparts].end = dstart > cur ? dstart : cur;
      nparts++;
      if (nparts > p->lim.max_parts - p->num_entities) {
        char name[80];
        limit_name(p->lim.parts_name, name, sizeof(name));
        status_set(p->err, STATUS_RESOURCE_EXHAUSTED, "message has more than %zu MIME parts%s",
                   p->lim.max_parts, name);
        goto out;
      }
    }
    if (close) {
      e->epilogue = span(p, next, bend - next);
      closed = 1;
      break;
    }
    in_part = 1;
    cur = next;
    if (next >= bend) {
      break;
    }
    pos = next - 1; /* so that a delimiter on the very next line is found */
  }
  if (in_part && !closed) {
    e->flags |= MIME_F_UNTERMINATED;
    if (nparts == cap) {
      size_t ncap = cap == 0 ? 1 : cap + 1;
      PART_RANGE *np = realloc(parts, ncap * sizeof(PART_RANGE));
      if (np == NULL) {
        oom(p);
        goto out;
      }
      parts = np;
      cap = ncap;
    }
    parts[nparts].start = cur;
    parts[nparts].end = bend;
    nparts++;
  }
  if (!in_part) {
    /* No delimiter at all: the whole body is preamble. */
    e->flags |= MIME_F_UNTERMINATED;
    e->preamble = span(p, bstart, bend - bstart);
  }
  if (nparts > 0) {
    MIME_ENTITY *children = mime_arena_alloc(p->arena, nparts * sizeof(MIME_ENTITY));
    if (children == NULL) {
      oom(p);
      goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
      children[i].parent = e;
      children[i].index = i;
      children[i].depth = e->depth + 1;
      if (!count_entity(p, e, e->depth + 1) ||
          !parse_entity(p, &children[i], parts[i].start, parts[i].end, 0)) {
        goto out;
      }
    }
    e->children = children;
    e->num_children = nparts;
  }
  ret = 1;

out:
  free(needle);
  free(parts);
  return ret;
}

/* parse_entity parses [start, end) into |e| (whose parent, index and depth are set). */
static int parse_entity(PARSER *p, MIME_ENTITY *e, size_t start, size_t end, int top) {
  e->whole = span(p, start, end - start);
  e->preamble = span(p, start, 0);
  e->epilogue = span(p, end, 0);
  if (!parse_headers(p, e, start, end, top) || !parse_content_type(p, e) ||
      !parse_cte(p, e) || !parse_disposition(p, e)) {
    return 0;
  }
  int identity = e->cte != MIME_CTE_BASE64 && e->cte != MIME_CTE_QUOTED_PRINTABLE;
  if (strcmp(e->type, "multipart") == 0) {
    if (!identity) {
      e->flags |= MIME_F_ENCODED_MULTIPART;
      return 1;
    }
    return parse_multipart(p, e);
  }
  if (mime_entity_is(e, "message", "rfc822") || mime_entity_is(e, "message", "global")) {
    if (!identity) {
      e->flags |= MIME_F_ENCODED_MULTIPART;
      return 1;
    }
    MIME_ENTITY *child = mime_arena_alloc(p->arena, sizeof(MIME_ENTITY));
    if (child == NULL) {
      return oom(p);
    }
    child->parent = e;
    child->index = 0;
    child->depth = e->depth + 1;
    if (!count_entity(p, e, e->depth + 1) ||
        !parse_entity(p, child, e->body.off, e->body.off + e->body.len, 0)) {
      return 0;
    }
    e->children = child;
    e->num_children = 1;
  }
  return 1;
}

/* parse_tree is mime_parse; |owned| (may be NULL) is handed to the tree. */
static MIME_TREE *parse_tree(const uint8_t *data, size_t len, uint8_t *owned,
                             const MIME_LIMITS *lim, STATUS *err) {
  static const uint8_t empty[1] = {0};
  MIME_TREE *t = calloc(1, sizeof(MIME_TREE));
  if (t == NULL) {
    free(owned);
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory parsing MIME");
    return NULL;
  }
  t->owned = owned;
  t->data = data == NULL ? empty : data;
  t->len = data == NULL ? 0 : len;
  PARSER p;
  memset(&p, 0, sizeof(p));
  p.data = t->data;
  p.len = t->len;
  p.err = err;
  mime_limits_default(&p.lim);
  if (lim != NULL) {
    if (lim->max_depth != 0) {
      p.lim.max_depth = lim->max_depth;
    }
    if (lim->max_parts != 0) {
      p.lim.max_parts = lim->max_parts;
    }
    if (lim->max_header_bytes != 0) {
      p.lim.max_header_bytes = lim->max_header_bytes;
    }
    if (lim->max_header_fields != 0) {
      p.lim.max_header_fields = lim->max_header_fields;
    }
    p.lim.depth_name = lim->depth_name;
    p.lim.parts_name = lim->parts_name;
  }
  t->arena = mime_arena_new();
  if (t->arena == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory parsing MIME");
    goto err;
  }
  p.arena = t->arena;
  t->root = mime_arena_alloc(t->arena, sizeof(MIME_ENTITY));
  if (t->root == NULL) {
    oom(&p);
    goto err;
  }
  if (!count_entity(&p, NULL, 0) || !parse_entity(&p, t->root, 0, t->len, 1)) {
    goto err;
  }
  t->num_entities = p.num_entities;
  return t;

err:
  mime_tree_free(t);
  return NULL;
}

MIME_TREE *mime_parse(const uint8_t *data, size_t len, const MIME_LIMITS *lim,
                      STATUS *err) {
  return parse_tree(data, len, NULL, lim, err);
}

MIME_TREE *mime_parse_take(uint8_t *data, size_t len, const MIME_LIMITS *lim,
                           STATUS *err) {
  return parse_tree(data, len, data, lim, err);
}

void mime_tree_free(MIME_TREE *t) {
  if (t == NULL) {
    return;
  }
  mime_arena_free(t->arena);
  free(t->owned);
  free(t);
}

const MIME_ENTITY *mime_tree_root(const MIME_TREE *t) {
  return t->root;
}

const uint8_t *mime_tree_data(const MIME_TREE *t, size_t *len) {
  if (len != NULL) {
    *len = t->len;
  }
  return t->data;
}

size_t mime_tree_num_entities(const MIME_TREE *t) {
  return t->num_entities;
}

int mime_entity_decode(const MIME_ENTITY *e, uint8_t **out, size_t *out_len,
                       STATUS *err) {
  *out = NULL;
  *out_len = 0;
  char path[128];
  uint8_t *buf = NULL;
  size_t len = 0;
  switch (e->cte) {
    case MIME_CTE_BASE64: {
      STATUS sub;
      status_clear(&sub);
      if (!mime_base64_decode(e->body.ptr, e->body.len, &buf, &len, &sub)) {
        return status_set(err, sub.code, "MIME part %s (%s/%s, body at byte %zu): %s",
                          mime_entity_path(e, path, sizeof(path)), e->type, e->subtype,
                          e->body.off, sub.message);
      }
      break;
    }
    case MIME_CTE_QUOTED_PRINTABLE:
      if (!mime_qp_decode(e->body.ptr, e->body.len, &buf, &len, err)) {
        return 0;
      }
      break;
    case MIME_CTE_7BIT:
    case MIME_CTE_8BIT:
    case MIME_CTE_BINARY:
      buf = malloc(e->body.len + 1);
      if (buf == NULL) {
        return status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory (%zu bytes)",
                          e->body.len + 1);
      }
      if (e->body.len > 0) {
        memcpy(buf, e->body.ptr, e->body.len);
      }
      buf[e->body.len] = '\0';
      len = e->body.len;
      break;
    default:
      return status_set(err, STATUS_INVALID_ARGUMENT,
                        "MIME part %s (%s/%s): unsupported Content-Transfer-Encoding '%s'",
                        mime_entity_path(e, path, sizeof(path)), e->type, e->subtype,
                        e->cte_name);
  }
  *out = buf;
  *out_len = len;
  return 1;
}

/* decode_word decodes the RFC 2047 word at |s| (which starts with "=?") into |out|
 * at |*n|; returns the length of the word consumed, or 0 when it is not a well-formed
 * word in a known charset (then nothing is written). Encoded text cannot contain "?"
 * or blanks, which bounds every attempt and keeps the whole scan linear. */
static size_t decode_word(const char *s, char *out, size_t *n) {
  size_t i = 2;
  size_t cs = i;
  while (s[i] != '\0' && s[i] != '?' && is_tchar((unsigned char)s[i]) && i - cs < 64) {
    i++;
  }
  if (s[i] != '?' || i == cs) {
    return 0;
  }
  size_t cs_len = i - cs;
  i++;
  char enc = ascii_lower(s[i]);
  if ((enc != 'b' && enc != 'q') || s[i + 1] != '?') {
    return 0;
  }
  i += 2;
  size_t text = i;
  while (s[i] != '\0' && s[i] != '?' && s[i] != ' ' && s[i] != '\t') {
    i++;
  }
  if (s[i] != '?' || s[i + 1] != '=') {
    return 0;
  }
  size_t text_len = i - text;
  size_t word_len = i + 2;

  char charset[65];
  memcpy(charset, s + cs, cs_len);
  charset[cs_len] = '\0';
  char *star = strchr(charset, '*'); /* RFC 2231 section 5: charset*language */
  if (star != NULL) {
    *star = '\0';
  }
  if (!mime_charset_known(charset)) {
    return 0;
  }
  uint8_t *raw = NULL;
  size_t raw_len = 0;
  if (enc == 'b') {
    if (!mime_base64_decode((const uint8_t *)s + text, text_len, &raw, &raw_len, NULL)) {
      return 0;
    }
  } else {
    raw = malloc(text_len + 1);
    if (raw == NULL) {
      return 0;
    }
    for (size_t k = 0; k < text_len; k++) {
      char c = s[text + k];
      int hi;
      int lo;
      if (c == '_') {
        raw[raw_len++] = ' ';
      } else if (c == '=' && k + 2 < text_len &&
                 (hi = hex_digit(s[text + k + 1])) >= 0 &&
                 (lo = hex_digit(s[text + k + 2])) >= 0) {
        raw[raw_len++] = (uint8_t)(hi << 4 | lo);
        k += 2;
      } else {
        raw[raw_len++] = (uint8_t)c;
      }
    }
  }
  uint8_t *utf8 = NULL;
  size_t utf8_len = 0;
  int ok = mime_charset_to_utf8(charset, raw, raw_len, &utf8, &utf8_len, NULL);
  free(raw);
  if (!ok) {
    return 0;
  }
  for (size_t k = 0; k < utf8_len; k++) {
    out[(*n)++] = utf8[k] == '\0' ? ' ' : (char)utf8[k];
  }
  free(utf8);
  return word_len;
}

char *mime_header_display(const char *value) {
  size_t len = strlen(value);
  if (len >= SIZE_MAX / 4) {
    return NULL;
  }
  char *out = malloc(len * 3 + 1);
  if (out == NULL) {
    return NULL;
  }
  size_t n = 0;
  size_t ws_start = SIZE_MAX; /* where blanks after an encoded word began in |out| */
  size_t i = 0;
  while (i < len) {
    if (value[i] == '=' && value[i + 1] == '?') {
      size_t before = n;
      if (ws_start != SIZE_MAX) {
        n = ws_start; /* blanks between two encoded words vanish */
      }
      size_t used = decode_word(value + i, out, &n);
      if (used > 0) {
        i += used;
        ws_start = n;
        continue;
      }
      n = before;
    }
    char c = value[i];
    if (c != ' ' && c != '\t') {
      ws_start = SIZE_MAX;
    }
    out[n++] = c;
    i++;
  }
  out[n] = '\0';
  return out;
}

char *mime_entity_filename(const MIME_ENTITY *e) {
  const char *v = mime_entity_disp_param(e, "filename");
  if (v == NULL || v[0] == '\0') {
    v = mime_entity_param(e, "name");
  }
  if (v == NULL || v[0] == '\0') {
    return NULL;
  }
  return mime_header_display(v);
}
