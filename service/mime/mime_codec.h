/* mime_codec.h: the MIME content-transfer-encodings (base64, RFC 2045 section 6.8;
 * quoted-printable, section 6.7), line-end canonicalization (RFC 5751/8551 section
 * 3.1.1: CRLF before signing), and the handful of charsets converted to UTF-8 for
 * display (RFC 2047 words, RFC 2231 parameters). Pure C, no dependency but libc and
 * //service/common:status, so that it can be linked into smime-engine.
 *
 * Every function returning bytes returns them malloc'd (free() them) and followed by a
 * NUL that the length does not count, so that text results are also C strings. Outputs
 * are cleared on entry and set only on success. Failures are reported through |err|:
 * INVALID_ARGUMENT for malformed input (saying what and where), RESOURCE_EXHAUSTED when
 * out of memory. */
#ifndef SMIMED_MIME_CODEC_H
#define SMIMED_MIME_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"

/* mime_base64_decode decodes |len| bytes of base64 text. It is tolerant of layout (any
 * whitespace, any line length, missing final padding, several padded blocks one after
 * the other) and strict about content: any other byte is an error naming the byte and
 * its offset, as is a lone dangling character at the end. Returns 1 or 0. */
int mime_base64_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                       STATUS *err);

/* mime_base64_encode encodes |len| bytes. With |line_len| 0 the result is one line
 * without a line end; otherwise lines of |line_len| characters (rounded down to a
 * multiple of 4; 76 for MIME), each ended by CRLF, the last one included. Empty input
 * gives empty output. Returns 1 or 0. */
int mime_base64_encode(const uint8_t *in, size_t len, size_t line_len, uint8_t **out,
                       size_t *out_len, STATUS *err);

/* mime_base64_encoded_len is the length of mime_base64_encode's output for |len| bytes
 * and |line_len| (0 when |len| is too large to encode). */
size_t mime_base64_encoded_len(size_t len, size_t line_len);

/* mime_base64_encode_to is mime_base64_encode into |out|, which has room for
 * mime_base64_encoded_len(len, line_len) bytes (no NUL is added). Returns the length
 * written. */
size_t mime_base64_encode_to(const uint8_t *in, size_t len, size_t line_len, uint8_t *out);

/* mime_qp_decode decodes quoted-printable leniently, as RFC 2045 section 6.7 asks of
 * decoders: "=XX" in either case is a byte, a "=" that starts no valid escape is kept
 * literally, "=" at the end of a line is a soft line break, whitespace at the end of a
 * line is transport padding and removed. Hard line ends are kept as received (LF or
 * CRLF). It fails only when out of memory. Returns 1 or 0. */
int mime_qp_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                   STATUS *err);

/* mime_qp_encode encodes |len| bytes as quoted-printable with lines of at most 76
 * characters. With |text| set, CRLF and bare LF are hard line breaks (written as CRLF)
 * and a bare CR is "=0D"; otherwise every byte is data (CR and LF become "=0D" "=0A").
 * So that no mail transport rewrites the result (RFC 8551 section 3.1), it also encodes
 * whitespace at the end of a line, a "." or "From " at the start of a line and a "-"
 * at the start of a line made by a soft break (which could otherwise look like a MIME
 * boundary). Returns 1 or 0. */
int mime_qp_encode(const uint8_t *in, size_t len, int text, uint8_t **out,
                   size_t *out_len, STATUS *err);

/* mime_crlf_canonical returns 1 when |in| has no LF that is not preceded by CR. */
int mime_crlf_canonical(const uint8_t *in, size_t len);

/* mime_crlf converts every LF not preceded by CR into CRLF (the canonical form of
 * RFC 5322 text). Other bytes, including a CR alone, are copied. Returns 1 or 0. */
int mime_crlf(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
              STATUS *err);

/* mime_charset_known returns 1 when mime_charset_to_utf8 can convert |charset|
 * (case-insensitive): UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252 and
 * their usual aliases. Only those, because the engine has no iconv tables to rely on
 * and these cover nearly all mail headers that are not UTF-8 already. */
int mime_charset_known(const char *charset);

/* mime_charset_to_utf8 converts |len| bytes in |charset| to UTF-8. UTF-8 and US-ASCII
 * are copied unchanged (display code must still expect invalid sequences). Fails with
 * INVALID_ARGUMENT for an unknown charset. Returns 1 or 0. */
int mime_charset_to_utf8(const char *charset, const uint8_t *in, size_t len,
                         uint8_t **out, size_t *out_len, STATUS *err);

/* mime_7bit_safe says whether |n| bytes would pass a 7-bit transport unchanged as a
 * body: bytes 1-127, CR only in CRLF, lines of at most |max_line| octets. With |strict|
 * also no blank at the end of a line and no line starting "From " (mbox-style stores
 * and some gateways rewrite both). Line ends may be LF: they become CRLF when emitted.
 * Runs of plain bytes are checked eight at a time (a 1 MiB body is scanned often). */
int mime_7bit_safe(const uint8_t *p, size_t n, size_t max_line, int strict);

#endif /* SMIMED_MIME_CODEC_H */
