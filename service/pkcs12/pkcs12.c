/* pkcs12.c: see pkcs12.h. */
#include "service/pkcs12/pkcs12.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/crypto.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>

#include "service/pkcs12/internal.h"

/* P12_ITEM is one key or certificate, as DER. */
typedef struct p12_item_st {
  uint8_t *der;
  size_t len;
} P12_ITEM;

/* P12_LIST is a growable array of P12_ITEMs. */
typedef struct p12_list_st {
  P12_ITEM *items;
  size_t num;
  size_t cap;
} P12_LIST;

struct p12_contents_st {
  P12_LIST keys;
  P12_LIST certs;
};

/* P12_PARSER is the state of one p12_parse. */
typedef struct p12_parser_st {
  const char *password;
  size_t password_len;
  PBE_BUDGET budget;
  size_t bags;
  int mac_verified;
  P12_CONTENTS *contents;
  STATUS *err;
} P12_PARSER;

/* kContext0 is the tag of [0] EXPLICIT (constructed). */
static const unsigned kContext0 = CBS_ASN1_CONTEXT_SPECIFIC | CBS_ASN1_CONSTRUCTED | 0;

P12_CONTENTS *p12_contents_new(void) {
  return calloc(1, sizeof(P12_CONTENTS));
}

static void list_free(P12_LIST *l) {
  for (size_t i = 0; i < l->num; i++) {
    pbe_secret_free(l->items[i].der, l->items[i].len);
  }
  free(l->items);
  l->items = NULL;
  l->num = 0;
  l->cap = 0;
}

void p12_contents_free(P12_CONTENTS *c) {
  if (c == NULL) {
    return;
  }
  list_free(&c->keys);
  list_free(&c->certs);
  free(c);
}

size_t p12_contents_num_keys(const P12_CONTENTS *c) {
  return c->keys.num;
}

const uint8_t *p12_contents_key(const P12_CONTENTS *c, size_t i, size_t *out_len) {
  *out_len = c->keys.items[i].len;
  return c->keys.items[i].der;
}

size_t p12_contents_num_certs(const P12_CONTENTS *c) {
  return c->certs.num;
}

const uint8_t *p12_contents_cert(const P12_CONTENTS *c, size_t i, size_t *out_len) {
  *out_len = c->certs.items[i].len;
  return c->certs.items[i].der;
}

/* list_take appends |der| to |l|, taking ownership (freed here on failure). */
static int list_take(P12_LIST *l, uint8_t *der, size_t len, STATUS *err) {
  if (l->num == l->cap) {
    size_t cap = l->cap == 0 ? 4 : 2 * l->cap;
    P12_ITEM *items = realloc(l->items, cap * sizeof(P12_ITEM));
    if (items == NULL) {
      pbe_secret_free(der, len);
      return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
    }
    l->items = items;
    l->cap = cap;
  }
  l->items[l->num].der = der;
  l->items[l->num].len = len;
  l->num++;
  return P12_OK;
}

/* list_add appends a copy of |der| to |l|, unless an equal item is already there. */
static int list_add(P12_LIST *l, const uint8_t *der, size_t len, STATUS *err) {
  for (size_t i = 0; i < l->num; i++) {
    if (l->items[i].len == len && memcmp(l->items[i].der, der, len) == 0) {
      return P12_OK;
    }
  }
  uint8_t *copy = OPENSSL_memdup(der, len > 0 ? len : 1);
  if (copy == NULL) {
    return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
  }
  return list_take(l, copy, len, err);
}

/* count_bag counts one SafeBag or ContentInfo against P12_MAX_BAGS. */
static int count_bag(P12_PARSER *p) {
  if (++p->bags > P12_MAX_BAGS) {
    return p12_fail(p->err, P12_ERR_LIMIT,
                    "the PKCS#12 file holds more than %u bags; at most %u are read",
                    P12_MAX_BAGS, P12_MAX_BAGS);
  }
  return P12_OK;
}

