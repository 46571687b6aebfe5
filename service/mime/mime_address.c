/* mime_address.c: see mime_address.h. */
#include "service/mime/mime_address.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* TOK_* are the lexical items of an address list. */
enum {
  TOK_ATOM,    /* a run of atext (and 8-bit) characters */
  TOK_QUOTED,  /* a quoted string, quotes removed and quoted pairs resolved */
  TOK_COMMENT, /* a comment's text, outer parentheses removed */
  TOK_LITERAL, /* a domain literal, brackets included */
  TOK_SPECIAL, /* one of < > @ , ; : . */
};

/* TOKEN is one lexical item: its text in |text| (a NUL-terminated copy), where it
 * came from in the value, and whether blanks preceded it. */
typedef struct token_st {
  int type;
  char *text;
  size_t start;
  size_t end;
  int space_before;
} TOKEN;

typedef struct tokens_st {
  TOKEN *t;
  size_t n;
  size_t cap;
} TOKENS;

/* tokens_free frees the tokens of |ts| (not |ts|). */
static void tokens_free(TOKENS *ts) {
  for (size_t i = 0; i < ts->n; i++) {
    free(ts->t[i].text);
  }
  free(ts->t);
}

/* tokens_add appends a token whose text is |len| bytes at |p|; 1 or 0. */
static int tokens_add(TOKENS *ts, int type, const char *p, size_t len, size_t start,
                      size_t end, int space) {
  if (ts->n == ts->cap) {
    size_t cap = ts->cap == 0 ? 16 : ts->cap * 2;
    TOKEN *t = realloc(ts->t, cap * sizeof(TOKEN));
    if (t == NULL) {
      return 0;
    }
    ts->t = t;
    ts->cap = cap;
  }
  char *text = malloc(len + 1);
  if (text == NULL) {
    return 0;
  }
  memcpy(text, p, len);
  text[len] = '\0';
  TOKEN *t = &ts->t[ts->n++];
  t->type = type;
  t->text = text;
  t->start = start;
  t->end = end;
  t->space_before = space;
  return 1;
}

/* is_special says whether |c| is an address-list special handled as a token. */
static int is_special(char c) {
  return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.';
}

/* tokenize splits |v| into tokens; 1, or 0 when out of memory. */
static int tokenize(const char *v, TOKENS *ts) {
  size_t n = strlen(v);
  size_t i = 0;
  int space = 0;
  char *tmp = malloc(n + 1);
  if (tmp == NULL) {
    return 0;
  }
  int ok = 1;
  while (i < n && ok) {
    char c = v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = 1;
      i++;
      continue;
    }
    size_t start = i;
    size_t len = 0;
    if (c == '"' || c == '(') {
      /* Quoted string or (nested) comment; quoted pairs resolved; unterminated runs
       * to the end. */
      int depth = 0;
      i++;
      if (c == '(') {
        depth = 1;
      }
      while (i < n) {
        char d = v[i];
        if (d == '\\' && i + 1 < n) {
          tmp[len++] = v[i + 1];
          i += 2;
          continue;
        }
        i++;
        if (c == '"' && d == '"') {
          break;
        }
        if (c == '(' && d == '(') {
          depth++;
        } else if (c == '(' && d == ')') {
          depth--;
          if (depth == 0) {
            break;
          }
        }
        tmp[len++] = d;
      }
      ok = tokens_add(ts, c == '"' ? TOK_QUOTED : TOK_COMMENT, tmp, len, start, i, space);
    } else if (c == '[') {
      while (i < n && v[i] != ']') {
        i++;
      }
      if (i < n) {
        i++;
      }
      ok = tokens_add(ts, TOK_LITERAL, v + start, i - start, start, i, space);
    } else if (is_special(c)) {
      i++;
      ok = tokens_add(ts, TOK_SPECIAL, v + start, 1, start, i, space);
    } else {
      while (i < n && !is_special(v[i]) && v[i] != ' ' && v[i] != '\t' && v[i] != '\r' &&
             v[i] != '\n' && v[i] != '"' && v[i] != '(' && v[i] != '[' && v[i] != ')' &&
             v[i] != ']') {
        i++;
      }
      if (i == start) {
        i++; /* a stray ')' or ']' */
        space = 1;
        continue;
      }
      ok = tokens_add(ts, TOK_ATOM, v + start, i - start, start, i, space);
    }
    space = 0;
  }
  free(tmp);
  return ok;
}

