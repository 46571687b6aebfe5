/* mime_parse.h: parses an Internet message or MIME entity (RFC 5322, RFC 2045-2049,
 * RFC 2231) into a tree of entities that keeps the exact bytes and offsets of every
 * header block, body and multipart part as received, because S/MIME verification
 * hashes those bytes (RFC 1847, RFC 8551 section 3.5).
 *
 * Input: any bytes. Line ends may be CRLF or bare LF (mixed, too); a CR alone is not a
 * line end. 8-bit bytes and NULs are data. The parse is linear in the input size
 * (times the nesting depth, which is limited): boundaries are found with one memmem
 * pass per multipart level, RFC 2231 continuations are sorted, never searched
 * pairwise.
 *
 * Leniency (what real mail needs): header fields may be folded with LF, have blanks
 * before the colon; a line that is not a header field ends the header block (the body
 * starts there); an mbox "From " line before the first field of the message is
 * skipped; parameters may lack ";" or quoting; a multipart whose close delimiter is
 * missing ends at the end of its body (MIME_F_UNTERMINATED). A syntactically invalid
 * or missing Content-Type means text/plain; charset=us-ascii (RFC 2045 section 5.2),
 * message/rfc822 inside multipart/digest.
 *
 * Limits (MIME_LIMITS): exceeding one fails the parse with RESOURCE_EXHAUSTED and a
 * message naming the limit. Line length is deliberately not limited on input.
 *
 * Ownership: the tree points into the input (see mime_parse); everything else it holds
 * is freed by mime_tree_free. Entities, header fields and parameters are read-only and
 * live as long as their tree. */
#ifndef SMIMED_MIME_PARSE_H
#define SMIMED_MIME_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* MIME_DEFAULT_* are the limits used when none are given. */
#define MIME_DEFAULT_MAX_DEPTH 8
#define MIME_DEFAULT_MAX_PARTS 10000
#define MIME_DEFAULT_MAX_HEADER_BYTES (1024 * 1024)
#define MIME_DEFAULT_MAX_HEADER_FIELDS 200000

/* MIME_LIMITS bounds the work and memory one parse may take. A zero member means its
 * default. */
typedef struct mime_limits_st {
  /* max_depth is how deep entities may nest: the top-level entity is at depth 0, the
   * parts of a multipart (and the message inside message/rfc822) one deeper. */
  size_t max_depth;
  /* max_parts is the number of entities in the tree, the top-level one included. */
  size_t max_parts;
  /* max_header_bytes is the size of one entity's header block. */
  size_t max_header_bytes;
  /* max_header_fields is the number of header fields in the whole tree. */
  size_t max_header_fields;
  /* depth_name and parts_name, when not NULL, name max_depth and max_parts in their
   * errors, e.g. "(--max-mime-depth)", so that an operator knows what to change. */
  const char *depth_name;
  const char *parts_name;
} MIME_LIMITS;

/* MIME_SPAN is a range of the parsed input: |ptr| points at byte |off| of it. */
typedef struct mime_span_st {
  const uint8_t *ptr;
  size_t off;
  size_t len;
} MIME_SPAN;

/* MIME_HEADER is one header field. */
typedef struct mime_header_st {
  /* name is the field name as received (compare with mime_name_eq or strcasecmp). */
  const char *name;
  /* value is the field body unfolded (line ends before continuation lines removed, as
   * RFC 5322 section 2.2.3 says), without leading and trailing blanks. Bytes are kept
   * as received, except that a NUL becomes a space so that it is a C string. Encoded
   * words are not decoded: see mime_header_display. */
  const char *value;
  /* raw is the whole field as received: name, colon, value, continuation lines and
   * the final line end. */
  MIME_SPAN raw;
} MIME_HEADER;

