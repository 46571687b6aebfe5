/* cert_info_memo.h: cert_info_new's answers kept for certificates read again.
 *
 * The engine reads the same certificates over and over: every signed message from a
 * signer carries (and is judged on) the signer's certificate, and cert_info_new (the
 * structure walk, BoringSSL's parser, extension decoding, printing the names) took a
 * sixth of a 4 KiB verify's engine time. Its answer depends on the DER alone, and a
 * CERT_INFO never changes once made, so the last CERT_INFO_MEMO_SLOTS answers are kept,
 * found by the SHA-256 of the DER (which cert_info_new computes anyway and keeps in the
 * answer). Refusals are not kept: they are rare, and recomputing them costs nothing
 * that matters. Safe to use from several threads. */
#ifndef SMIMED_X509_CERT_INFO_MEMO_H
#define SMIMED_X509_CERT_INFO_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/x509/cert_info.h"

/* CERT_INFO_MEMO_SLOTS is how many answers are kept (a few KiB each). */
#define CERT_INFO_MEMO_SLOTS 64

/* cert_info_memo_new is cert_info_new (same answer, same errors), from the memo when
 * |der| was read before. Free the result with cert_info_free. */
CERT_INFO *cert_info_memo_new(const uint8_t *der, size_t der_len, STATUS *err);

#endif /* SMIMED_X509_CERT_INFO_MEMO_H */