/* is_special_tok says whether token |t| is the special character |c|. */
static int is_special_tok(const TOKEN *t, char c) {
  return t->type == TOK_SPECIAL && t->text[0] == c;
}

/* is_dot_atom says whether |s| can stand unquoted as a local part. */
static int is_dot_atom(const char *s) {
  if (s[0] == '\0' || s[0] == '.') {
    return 0;
  }
  for (size_t i = 0; s[i] != '\0'; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (s[i + 1] == '.' || s[i + 1] == '\0') {
        return 0;
      }
      continue;
    }
    if (c <= 32 || c == 127 || strchr("()<>[]:;@\\,\"", c) != NULL) {
      return 0;
    }
  }
  return 1;
}

/* STR is a small growing string. */
typedef struct str_st {
  char *s;
  size_t len;
  size_t cap;
  int failed;
} STR;

/* str_add appends |n| bytes (keeping a NUL after them). */
static void str_add(STR *s, const char *p, size_t n) {
  if (s->failed) {
    return;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap == 0 ? 64 : s->cap;
    while (cap < s->len + n + 1) {
      cap *= 2;
    }
    char *d = realloc(s->s, cap);
    if (d == NULL) {
      s->failed = 1;
      return;
    }
    s->s = d;
    s->cap = cap;
  }
  memcpy(s->s + s->len, p, n);
  s->len += n;
  s->s[s->len] = '\0';
}

/* str_cat appends a C string. */
static void str_cat(STR *s, const char *p) {
  str_add(s, p, strlen(p));
}

/* make_addr builds the addr-spec from tokens [from, to) (comments skipped); returns
 * malloc'd lowercased text, "" when it is not an address, NULL when out of memory. */
static char *make_addr(const TOKENS *ts, size_t from, size_t to) {
  STR local = {NULL, 0, 0, 0};
  STR domain = {NULL, 0, 0, 0};
  int at = 0;
  int bad = 0;
  int quoted = 0;
  str_add(&local, "", 0);
  str_add(&domain, "", 0);
  for (size_t i = from; i < to; i++) {
    const TOKEN *t = &ts->t[i];
    if (t->type == TOK_COMMENT) {
      continue;
    }
    if (is_special_tok(t, '@')) {
      if (at) {
        bad = 1;
      }
      at = 1;
      continue;
    }
    STR *dst = at ? &domain : &local;
    if (t->type == TOK_SPECIAL && t->text[0] != '.') {
      bad = 1;
      continue;
    }
    if (t->type == TOK_QUOTED) {
      if (at) {
        bad = 1;
      }
      quoted = 1;
    }
    str_cat(dst, t->text);
  }
  char *out = NULL;
  if (local.failed || domain.failed) {
    goto done;
  }
  STR r = {NULL, 0, 0, 0};
  if (bad || !at || local.len == 0 || domain.len == 0 || domain.s[0] == '.' ||
      domain.s[domain.len - 1] == '.' || strstr(domain.s, "..") != NULL) {
    str_add(&r, "", 0);
  } else {
    if (quoted && !is_dot_atom(local.s)) {
      str_cat(&r, "\"");
      for (size_t i = 0; i < local.len; i++) {
        if (local.s[i] == '"' || local.s[i] == '\\') {
          str_cat(&r, "\\");
        }
        str_add(&r, &local.s[i], 1);
      }
      str_cat(&r, "\"");
    } else if (!is_dot_atom(local.s)) {
      str_add(&r, "", 0); /* "a..b@x", ".a@x": not a local part */
    } else {
      str_cat(&r, local.s);
    }
    if (r.len > 0) {
      str_cat(&r, "@");
      str_cat(&r, domain.s);
    }
  }
  if (!r.failed) {
    for (size_t i = 0; i < r.len; i++) {
      if (r.s[i] >= 'A' && r.s[i] <= 'Z') {
        r.s[i] = (char)(r.s[i] - 'A' + 'a');
      }
    }
    out = r.s;
  } else {
    free(r.s);
  }

done:
  free(local.s);
  free(domain.s);
  return out;
}