/* wrong_password words P12_ERR_WRONG_PASSWORD for the file as a whole. */
static int wrong_password(P12_PARSER *p, const char *what) {
  if (p->password_len == 0) {
    return p12_fail(p->err, P12_ERR_WRONG_PASSWORD,
                    "the PKCS#12 file is encrypted: give its password");
  }
  if (p->mac_verified) {
    return p12_fail(p->err, P12_ERR_WRONG_PASSWORD,
                    "wrong password for the PKCS#12 file (its MAC verifies, but its %s "
                    "does not decrypt with this password)",
                    what);
  }
  return p12_fail(p->err, P12_ERR_WRONG_PASSWORD, "wrong password for the PKCS#12 file");
}

/* decrypt runs pbe_decrypt for the bag kind |what| (for messages). */
static int decrypt(P12_PARSER *p, const CBS *alg, const uint8_t *in, size_t in_len,
                   const char *what, uint8_t **out, size_t *out_len) {
  int rc = pbe_decrypt(alg, p->password, p->password_len, in, in_len, &p->budget, out,
                       out_len, p->err);
  if (rc == P12_ERR_WRONG_PASSWORD) {
    return wrong_password(p, what);
  }
  return rc;
}

static int parse_safe_contents(P12_PARSER *p, CBS *der, unsigned depth);

/* parse_cert_bag reads a CertBag and keeps an x509Certificate. */
static int parse_cert_bag(P12_PARSER *p, CBS *value) {
  CBS bag;
  CBS oid;
  CBS wrapper;
  CBS octets;
  if (!CBS_get_asn1(value, &bag, CBS_ASN1_SEQUENCE) || CBS_len(value) != 0 ||
      !CBS_get_asn1(&bag, &oid, CBS_ASN1_OBJECT) ||
      !CBS_get_asn1(&bag, &wrapper, kContext0) || CBS_len(&bag) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed certificate bag in the PKCS#12 file");
  }
  if (OBJ_cbs2nid(&oid) != NID_x509Certificate) {
    /* parse_cert_bag skips SDSI and other certificate types: not X.509, not ours. */
    return P12_OK;
  }
  if (!CBS_get_asn1(&wrapper, &octets, CBS_ASN1_OCTETSTRING) || CBS_len(&wrapper) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed certificate bag in the PKCS#12 file");
  }
  CBS cert;
  uint8_t *storage = NULL;
  if (pbe_ber_to_der(&octets, &cert, &storage) != P12_OK || CBS_len(&octets) != 0 ||
      !CBS_peek_asn1_tag(&cert, CBS_ASN1_SEQUENCE)) {
    OPENSSL_free(storage);
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "a certificate in the PKCS#12 file is not valid DER");
  }
  int rc = list_add(&p->contents->certs, CBS_data(&cert), CBS_len(&cert), p->err);
  OPENSSL_free(storage);
  return rc;
}

/* parse_key_bag keeps a keyBag's PrivateKeyInfo. */
static int parse_key_bag(P12_PARSER *p, CBS *value) {
  CBS pki;
  if (!CBS_get_asn1_element(value, &pki, CBS_ASN1_SEQUENCE) || CBS_len(value) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED, "malformed key bag in the PKCS#12 file");
  }
  return list_add(&p->contents->keys, CBS_data(&pki), CBS_len(&pki), p->err);
}

/* parse_shrouded_key_bag decrypts a pkcs8ShroudedKeyBag's EncryptedPrivateKeyInfo. */
static int parse_shrouded_key_bag(P12_PARSER *p, CBS *value) {
  CBS epki;
  CBS alg;
  CBS data;
  if (!CBS_get_asn1(value, &epki, CBS_ASN1_SEQUENCE) || CBS_len(value) != 0 ||
      !CBS_get_asn1_element(&epki, &alg, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&epki, &data, CBS_ASN1_OCTETSTRING) || CBS_len(&epki) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed shrouded key bag in the PKCS#12 file");
  }
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  int rc = decrypt(p, &alg, CBS_data(&data), CBS_len(&data), "private key", &plain,
                   &plain_len);
  if (rc != P12_OK) {
    return rc;
  }
  return list_take(&p->contents->keys, plain, plain_len, p->err);
}