/* MIME_PARAM is one parameter of Content-Type or Content-Disposition. */
typedef struct mime_param_st {
  /* name is lowercased, without RFC 2231 "*" and "*N" suffixes. */
  const char *name;
  /* value is unquoted (quoted pairs resolved); for RFC 2231 parameters the segments
   * are joined in order, %XX decoded and converted to UTF-8 when the charset is one
   * that mime_charset_known knows (otherwise the bytes are as decoded). Truncated at
   * a NUL, should one be %00-encoded. RFC 2047 words inside are not decoded (see
   * mime_entity_filename). */
  const char *value;
  /* charset is the RFC 2231 charset (lowercased), or NULL for plain parameters. */
  const char *charset;
} MIME_PARAM;

/* MIME_CTE_* are the Content-Transfer-Encoding values. */
typedef enum mime_cte_t {
  MIME_CTE_7BIT = 0, /* also when the field is absent */
  MIME_CTE_8BIT,
  MIME_CTE_BINARY,
  MIME_CTE_QUOTED_PRINTABLE,
  MIME_CTE_BASE64,
  MIME_CTE_UNKNOWN, /* anything else (x-uuencode, ...): see cte_name */
} MIME_CTE;

/* MIME_F_* are facts about an entity that a caller may want to report. */
#define MIME_F_DEFAULT_TYPE 0x01  /* Content-Type absent or invalid: default used */
#define MIME_F_NO_BLANK_LINE 0x02 /* the header block did not end in an empty line */
#define MIME_F_UNTERMINATED 0x04  /* no close delimiter (or no delimiter at all) */
#define MIME_F_NO_BOUNDARY 0x08   /* multipart without a usable boundary parameter */
/* MIME_F_ENCODED_MULTIPART: a multipart or message/rfc822 entity with a base64 or
 * quoted-printable transfer encoding, which RFC 2045 forbids: not parsed into
 * children. */
#define MIME_F_ENCODED_MULTIPART 0x10
#define MIME_F_MBOX_FROM 0x20     /* an mbox "From " line preceded the header fields */

typedef struct mime_entity_st MIME_ENTITY;

/* MIME_ENTITY is one entity: a message, a part of a multipart, or the message inside
 * a message/rfc822 entity. */
struct mime_entity_st {
  /* whole is the entity as received: header block and body. For a part of a
   * multipart that is everything between the line end of the boundary delimiter line
   * before it and the line end (CRLF or LF) that precedes the next delimiter, which
   * belongs to that delimiter (RFC 2046 section 5.1.1): exactly the bytes a
   * multipart/signed signature covers (RFC 1847 section 2.1). */
  MIME_SPAN whole;
  /* header is the header fields with their line ends (and a skipped mbox "From "
   * line), not the empty line that ends the block. */
  MIME_SPAN header;
  /* body is what follows the empty line, to the end of |whole|. */
  MIME_SPAN body;

  const MIME_HEADER *headers;
  size_t num_headers;

  /* type and subtype are lowercased ("text", "plain"). */
  const char *type;
  const char *subtype;
  /* params are the Content-Type parameters, in order of first appearance. */
  const MIME_PARAM *params;
  size_t num_params;

  MIME_CTE cte;
  /* cte_name is the Content-Transfer-Encoding token lowercased, "7bit" if absent. */
  const char *cte_name;

  /* disposition is the Content-Disposition type lowercased, or NULL if absent. */
  const char *disposition;
  const MIME_PARAM *disp_params;
  size_t num_disp_params;

  /* children are the parts of a multipart, or the one message inside message/rfc822
   * (when its transfer encoding is an identity one). */
  const MIME_ENTITY *children;
  size_t num_children;
  /* preamble and epilogue of a multipart (empty spans otherwise). */
  MIME_SPAN preamble;
  MIME_SPAN epilogue;

  const MIME_ENTITY *parent;
  /* index is the position among the parent's children, from 0. */
  size_t index;
  size_t depth;
  unsigned flags;
};

typedef struct mime_tree_st MIME_TREE;

/* mime_limits_default sets every member of |lim| to its default. */
void mime_limits_default(MIME_LIMITS *lim);

/* mime_parse parses |len| bytes of |data| into a tree. The tree points into |data|,
 * which the caller keeps unchanged until mime_tree_free. |lim| may be NULL (defaults).
 * Returns the tree, or NULL with |err| set: RESOURCE_EXHAUSTED for a limit or out of
 * memory. Malformed MIME is parsed as sanely as possible rather than refused. */
