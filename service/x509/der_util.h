/* der_util.h: small helpers shared by cert_info.c and containers.c for describing ASN.1
 * in error messages and for walking DER with CBS. Internal to //service/x509. */
#ifndef SMIMED_X509_DER_UTIL_H
#define SMIMED_X509_DER_UTIL_H

#include <stddef.h>

#include <openssl/bytestring.h>

/* der_tag_name writes a name for the CBS tag |tag| ("SEQUENCE", "INTEGER", "[0]",
 * "tag 0x1f") into |buf| (|len| bytes) and returns |buf|. */
const char *der_tag_name(unsigned tag, char *buf, size_t len);

/* der_oid_name writes the short name of the OBJECT IDENTIFIER whose content octets are
 * |oid| ("serverAuth", "rsaEncryption"), or its dotted form when BoringSSL has no name
 * for it, or "(invalid OID)", into |buf| and returns |buf|. */
const char *der_oid_name(const CBS *oid, char *buf, size_t len);

/* DER_WHY_LEN is a good size for the |why| buffers below. */
#define DER_WHY_LEN 256

/* der_where writes where and how a walk failed into |why|: "at FIELD, offset N: WHAT",
 * N being how far |at| is into the buffer starting at |base|; without the offset when
 * |base| is NULL (e.g. a walk over a BER input converted to DER, whose offsets would
 * not be the file's). Returns 0, for `return der_where(...)`. */
int der_where(char *why, size_t why_len, const char *field, const CBS *at,
              const uint8_t *base, const char *what);

/* der_get_field reads the next DER element of |in| into |out|, which must have tag
 * |tag|; with |with_header| |out| keeps the tag and length, else only the contents.
 * On failure returns 0, leaves |in| where the element starts and describes it in
 * |why| (see der_where) naming |field|. */
int der_get_field(CBS *in, CBS *out, unsigned tag, int with_header, const char *field,
                  const uint8_t *base, char *why, size_t why_len);

/* der_expect_end returns 1 when |in| is used up, else 0 with |why| saying how many
 * bytes of |field| are left over. */
int der_expect_end(const CBS *in, const char *field, const uint8_t *base, char *why,
                   size_t why_len);

/* der_find_break walks the DER elements of |in|, descending into constructed ones up
 * to |depth| levels, and returns 1 with |*out_at| at the first element whose header or
 * length does not parse (to say where a file breaks), or 0 when every one parses. */
int der_find_break(CBS in, int depth, CBS *out_at);

/* der_offset returns how far |at| is into the buffer starting at |base|: the position
 * named in error messages. |at| must point into that buffer. */
size_t der_offset(const CBS *at, const uint8_t *base);

#endif /* SMIMED_X509_DER_UTIL_H */