/* parse_bag reads one SafeBag. */
static int parse_bag(P12_PARSER *p, CBS *bag_elem, unsigned depth) {
  CBS bag;
  CBS oid;
  CBS value;
  int rc;
  if ((rc = count_bag(p)) != P12_OK) {
    return rc;
  }
  if (!CBS_get_asn1(bag_elem, &bag, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&bag, &oid, CBS_ASN1_OBJECT) ||
      !CBS_get_asn1(&bag, &value, kContext0)) {
    return p12_fail(p->err, P12_ERR_MALFORMED, "malformed bag in the PKCS#12 file");
  }
  /* parse_bag ignores the attributes (friendlyName, localKeyId): the certificate
   * that goes with the key is found by its public key. */
  if (CBS_len(&bag) > 0 &&
      (!CBS_get_asn1(&bag, NULL, CBS_ASN1_SET) || CBS_len(&bag) != 0)) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed bag attributes in the PKCS#12 file");
  }
  switch (OBJ_cbs2nid(&oid)) {
    case NID_keyBag:
      return parse_key_bag(p, &value);
    case NID_pkcs8ShroudedKeyBag:
      return parse_shrouded_key_bag(p, &value);
    case NID_certBag:
      return parse_cert_bag(p, &value);
    case NID_safeContentsBag:
      return parse_safe_contents(p, &value, depth + 1);
    default:
      /* parse_bag skips CRL, secret and unknown bags: none holds what we import. */
      return P12_OK;
  }
}

/* parse_safe_contents reads the SafeContents (DER) that is all of |der|. */
static int parse_safe_contents(P12_PARSER *p, CBS *der, unsigned depth) {
  CBS bags;
  int rc;
  if (depth > P12_MAX_DEPTH) {
    return p12_fail(p->err, P12_ERR_LIMIT,
                    "the PKCS#12 file nests bags more than %u deep", P12_MAX_DEPTH);
  }
  if (!CBS_get_asn1(der, &bags, CBS_ASN1_SEQUENCE) || CBS_len(der) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed SafeContents in the PKCS#12 file");
  }
  while (CBS_len(&bags) > 0) {
    if ((rc = parse_bag(p, &bags, depth)) != P12_OK) {
      return rc;
    }
  }
  return P12_OK;
}

/* parse_safe_contents_ber converts |in| (one BER SafeContents) and reads it. */
static int parse_safe_contents_ber(P12_PARSER *p, const uint8_t *in, size_t in_len) {
  CBS cbs;
  CBS der;
  uint8_t *storage = NULL;
  CBS_init(&cbs, in, in_len);
  if (pbe_ber_to_der(&cbs, &der, &storage) != P12_OK || CBS_len(&cbs) != 0) {
    OPENSSL_free(storage);
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed SafeContents in the PKCS#12 file");
  }
  size_t der_len = CBS_len(&der);
  int rc = parse_safe_contents(p, &der, 0);
  pbe_secret_free(storage, der_len);
  return rc;
}

/* get_implicit_octets reads the optional [0] IMPLICIT OCTET STRING of an
 * EncryptedContentInfo: primitive, or (BER converted to DER keeps the context tag
 * constructed) a constructed [0] of OCTET STRING chunks, joined into |*out_storage|.
 * Sets |*out_present|. */
static int get_implicit_octets(P12_PARSER *p, CBS *eci, CBS *out, uint8_t **out_storage,
                               int *out_present) {
  *out_storage = NULL;
  *out_present = 0;
  CBS_init(out, NULL, 0);
  if (CBS_peek_asn1_tag(eci, CBS_ASN1_CONTEXT_SPECIFIC | 0)) {
    if (!CBS_get_asn1(eci, out, CBS_ASN1_CONTEXT_SPECIFIC | 0)) {
      return p12_fail(p->err, P12_ERR_MALFORMED, "malformed encrypted content");
    }
    *out_present = 1;
    return P12_OK;
  }
  if (!CBS_peek_asn1_tag(eci, kContext0)) {
    return P12_OK;
  }
  CBS chunks;
  CBB joined;
  size_t len = 0;
  if (!CBS_get_asn1(eci, &chunks, kContext0) || !CBB_init(&joined, CBS_len(&chunks))) {
    return p12_fail(p->err, P12_ERR_MALFORMED, "malformed encrypted content");
  }
  while (CBS_len(&chunks) > 0) {
    CBS chunk;
    if (!CBS_get_asn1(&chunks, &chunk, CBS_ASN1_OCTETSTRING) ||
        !CBB_add_bytes(&joined, CBS_data(&chunk), CBS_len(&chunk))) {
      CBB_cleanup(&joined);
      return p12_fail(p->err, P12_ERR_MALFORMED, "malformed encrypted content");
    }
  }
  if (!CBB_finish(&joined, out_storage, &len)) {
    CBB_cleanup(&joined);
    return p12_fail(p->err, P12_ERR_NO_MEMORY, "out of memory");
  }
  CBS_init(out, *out_storage, len);
  *out_present = 1;
  return P12_OK;
}

