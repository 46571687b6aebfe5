/* mime_smime.c: see mime_smime.h. */
#include "service/mime/mime_smime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "service/mime/mime_codec.h"

const char *mime_cms_type_name(MIME_CMS_TYPE t) {
  switch (t) {
    case MIME_CMS_DATA:
      return "data";
    case MIME_CMS_SIGNED_DATA:
      return "signed-data";
    case MIME_CMS_ENVELOPED_DATA:
      return "enveloped-data";
    case MIME_CMS_AUTH_ENVELOPED_DATA:
      return "authEnveloped-data";
    case MIME_CMS_COMPRESSED_DATA:
      return "compressed-data";
    case MIME_CMS_CERTS_ONLY:
      return "certs-only";
    default:
      return "unknown";
  }
}

/* ends_with_ci says whether |s| ends with |suffix|, ignoring ASCII case. */
static int ends_with_ci(const char *s, const char *suffix) {
  size_t n = strlen(s);
  size_t m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* file_name returns the raw filename (Content-Disposition) or name (Content-Type)
 * parameter of |e|, or "". Raw is enough to see an extension. */
static const char *file_name(const MIME_ENTITY *e) {
  const char *v = mime_entity_disp_param(e, "filename");
  if (v == NULL || v[0] == '\0') {
    v = mime_entity_param(e, "name");
  }
  return v == NULL ? "" : v;
}

/* is_signature_type says whether |e| looks like a detached PKCS #7 signature. */
static int is_signature_type(const MIME_ENTITY *e) {
  if (mime_entity_is(e, "application", "pkcs7-signature") ||
      mime_entity_is(e, "application", "x-pkcs7-signature")) {
    return 1;
  }
  return mime_entity_is(e, "application", "octet-stream") &&
         ends_with_ci(file_name(e), ".p7s");
}

MIME_SMIME_KIND mime_smime_classify(const MIME_ENTITY *e, MIME_CMS_TYPE *declared) {
  if (declared != NULL) {
    *declared = MIME_CMS_UNKNOWN;
  }
  if (mime_entity_is(e, "multipart", "signed")) {
    const char *proto = mime_entity_param(e, "protocol");
    if (proto != NULL && proto[0] != '\0') {
      if (strcasecmp(proto, "application/pkcs7-signature") == 0 ||
          strcasecmp(proto, "application/x-pkcs7-signature") == 0) {
        return MIME_SMIME_SIGNED;
      }
      return MIME_SMIME_NONE;
    }
    if (e->num_children >= 2 && is_signature_type(&e->children[1])) {
      return MIME_SMIME_SIGNED;
    }
    return MIME_SMIME_NONE;
  }
  int pkcs7 = mime_entity_is(e, "application", "pkcs7-mime") ||
              mime_entity_is(e, "application", "x-pkcs7-mime");
  const char *name = file_name(e);
  if (!pkcs7 && mime_entity_is(e, "application", "octet-stream")) {
    pkcs7 = ends_with_ci(name, ".p7m") || ends_with_ci(name, ".p7s") ||
            ends_with_ci(name, ".p7c");
  }
  if (!pkcs7) {
    return MIME_SMIME_NONE;
  }
  MIME_CMS_TYPE t = MIME_CMS_UNKNOWN;
  const char *st = mime_entity_param(e, "smime-type");
  if (st != NULL && strcasecmp(st, "signed-data") == 0) {
    t = MIME_CMS_SIGNED_DATA;
  } else if (st != NULL && strcasecmp(st, "enveloped-data") == 0) {
    t = MIME_CMS_ENVELOPED_DATA;
  } else if (st != NULL && strcasecmp(st, "authenveloped-data") == 0) {
    t = MIME_CMS_AUTH_ENVELOPED_DATA;
  } else if (st != NULL && strcasecmp(st, "compressed-data") == 0) {
    t = MIME_CMS_COMPRESSED_DATA;
  } else if (st != NULL && strcasecmp(st, "certs-only") == 0) {
    t = MIME_CMS_CERTS_ONLY;
  } else if (ends_with_ci(name, ".p7c")) {
    t = MIME_CMS_CERTS_ONLY;
  }
  if (declared != NULL) {
    *declared = t;
  }
  return MIME_SMIME_PKCS7;
}

MIME_CMS_TYPE mime_smime_sniff(const uint8_t *der, size_t len) {
  /* The contentType OIDs as complete DER TLVs (tag 06, length, value). */
  static const struct {
    uint8_t tlv[13];
    size_t len;
    MIME_CMS_TYPE type;
  } oids[] = {
      {{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}, 11,
       MIME_CMS_DATA},
      {{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}, 11,
       MIME_CMS_SIGNED_DATA},
      {{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}, 11,
       MIME_CMS_ENVELOPED_DATA},
      {{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17},
       13, MIME_CMS_AUTH_ENVELOPED_DATA},
      {{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09},
       13, MIME_CMS_COMPRESSED_DATA},
  };
  if (len < 2 || der[0] != 0x30) {
    return MIME_CMS_UNKNOWN;
  }
  /* Skip the SEQUENCE's length octets only (short form, indefinite 0x80, or long form
   * with 1-4 octets); their value does not matter for a prefix comparison. */
  size_t skip = 2;
  if (der[1] > 0x80) {
    size_t octets = der[1] & 0x7f;
    if (octets > 4) {
      return MIME_CMS_UNKNOWN;
    }
    skip += octets;
  }
  if (len < skip) {
    return MIME_CMS_UNKNOWN;
  }
  for (size_t i = 0; i < sizeof(oids) / sizeof(oids[0]); i++) {
    if (len - skip >= oids[i].len && memcmp(der + skip, oids[i].tlv, oids[i].len) == 0) {
      return oids[i].type;
    }
  }
  return MIME_CMS_UNKNOWN;
}

/* looks_base64 says whether |len| bytes are nothing but base64 text and layout, with
 * at least one base64 character. */
static int looks_base64(const uint8_t *p, size_t len) {
  int any = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = p[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '+' || c == '/') {
      any = 1;
    } else if (!(c == '=' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
      return 0;
    }
  }
  return any;
}

/* decode_cms_body decodes the body of |e|, which should hold a CMS object, and
 * refuses an empty result. |what| names it in messages. */
static int decode_cms_body(const MIME_ENTITY *e, const char *what, uint8_t **out,
                           size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  char path[128];
  uint8_t *buf = NULL;
  size_t len = 0;
  if ((e->cte == MIME_CTE_7BIT || e->cte == MIME_CTE_8BIT || e->cte == MIME_CTE_BINARY) &&
      e->body.len > 0 && e->body.ptr[0] != 0x30 && looks_base64(e->body.ptr, e->body.len)) {
    STATUS sub;
    status_clear(&sub);
    if (!mime_base64_decode(e->body.ptr, e->body.len, &buf, &len, &sub)) {
      return status_set(err, sub.code, "%s (MIME part %s): %s", what,
                        mime_entity_path(e, path, sizeof(path)), sub.message);
    }
  } else if (!mime_entity_decode(e, &buf, &len, err)) {
    return 0;
  }
  if (len == 0) {
    free(buf);
    return status_set(err, STATUS_INVALID_ARGUMENT, "%s (MIME part %s) is empty", what,
                      mime_entity_path(e, path, sizeof(path)));
  }
  *out = buf;
  *out_len = len;
  return 1;
}

MIME_SIGNED *mime_signed_new(const MIME_ENTITY *e, STATUS *err) {
  char path[128];
  MIME_SIGNED *s = NULL;
  if (mime_smime_classify(e, NULL) != MIME_SMIME_SIGNED) {
    status_set(err, STATUS_INVALID_ARGUMENT, "MIME part %s (%s/%s) is not S/MIME multipart/signed",
               mime_entity_path(e, path, sizeof(path)), e->type, e->subtype);
    goto err;
  }
  if (e->num_children < 2) {
    status_set(err, STATUS_INVALID_ARGUMENT,
               "multipart/signed (MIME part %s) has %zu part%s; RFC 1847 requires two "
               "(content and signature)%s",
               mime_entity_path(e, path, sizeof(path)), e->num_children,
               e->num_children == 1 ? "" : "s",
               (e->flags & MIME_F_NO_BOUNDARY) ? ", and it has no usable boundary" : "");
    goto err;
  }
  s = calloc(1, sizeof(MIME_SIGNED));
  if (s == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  s->content = &e->children[0];
  s->signature_part = &e->children[1];
  s->content_bytes = s->content->whole.ptr;
  s->content_len = s->content->whole.len;
  s->micalg = mime_entity_param(e, "micalg");
  s->protocol = mime_entity_param(e, "protocol");
  if (mime_crlf_canonical(s->content_bytes, s->content_len)) {
    s->canonical = s->content_bytes;
    s->canonical_len = s->content_len;
  } else {
    if (!mime_crlf(s->content_bytes, s->content_len, &s->owned_canonical,
                   &s->canonical_len, err)) {
      goto err;
    }
    s->canonical = s->owned_canonical;
    s->canonical_differs = 1;
  }
  if (!decode_cms_body(s->signature_part, "the signature of multipart/signed",
                       &s->signature, &s->signature_len, err)) {
    goto err;
  }
  return s;

err:
  mime_signed_free(s);
  return NULL;
}

void mime_signed_free(MIME_SIGNED *s) {
  if (s == NULL) {
    return;
  }
  free(s->owned_canonical);
  free(s->signature);
  free(s);
}

MIME_PKCS7 *mime_pkcs7_new(const MIME_ENTITY *e, STATUS *err) {
  char path[128];
  MIME_PKCS7 *p = NULL;
  MIME_CMS_TYPE declared;
  if (mime_smime_classify(e, &declared) != MIME_SMIME_PKCS7) {
    status_set(err, STATUS_INVALID_ARGUMENT, "MIME part %s (%s/%s) is not application/pkcs7-mime",
               mime_entity_path(e, path, sizeof(path)), e->type, e->subtype);
    goto err;
  }
  p = calloc(1, sizeof(MIME_PKCS7));
  if (p == NULL) {
    status_set(err, STATUS_RESOURCE_EXHAUSTED, "out of memory");
    goto err;
  }
  if (!decode_cms_body(e, "the CMS object of application/pkcs7-mime", &p->der,
                       &p->der_len, err)) {
    goto err;
  }
  p->declared = declared;
  p->sniffed = mime_smime_sniff(p->der, p->der_len);
  p->type = p->sniffed != MIME_CMS_UNKNOWN ? p->sniffed : declared;
  if (declared == MIME_CMS_CERTS_ONLY && p->sniffed == MIME_CMS_SIGNED_DATA) {
    p->type = MIME_CMS_CERTS_ONLY;
  }
  return p;

err:
  mime_pkcs7_free(p);
  return NULL;
}

void mime_pkcs7_free(MIME_PKCS7 *p) {
  if (p == NULL) {
    return;
  }
  free(p->der);
  free(p);
}