/* make_display joins the words of tokens [from, to) into a display name (blanks as
 * in the source, single), decoded for display; NULL when empty (|*oom| set when out
 * of memory). Comments count only when |comments| is set. */
static char *make_display(const TOKENS *ts, size_t from, size_t to, int comments,
                          int *oom) {
  STR s = {NULL, 0, 0, 0};
  for (size_t i = from; i < to; i++) {
    const TOKEN *t = &ts->t[i];
    if ((t->type == TOK_COMMENT) != (comments != 0)) {
      continue;
    }
    if (s.len > 0 && (t->space_before || comments)) {
      str_cat(&s, " ");
    }
    str_cat(&s, t->text);
  }
  if (s.failed) {
    *oom = 1;
    free(s.s);
    return NULL;
  }
  if (s.len == 0) {
    free(s.s);
    return NULL;
  }
  char *d = mime_header_display(s.s);
  free(s.s);
  if (d == NULL) {
    *oom = 1;
  }
  return d;
}

/* add_invalid records the source text [start, end) of |v| as not an address. */
static int add_invalid(MIME_ADDRESS_LIST *l, const char *v, size_t start, size_t end) {
  while (start < end && (v[start] == ' ' || v[start] == '\t')) {
    start++;
  }
  while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) {
    end--;
  }
  if (l->num_invalid == l->cap_invalid_) {
    size_t cap = l->cap_invalid_ == 0 ? 4 : l->cap_invalid_ * 2;
    char **p = realloc(l->invalid, cap * sizeof(char *));
    if (p == NULL) {
      return 0;
    }
    l->invalid = p;
    l->cap_invalid_ = cap;
  }
  char *s = malloc(end - start + 1);
  if (s == NULL) {
    return 0;
  }
  memcpy(s, v + start, end - start);
  s[end - start] = '\0';
  l->invalid[l->num_invalid++] = s;
  return 1;
}

/* addr_hash hashes |s| case-insensitively (FNV-1a over lowercased bytes). */
static size_t addr_hash(const char *s) {
  size_t h = (size_t)1469598103934665603ULL;
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 'A' && c <= 'Z') {
      c = (unsigned char)(c - 'A' + 'a');
    }
    h = (h ^ c) * (size_t)1099511628211ULL;
  }
  return h;
}

/* find_slot returns the slot of |addr| in the index of |l|, or of the empty slot
 * where it would go. The index (open addressing, index + 1 per slot) keeps
 * duplicate detection linear on address lists with many thousands of entries. */
static size_t find_slot(const MIME_ADDRESS_LIST *l, const char *addr) {
  size_t mask = l->nslots_ - 1;
  size_t i = addr_hash(addr) & mask;
  while (l->slots_[i] != 0 && strcasecmp(l->addrs[l->slots_[i] - 1].addr, addr) != 0) {
    i = (i + 1) & mask;
  }
  return i;
}

int mime_address_contains(const MIME_ADDRESS_LIST *l, const char *addr) {
  if (l->nslots_ == 0) {
    return 0;
  }
  return l->slots_[find_slot(l, addr)] != 0;
}

/* grow_index doubles the index when it is half full. */
static int grow_index(MIME_ADDRESS_LIST *l) {
  if (l->nslots_ != 0 && (l->num + 1) * 2 <= l->nslots_) {
    return 1;
  }
  size_t n = l->nslots_ == 0 ? 32 : l->nslots_ * 2;
  size_t *slots = calloc(n, sizeof(size_t));
  if (slots == NULL) {
    return 0;
  }
  free(l->slots_);
  l->slots_ = slots;
  l->nslots_ = n;
  for (size_t k = 0; k < l->num; k++) {
    l->slots_[find_slot(l, l->addrs[k].addr)] = k + 1;
  }
  return 1;
}