/* parse_encrypted_data reads an EncryptedData ContentInfo's content (RFC 5652
 * section 8), decrypts it and reads the SafeContents inside. */
static int parse_encrypted_data(P12_PARSER *p, CBS *content) {
  CBS ed;
  CBS eci;
  CBS type;
  CBS alg;
  CBS octets;
  uint64_t version;
  uint8_t *storage = NULL;
  uint8_t *plain = NULL;
  size_t plain_len = 0;
  int present = 0;
  int rc;
  if (!CBS_get_asn1(content, &ed, CBS_ASN1_SEQUENCE) || CBS_len(content) != 0 ||
      !CBS_get_asn1_uint64(&ed, &version) ||
      !CBS_get_asn1(&ed, &eci, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&eci, &type, CBS_ASN1_OBJECT) ||
      !CBS_get_asn1_element(&eci, &alg, CBS_ASN1_SEQUENCE)) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed encryptedData in the PKCS#12 file");
  }
  /* parse_encrypted_data ignores unprotectedAttrs ([1], CMS version 2). */
  if ((rc = get_implicit_octets(p, &eci, &octets, &storage, &present)) != P12_OK) {
    goto out;
  }
  if (CBS_len(&eci) != 0 || OBJ_cbs2nid(&type) != NID_pkcs7_data) {
    rc = p12_fail(p->err, P12_ERR_MALFORMED,
                  "malformed encryptedData in the PKCS#12 file");
    goto out;
  }
  if (!present) {
    rc = P12_OK;
    goto out;
  }
  if ((rc = decrypt(p, &alg, CBS_data(&octets), CBS_len(&octets), "certificate data",
                    &plain, &plain_len)) != P12_OK) {
    goto out;
  }
  CBS der;
  CBS_init(&der, plain, plain_len);
  rc = parse_safe_contents(p, &der, 0);

out:
  OPENSSL_free(storage);
  pbe_secret_free(plain, plain_len);
  return rc;
}

/* parse_authenticated_safe reads the AuthenticatedSafe, a SEQUENCE OF ContentInfo
 * (BER), from the |len| bytes of |in|. */
