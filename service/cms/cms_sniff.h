/* cms_sniff.h: which CMS content type a blob holds, from its first bytes only, for
 * S/MIME parts whose smime-type parameter is missing or wrong (Outlook, gateways). */
#ifndef SMIMED_CMS_SNIFF_H
#define SMIMED_CMS_SNIFF_H

#include <stddef.h>
#include <stdint.h>

/* CMS_TYPE_* are the ContentInfo types S/MIME uses. */
enum {
  CMS_TYPE_UNKNOWN = 0,         /* not a ContentInfo, or another type */
  CMS_TYPE_SIGNED_DATA = 1,
  CMS_TYPE_ENVELOPED_DATA = 2,
  CMS_TYPE_AUTH_ENVELOPED_DATA = 3,
};

/* cms_sniff returns the CMS_TYPE_* of the ContentInfo |in| (BER or DER), looking only
 * at its outer header and contentType (cheap); the full parse decides whether the rest
 * is well formed. A definite length longer than |in| (truncated) is UNKNOWN. */
int cms_sniff(const uint8_t *in, size_t in_len);

#endif /* SMIMED_CMS_SNIFF_H */