/* add_address appends (addr, display) unless |addr| is already there; takes both. */
static int add_address(MIME_ADDRESS_LIST *l, char *addr, char *display) {
  if (mime_address_contains(l, addr)) {
    free(addr);
    free(display);
    return 1;
  }
  if (!grow_index(l)) {
    free(addr);
    free(display);
    return 0;
  }
  if (l->num == l->cap_) {
    size_t cap = l->cap_ == 0 ? 8 : l->cap_ * 2;
    MIME_ADDRESS *p = realloc(l->addrs, cap * sizeof(MIME_ADDRESS));
    if (p == NULL) {
      free(addr);
      free(display);
      return 0;
    }
    l->addrs = p;
    l->cap_ = cap;
  }
  l->addrs[l->num].addr = addr;
  l->addrs[l->num].display = display;
  l->slots_[find_slot(l, addr)] = l->num + 1;
  l->num++;
  return 1;
}

/* finish_mailbox turns tokens [from, to) (one list entry) into an address or an
 * invalid entry. Returns 1, or 0 when out of memory. */
static int finish_mailbox(MIME_ADDRESS_LIST *l, const char *v, const TOKENS *ts,
                          size_t from, size_t to) {
  if (from >= to) {
    return 1;
  }
  int only_comments = 1;
  for (size_t i = from; i < to; i++) {
    if (ts->t[i].type != TOK_COMMENT) {
      only_comments = 0;
    }
  }
  if (only_comments) {
    return 1;
  }
  size_t lt = to;
  for (size_t i = from; i < to; i++) {
    if (is_special_tok(&ts->t[i], '<')) {
      lt = i;
      break;
    }
  }
  char *addr = NULL;
  char *display = NULL;
  int oom = 0;
  if (lt < to) {
    /* name-addr: [display] "<" [route ":"] addr-spec ">" */
    size_t gt = to;
    size_t start = lt + 1;
    for (size_t i = lt + 1; i < to; i++) {
      if (is_special_tok(&ts->t[i], '>')) {
        gt = i;
        break;
      }
      if (is_special_tok(&ts->t[i], ':')) {
        start = i + 1; /* obs-route "@a,@b:" */
      }
    }
    addr = make_addr(ts, start, gt);
    display = make_display(ts, from, lt, 0, &oom);
  } else {
    /* addr-spec, perhaps "addr (Name)", or words with an address among them
     * ("John john@x"). The address is the run of tokens around the last "@" that is
     * not broken by blanks (except next to "." and "@", as obsolete syntax
     * allows). */
    size_t at = to;
    for (size_t i = from; i < to; i++) {
      if (is_special_tok(&ts->t[i], '@')) {
        at = i;
      }
    }
    size_t a = from;
    size_t b = to;
    if (at < to) {
      a = at;
      while (a > from) {
        const TOKEN *cur = &ts->t[a];
        const TOKEN *prev = &ts->t[a - 1];
        int joined = !cur->space_before || cur->type == TOK_SPECIAL ||
                     prev->type == TOK_SPECIAL;
        if (prev->type == TOK_COMMENT || !joined) {
          break;
        }
        a--;
      }
      b = at + 1;
      while (b < to) {
        const TOKEN *cur = &ts->t[b];
        const TOKEN *prev = &ts->t[b - 1];
        int joined = !cur->space_before || cur->type == TOK_SPECIAL ||
                     prev->type == TOK_SPECIAL;
        if (cur->type == TOK_COMMENT || !joined) {
          break;
        }
        b++;
      }
    }
    addr = make_addr(ts, a, b);
    display = make_display(ts, from, to, 1, &oom);
    if (display == NULL && !oom && a > from) {
      display = make_display(ts, from, a, 0, &oom);
    }
  }
  if (addr == NULL || oom) {
    free(addr);
    free(display);
    return 0;
  }
  if (addr[0] == '\0') {
    free(addr);
    free(display);
    return add_invalid(l, v, ts->t[from].start, ts->t[to - 1].end);
  }
  return add_address(l, addr, display);
}