static int parse_authenticated_safe(P12_PARSER *p, const uint8_t *in, size_t len) {
  CBS cbs;
  CBS der;
  CBS infos;
  uint8_t *storage = NULL;
  int rc = P12_OK;
  size_t der_len = 0;
  CBS_init(&cbs, in, len);
  /* parse_authenticated_safe wipes its DER copy: data ContentInfos may hold plain
   * key bags. */
  if (pbe_ber_to_der(&cbs, &der, &storage) == P12_OK) {
    der_len = CBS_len(&der);
  }
  if (der_len == 0 || CBS_len(&cbs) != 0 ||
      !CBS_get_asn1(&der, &infos, CBS_ASN1_SEQUENCE) || CBS_len(&der) != 0) {
    rc = p12_fail(p->err, P12_ERR_MALFORMED,
                  "malformed AuthenticatedSafe in the PKCS#12 file");
    goto out;
  }
  while (CBS_len(&infos) > 0 && rc == P12_OK) {
    CBS info;
    CBS oid;
    CBS content;
    if ((rc = count_bag(p)) != P12_OK) {
      break;
    }
    if (!CBS_get_asn1(&infos, &info, CBS_ASN1_SEQUENCE) ||
        !CBS_get_asn1(&info, &oid, CBS_ASN1_OBJECT) ||
        !CBS_get_asn1(&info, &content, kContext0) || CBS_len(&info) != 0) {
      rc = p12_fail(p->err, P12_ERR_MALFORMED,
                    "malformed ContentInfo in the PKCS#12 file");
      break;
    }
    int nid = OBJ_cbs2nid(&oid);
    if (nid == NID_pkcs7_data) {
      CBS octets;
      if (!CBS_get_asn1(&content, &octets, CBS_ASN1_OCTETSTRING) ||
          CBS_len(&content) != 0) {
        rc = p12_fail(p->err, P12_ERR_MALFORMED,
                      "malformed data ContentInfo in the PKCS#12 file");
        break;
      }
      rc = parse_safe_contents_ber(p, CBS_data(&octets), CBS_len(&octets));
    } else if (nid == NID_pkcs7_encrypted) {
      rc = parse_encrypted_data(p, &content);
    } else if (nid == NID_pkcs7_enveloped) {
      rc = p12_fail(p->err, P12_ERR_UNSUPPORTED,
                    "PKCS#12 files encrypted to a public key (envelopedData) are not "
                    "supported; export with a password");
    } else {
      char name[128];
      p12_oid_name(&oid, name, sizeof(name));
      rc = p12_fail(p->err, P12_ERR_UNSUPPORTED,
                    "PKCS#12 content of type %s is not supported", name);
    }
  }

out:
  pbe_secret_free(storage, der_len);
  return rc;
}

/* mac_digest maps the MAC's digest algorithm OID to its EVP_MD. */
static int mac_digest(P12_PARSER *p, const CBS *oid, const EVP_MD **out) {
  switch (OBJ_cbs2nid(oid)) {
    case NID_sha1:
      *out = EVP_sha1();
      return P12_OK;
    case NID_sha224:
      *out = EVP_sha224();
      return P12_OK;
    case NID_sha256:
      *out = EVP_sha256();
      return P12_OK;
    case NID_sha384:
      *out = EVP_sha384();
      return P12_OK;
    case NID_sha512:
      *out = EVP_sha512();
      return P12_OK;
    case NID_pbmac1:
      return p12_fail(p->err, P12_ERR_UNSUPPORTED,
                      "PKCS#12 files with a PBMAC1 MAC (RFC 9579) are not supported; "
                      "export with an HMAC-SHA-256 MAC");
    default: {
      char name[128];
      p12_oid_name(oid, name, sizeof(name));
      return p12_fail(p->err, P12_ERR_UNSUPPORTED,
                      "PKCS#12 MAC algorithm %s is not supported", name);
    }
  }
}

/* verify_mac checks the MacData |mac_data| over the AuthenticatedSafe octets |data|
 * with each password encoding in turn (pkcs12.h). */
