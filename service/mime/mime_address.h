/* mime_address.h: address lists of From, Sender, To, Cc, Bcc, Reply-To (RFC 5322
 * section 3.4, with the obsolete forms of section 4.4 read leniently) and Message-ID,
 * for choosing recipients and for checking a signer against the sender. Addresses
 * come out as lowercased addr-specs ("local@domain"), since the service compares them
 * case-insensitively with certificate addresses; 8-bit (RFC 6532) bytes are kept. */
#ifndef SMIMED_MIME_ADDRESS_H
#define SMIMED_MIME_ADDRESS_H

#include <stddef.h>

#include "service/common/status.h"
#include "service/mime/mime_parse.h"

/* MIME_ADDRESS is one mailbox. */
typedef struct mime_address_st {
  /* addr is the addr-spec lowercased (ASCII), without angle brackets, comments or
   * source route; a quoted local part is unquoted when it needs no quotes. */
  char *addr;
  /* display is the display name (or, for "addr (Name)", the comment) with RFC 2047
   * words decoded, or NULL. */
  char *display;
} MIME_ADDRESS;

/* MIME_ADDRESS_LIST collects the mailboxes of one or more fields, without
 * duplicates, in order of first appearance. Group syntax ("team: a@x, b@y;",
 * "undisclosed-recipients:;") contributes its members. */
typedef struct mime_address_list_st {
  MIME_ADDRESS *addrs;
  size_t num;
  /* invalid holds the entries that are not addresses (no "@", empty local part or
   * domain, "<>"), as written and trimmed, so the caller can name them. */
  char **invalid;
  size_t num_invalid;
  /* The rest is private. */
  size_t cap_;
  size_t cap_invalid_;
  size_t *slots_;
  size_t nslots_;
} MIME_ADDRESS_LIST;

/* mime_address_list_new returns an empty list, or NULL when out of memory. */
MIME_ADDRESS_LIST *mime_address_list_new(void);

/* mime_address_list_free frees |l|. Accepts NULL. */
void mime_address_list_free(MIME_ADDRESS_LIST *l);

/* mime_address_parse adds the mailboxes of the field value |value| (unfolded, as in
 * MIME_HEADER) to |l|. Never fails on syntax (bad entries go to |invalid|); fails with
 * RESOURCE_EXHAUSTED when out of memory. Returns 1 or 0. */
int mime_address_parse(MIME_ADDRESS_LIST *l, const char *value, STATUS *err);

/* mime_address_from_header adds the mailboxes of every field of |e| named |name|
 * (there may be several To fields). Returns 1 or 0. */
int mime_address_from_header(MIME_ADDRESS_LIST *l, const MIME_ENTITY *e,
                             const char *name, STATUS *err);

/* mime_address_contains says whether |l| holds |addr| (case-insensitive). */
int mime_address_contains(const MIME_ADDRESS_LIST *l, const char *addr);

/* mime_message_id returns the Message-ID in field value |value| without angle
 * brackets, comments or folding blanks, malloc'd; NULL when there is none (or out of
 * memory). Without angle brackets the first word is taken (some mailers omit them). */
char *mime_message_id(const char *value);

#endif /* SMIMED_MIME_ADDRESS_H */