int mime_address_parse(MIME_ADDRESS_LIST *l, const char *value, STATUS *err) {
  TOKENS ts = {NULL, 0, 0};
  int ret = 0;
  if (!tokenize(value, &ts)) {
    goto oom;
  }
  size_t from = 0;
  int angle = 0;
  int group = 0;
  int seen_at = 0; /* an "@" outside angle brackets in the current entry */
  for (size_t i = 0; i < ts.n; i++) {
    const TOKEN *t = &ts.t[i];
    if (t->type != TOK_SPECIAL) {
      continue;
    }
    char c = t->text[0];
    if (c == '@' && !angle) {
      seen_at = 1;
    } else if (c == '<') {
      angle = 1;
    } else if (c == '>') {
      angle = 0;
    } else if (angle) {
      continue;
    } else if (c == ',') {
      if (!finish_mailbox(l, value, &ts, from, i)) {
        goto oom;
      }
      from = i + 1;
      seen_at = 0;
    } else if (c == ';') {
      if (!finish_mailbox(l, value, &ts, from, i)) {
        goto oom;
      }
      from = i + 1;
      seen_at = 0;
      group = 0;
    } else if (c == ':' && !group) {
      /* "name:" starts a group, unless an "@" came first (then it is garbage that
       * finish_mailbox will reject). */
      if (!seen_at) {
        group = 1;
        from = i + 1;
      }
    }
  }
  if (!finish_mailbox(l, value, &ts, from, ts.n)) {
    goto oom;
  }
  ret = 1;
  goto out;

oom:
  status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory parsing addresses");
out:
  tokens_free(&ts);
  return ret;
}

int mime_address_from_header(MIME_ADDRESS_LIST *l, const MIME_ENTITY *e,
                             const char *name, STATUS *err) {
  size_t pos = 0;
  const MIME_HEADER *h;
  while ((h = mime_entity_find_header(e, name, &pos)) != NULL) {
    if (!mime_address_parse(l, h->value, err)) {
      return 0;
    }
  }
  return 1;
}

MIME_ADDRESS_LIST *mime_address_list_new(void) {
  return calloc(1, sizeof(MIME_ADDRESS_LIST));
}

void mime_address_list_free(MIME_ADDRESS_LIST *l) {
  if (l == NULL) {
    return;
  }
  for (size_t i = 0; i < l->num; i++) {
    free(l->addrs[i].addr);
    free(l->addrs[i].display);
  }
  for (size_t i = 0; i < l->num_invalid; i++) {
    free(l->invalid[i]);
  }
  free(l->addrs);
  free(l->invalid);
  free(l->slots_);
  free(l);
}

char *mime_message_id(const char *value) {
  size_t n = strlen(value);
  size_t i = 0;
  /* Skip blanks and comments before the id. */
  for (;;) {
    while (i < n && (value[i] == ' ' || value[i] == '\t' || value[i] == '\r' ||
                     value[i] == '\n')) {
      i++;
    }
    if (i < n && value[i] == '(') {
      int depth = 0;
      while (i < n) {
        char c = value[i++];
        if (c == '\\' && i < n) {
          i++;
        } else if (c == '(') {
          depth++;
        } else if (c == ')' && --depth == 0) {
          break;
        }
      }
      continue;
    }
    break;
  }
  size_t start;
  size_t end;
  if (i < n && value[i] == '<') {
    start = i + 1;
    const char *gt = strchr(value + start, '>');
    end = gt == NULL ? n : (size_t)(gt - value);
  } else {
    start = i;
    end = i;
    while (end < n && value[end] != ' ' && value[end] != '\t' && value[end] != '(' &&
           value[end] != '\r' && value[end] != '\n') {
      end++;
    }
  }
  char *id = malloc(end - start + 1);
  if (id == NULL) {
    return NULL;
  }
  size_t k = 0;
  for (size_t j = start; j < end; j++) {
    char c = value[j];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '<' && c != '>') {
      id[k++] = c;
    }
  }
  id[k] = '\0';
  if (k == 0) {
    free(id);
    return NULL;
  }
  return id;
}