static int verify_mac(P12_PARSER *p, CBS *mac_data, const CBS *data) {
  CBS mac;
  CBS digest_info;
  CBS alg;
  CBS oid;
  CBS digest;
  CBS salt;
  uint64_t iterations = 1;
  const EVP_MD *md = NULL;
  uint8_t *bmp = NULL;
  size_t bmp_len = 0;
  uint8_t key[EVP_MAX_MD_SIZE];
  uint8_t out[EVP_MAX_MD_SIZE];
  int rc;
  if (!CBS_get_asn1(mac_data, &mac, CBS_ASN1_SEQUENCE) || CBS_len(mac_data) != 0 ||
      !CBS_get_asn1(&mac, &digest_info, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&digest_info, &alg, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&digest_info, &digest, CBS_ASN1_OCTETSTRING) ||
      CBS_len(&digest_info) != 0 || !CBS_get_asn1(&alg, &oid, CBS_ASN1_OBJECT) ||
      !CBS_get_asn1(&mac, &salt, CBS_ASN1_OCTETSTRING)) {
    return p12_fail(p->err, P12_ERR_MALFORMED, "malformed MAC in the PKCS#12 file");
  }
  if (CBS_len(&mac) > 0) {
    /* verify_mac peeks first: a CBS_get_* failing on the tag consumes the element. */
    if (!CBS_peek_asn1_tag(&mac, CBS_ASN1_INTEGER)) {
      return p12_fail(p->err, P12_ERR_MALFORMED, "malformed MAC in the PKCS#12 file");
    }
    if (!CBS_get_asn1_uint64(&mac, &iterations)) {
      return p12_fail(p->err, P12_ERR_LIMIT,
                      "the PKCS#12 MAC's iteration count is negative or over the "
                      "limit of %u",
                      PBE_MAX_ITERATIONS);
    }
  }
  if (CBS_len(&mac) != 0) {
    return p12_fail(p->err, P12_ERR_MALFORMED, "malformed MAC in the PKCS#12 file");
  }
  if ((rc = mac_digest(p, &oid, &md)) != P12_OK) {
    return rc;
  }
  size_t md_len = EVP_MD_size(md);
  if (CBS_len(&digest) != md_len) {
    return p12_fail(p->err, P12_ERR_MALFORMED,
                    "the PKCS#12 MAC has %zu bytes where its digest makes %zu",
                    CBS_len(&digest), md_len);
  }
  if (CBS_len(&salt) > PBE_MAX_SALT_LEN) {
    return p12_fail(p->err, P12_ERR_LIMIT,
                    "the PKCS#12 MAC's salt of %zu bytes is over the limit of %u",
                    CBS_len(&salt), PBE_MAX_SALT_LEN);
  }
  if ((rc = pbe_password_bmp(p->password, p->password_len, &bmp, &bmp_len, p->err)) !=
      P12_OK) {
    return rc;
  }
  const uint8_t *candidates[2] = {bmp, (const uint8_t *)p->password};
  size_t candidate_lens[2] = {bmp_len, p->password_len};
  rc = P12_ERR_WRONG_PASSWORD;
  for (size_t i = 0; i < 2 && rc == P12_ERR_WRONG_PASSWORD; i++) {
    unsigned out_len = 0;
    if ((rc = pbe_budget_spend(&p->budget, iterations, p->err)) != P12_OK ||
        (rc = pbe_pkcs12_kdf(md, candidates[i], candidate_lens[i], CBS_data(&salt),
                             CBS_len(&salt), 3, (uint32_t)iterations, key, md_len,
                             p->err)) != P12_OK) {
      break;
    }
    if (HMAC(md, key, md_len, CBS_data(data), CBS_len(data), out, &out_len) == NULL) {
      rc = p12_fail(p->err, P12_ERR_NO_MEMORY, "HMAC failed");
      break;
    }
    rc = out_len == md_len && CRYPTO_memcmp(out, CBS_data(&digest), md_len) == 0
             ? P12_OK
             : P12_ERR_WRONG_PASSWORD;
  }
  if (rc == P12_ERR_WRONG_PASSWORD) {
    wrong_password(p, "MAC");
  } else if (rc == P12_OK) {
    p->mac_verified = 1;
  }
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(out, sizeof(out));
  pbe_secret_free(bmp, bmp_len);
  return rc;
}

int p12_looks_like_pfx(const uint8_t *in, size_t in_len) {
  CBS cbs;
  CBS elem;
  unsigned tag;
  size_t header;
  int indefinite;
  uint8_t version;
  CBS_init(&cbs, in, in_len);
  /* p12_looks_like_pfx walks headers only: with indefinite lengths the contents
   * follow in |cbs| itself. */
  if (!CBS_get_any_ber_asn1_element(&cbs, &elem, &tag, &header, NULL, &indefinite) ||
      tag != CBS_ASN1_SEQUENCE) {
    return 0;
  }
  CBS body = cbs;
  if (!indefinite) {
    body = elem;
    if (!CBS_skip(&body, header)) {
      return 0;
    }
  }
  if (!CBS_get_any_ber_asn1_element(&body, &elem, &tag, &header, NULL, &indefinite) ||
      tag != CBS_ASN1_INTEGER || indefinite || !CBS_skip(&elem, header) ||
      !CBS_get_u8(&elem, &version) || CBS_len(&elem) != 0 || version != 3) {
    return 0;
  }
  if (!CBS_get_any_ber_asn1_element(&body, &elem, &tag, &header, NULL, &indefinite) ||
      tag != CBS_ASN1_SEQUENCE) {
    return 0;
  }
  CBS info = body;
  if (!indefinite) {
    info = elem;
    if (!CBS_skip(&info, header)) {
      return 0;
    }
  }
  return CBS_peek_asn1_tag(&info, CBS_ASN1_OBJECT);
}