MIME_TREE *mime_parse(const uint8_t *data, size_t len, const MIME_LIMITS *lim,
                      STATUS *err);

/* mime_parse_take is mime_parse on a malloc'd |data| that the tree takes over: it is
 * freed with the tree, or before returning NULL. For bytes that the caller produced
 * (a decrypted entity, say) and would otherwise have to keep alive by hand. */
MIME_TREE *mime_parse_take(uint8_t *data, size_t len, const MIME_LIMITS *lim,
                           STATUS *err);

/* mime_tree_free frees |t| (and its data if it took it). Accepts NULL. */
void mime_tree_free(MIME_TREE *t);

/* mime_tree_root returns the top-level entity of |t|. */
const MIME_ENTITY *mime_tree_root(const MIME_TREE *t);

/* mime_tree_data returns the parsed input, and its length in |*len| (if not NULL). */
const uint8_t *mime_tree_data(const MIME_TREE *t, size_t *len);

/* mime_tree_num_entities returns how many entities |t| holds. */
size_t mime_tree_num_entities(const MIME_TREE *t);

/* mime_name_eq compares two header or parameter names case-insensitively (ASCII). */
int mime_name_eq(const char *a, const char *b);

/* mime_entity_header returns the value of the first field of |e| named |name|
 * (case-insensitive), or NULL. */
const char *mime_entity_header(const MIME_ENTITY *e, const char *name);

/* mime_entity_find_header returns the first field named |name| at or after index
 * |*pos|, and sets |*pos| past it; NULL when there is none. Start with *pos = 0 to
 * visit every Received field, say. */
const MIME_HEADER *mime_entity_find_header(const MIME_ENTITY *e, const char *name,
                                           size_t *pos);

/* mime_entity_param returns the value of Content-Type parameter |name| of |e|, or
 * NULL. */
const char *mime_entity_param(const MIME_ENTITY *e, const char *name);

/* mime_entity_disp_param returns the value of Content-Disposition parameter |name| of
 * |e|, or NULL. */
const char *mime_entity_disp_param(const MIME_ENTITY *e, const char *name);

/* mime_entity_is returns 1 when |e| has type |type| and, unless |subtype| is NULL,
 * subtype |subtype| (both lowercase). */
int mime_entity_is(const MIME_ENTITY *e, const char *type, const char *subtype);

/* mime_entity_filename returns the attachment name of |e| for display, malloc'd
 * UTF-8: the Content-Disposition filename, else the Content-Type name, with RFC 2231
 * and RFC 2047 encodings decoded. NULL when |e| names no file (or out of memory). */
char *mime_entity_filename(const MIME_ENTITY *e);

/* mime_entity_path writes the position of |e| in its tree into |buf| as the dotted
 * part number that IMAP and most mail clients show ("1.2" is the second part of the
 * first part; the top-level entity is "0"), for error messages. Returns |buf|. */
char *mime_entity_path(const MIME_ENTITY *e, char *buf, size_t size);

/* mime_entity_decode decodes the body of |e| according to its transfer encoding into
 * a malloc'd buffer (NUL-terminated, the NUL not counted). 7bit, 8bit and binary
 * bodies are copied. Fails with INVALID_ARGUMENT naming the part and the problem for
 * bad base64, or for a transfer encoding this library does not know. Returns 1 or
 * 0. */
int mime_entity_decode(const MIME_ENTITY *e, uint8_t **out, size_t *out_len,
                       STATUS *err);

/* mime_header_display decodes RFC 2047 encoded words in a header value |value| for
 * display, into malloc'd UTF-8. Words in charsets mime_charset_known does not know,
 * and malformed words, are left as they are; blanks between adjacent encoded words
 * are dropped (RFC 2047 section 6.2). Returns NULL only when out of memory. */
char *mime_header_display(const char *value);

#endif /* SMIMED_MIME_PARSE_H */