int p12_parse(const uint8_t *in, size_t in_len, const char *password, size_t password_len,
              P12_CONTENTS **out, STATUS *err) {
  *out = NULL;
  int rc;
  CBS cbs;
  CBS der;
  CBS pfx;
  CBS auth_safe;
  CBS oid;
  CBS content;
  CBS data;
  uint64_t version;
  uint8_t *storage = NULL;
  size_t der_len = 0;
  P12_PARSER p;
  memset(&p, 0, sizeof(p));
  p.password = password;
  p.password_len = password_len;
  p.err = err;
  pbe_budget_init(&p.budget);
  if (in_len > P12_MAX_INPUT_LEN) {
    return p12_fail(err, P12_ERR_LIMIT,
                    "the PKCS#12 file has %zu bytes; at most %u are read", in_len,
                    P12_MAX_INPUT_LEN);
  }
  if (password_len > PBE_MAX_PASSWORD_LEN) {
    return p12_fail(err, P12_ERR_LIMIT, "the password is longer than %u bytes",
                    PBE_MAX_PASSWORD_LEN);
  }
  p.contents = p12_contents_new();
  if (p.contents == NULL) {
    return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
  }
  CBS_init(&cbs, in, in_len);
  if (pbe_ber_to_der(&cbs, &der, &storage) == P12_OK) {
    der_len = CBS_len(&der);
  }
  if (der_len == 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED,
                  "malformed or truncated PKCS#12 file (bad ASN.1)");
    goto err;
  }
  if (CBS_len(&cbs) != 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED,
                  "%zu bytes of trailing data after the PKCS#12 file", CBS_len(&cbs));
    goto err;
  }
  if (!CBS_get_asn1(&der, &pfx, CBS_ASN1_SEQUENCE) || CBS_len(&der) != 0 ||
      !CBS_get_asn1_uint64(&pfx, &version) ||
      !CBS_get_asn1(&pfx, &auth_safe, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&auth_safe, &oid, CBS_ASN1_OBJECT)) {
    rc = p12_fail(err, P12_ERR_MALFORMED, "not a PKCS#12 file");
    goto err;
  }
  if (version != 3) {
    /* Only version 3 was ever defined; other structures of this shape (a PKCS#8 key:
     * version 0, then an AlgorithmIdentifier) are simply not PKCS#12. */
    rc = p12_fail(err, P12_ERR_MALFORMED,
                  "not a PKCS#12 file (version %llu; PKCS#12 files are version 3)",
                  (unsigned long long)version);
    goto err;
  }
  if (OBJ_cbs2nid(&oid) == NID_pkcs7_signed) {
    rc =
        p12_fail(err, P12_ERR_UNSUPPORTED,
                 "PKCS#12 files protected by a signature (public-key integrity mode) are "
                 "not supported; export with a password");
    goto err;
  }
  if (OBJ_cbs2nid(&oid) != NID_pkcs7_data ||
      !CBS_get_asn1(&auth_safe, &content, kContext0) || CBS_len(&auth_safe) != 0 ||
      !CBS_get_asn1(&content, &data, CBS_ASN1_OCTETSTRING) || CBS_len(&content) != 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED, "malformed authSafe in the PKCS#12 file");
    goto err;
  }
  /* p12_parse verifies the MAC over the octets as they are (the BER
   * AuthenticatedSafe, before any conversion), as RFC 7292 section 5.1 says. */
  if (CBS_len(&pfx) > 0 && (rc = verify_mac(&p, &pfx, &data)) != P12_OK) {
    goto err;
  }
  if ((rc = parse_authenticated_safe(&p, CBS_data(&data), CBS_len(&data))) != P12_OK) {
    goto err;
  }
  pbe_secret_free(storage, der_len);
  *out = p.contents;
  return P12_OK;

err:
  pbe_secret_free(storage, der_len);
  p12_contents_free(p.contents);
  return rc;
}
