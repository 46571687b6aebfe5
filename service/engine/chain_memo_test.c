/* chain_memo_test: what is remembered is answered only for the same certificates in the
 * same roles and order, the same chain limit, and times on the same side of every
 * notBefore and notAfter (with a second of margin); inputs whose validity cannot be
 * read are never remembered. Certificates are made here by BoringSSL with chosen
 * validity periods. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bytestring.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/x509.h>

#include "service/engine/chain_memo.h"
#include "tests/ctest/check.h"

/* T0 is an arbitrary time (2026-01-01): every validity below is relative to it. */
#define T0 1767225600
#define DAY 86400

typedef struct {
  uint8_t *der;
  size_t len;
} CERT;

/* make_cert returns a self-signed DER certificate named |cn|, valid from |not_before|
 * to |not_after|. */
static CERT make_cert(const char *cn, int64_t not_before, int64_t not_after) {
  EVP_PKEY *pkey = EVP_PKEY_new();
  EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  CHECK(ec != NULL && EC_KEY_generate_key(ec) && EVP_PKEY_assign_EC_KEY(pkey, ec));
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  CHECK(x != NULL && name != NULL);
  CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const uint8_t *)cn, -1, -1, 0));
  CHECK(X509_set_version(x, X509_VERSION_3) && X509_set_subject_name(x, name) &&
        X509_set_issuer_name(x, name) && X509_set_pubkey(x, pkey));
  CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1));
  CHECK(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) != NULL);
  CHECK(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) != NULL);
  CHECK(X509_sign(x, pkey, EVP_sha256()) > 0);
  CERT c = {NULL, 0};
  int len = i2d_X509(x, &c.der);
  CHECK(len > 0);
  c.len = (size_t)len;
  X509_NAME_free(name);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return c;
}

/* trusted and remember are chain_memo_trusted and chain_memo_remember for the leaf
 * |c| (its CHAIN_LEAF made anew each time, as a caller does per signer). */
static int trusted(const CHAIN_INPUTS *in, const CERT *c, int64_t when) {
  CHAIN_LEAF leaf;
  chain_leaf_init(&leaf, in, c->der, c->len);
  return chain_memo_trusted(in, &leaf, when);
}

static void remember(const CHAIN_INPUTS *in, const CERT *c, int64_t when) {
  CHAIN_LEAF leaf;
  chain_leaf_init(&leaf, in, c->der, c->len);
  chain_memo_remember(in, &leaf, when);
}

/* inputs_of starts |in| with limit |max_chain|, |anchor| then |carried| (either may be
 * NULL). */
static void inputs_of(CHAIN_INPUTS *in, unsigned max_chain, const CERT *anchor,
                      const CERT *carried) {
  chain_inputs_init(in, max_chain);
  if (anchor != NULL) {
    chain_inputs_add(in, CHAIN_ROLE_ANCHOR, anchor->der, anchor->len);
  }
  if (carried != NULL) {
    chain_inputs_add(in, CHAIN_ROLE_CARRIED, carried->der, carried->len);
  }
}

int main(void) {
  /* The root is valid for years around T0; the leaf from T0 - 10 days to T0 + 10 days. */
  CERT root = make_cert("root", T0 - 1000 * DAY, T0 + 1000 * DAY);
  CERT inter = make_cert("inter", T0 - 500 * DAY, T0 + 500 * DAY);
  CERT leaf = make_cert("leaf", T0 - 10 * DAY, T0 + 10 * DAY);
  CERT other = make_cert("other", T0 - 10 * DAY, T0 + 10 * DAY);
  CERT lasting = make_cert("lasting", T0 - 1000 * DAY, T0 + 1000 * DAY);
  CHAIN_INPUTS in, alt;

  /* Remembered, then answered at other times between the same bounds. */
  inputs_of(&in, 5, &root, &inter);
  CHECK(!trusted(&in, &leaf, T0));
  remember(&in, &leaf, T0);
  CHECK(trusted(&in, &leaf, T0));
  CHECK(trusted(&in, &leaf, T0 - 9 * DAY));
  CHECK(trusted(&in, &leaf, T0 + 10 * DAY - 2));
  /* Not across a bound, nor within a second of one. */
  CHECK(!trusted(&in, &leaf, T0 + 10 * DAY - 1));
  CHECK(!trusted(&in, &leaf, T0 + 10 * DAY));
  CHECK(!trusted(&in, &leaf, T0 + 11 * DAY));
  CHECK(!trusted(&in, &leaf, T0 - 10 * DAY - 5));
  /* Nothing is remembered within a second of a bound. */
  remember(&in, &leaf, T0 + 10 * DAY + 1);
  CHECK(!trusted(&in, &leaf, T0 + 10 * DAY + 100));
  /* A bound of the other inputs counts as much as the leaf's: a leaf valid for as long
   * as the root is answered until the intermediate's notAfter, not after it. */
  CHECK(!trusted(&in, &lasting, T0));
  remember(&in, &lasting, T0);
  CHECK(trusted(&in, &lasting, T0 + 499 * DAY));
  CHECK(!trusted(&in, &lasting, T0 + 501 * DAY));
  /* Another leaf with the same inputs is not answered. */
  CHECK(!trusted(&in, &other, T0));

  /* Other inputs: another limit, roles swapped, order changed, one certificate fewer. */
  inputs_of(&alt, 4, &root, &inter);
  CHECK(!trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);
  inputs_of(&alt, 5, &inter, &root);
  CHECK(!trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);
  chain_inputs_init(&alt, 5);
  chain_inputs_add(&alt, CHAIN_ROLE_ANCHOR, inter.der, inter.len);
  chain_inputs_add(&alt, CHAIN_ROLE_ANCHOR, root.der, root.len);
  CHECK(!trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);
  inputs_of(&alt, 5, &root, NULL);
  CHECK(!trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);
  /* The same inputs, built again, are answered. */
  inputs_of(&alt, 5, &root, &inter);
  CHECK(trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);

  /* Inputs with a certificate whose validity cannot be read are never remembered. */
  uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  CERT bad = {garbage, sizeof(garbage)};
  inputs_of(&alt, 5, &root, NULL);
  chain_inputs_add(&alt, CHAIN_ROLE_CARRIED, garbage, sizeof(garbage));
  remember(&alt, &leaf, T0);
  CHECK(!trusted(&alt, &leaf, T0));
  chain_inputs_cleanup(&alt);
  remember(&in, &bad, T0);
  CHECK(!trusted(&in, &bad, T0));

  /* Many other answers later, the table still answers only what it holds (a slot keeps
   * the latest answer that hashes to it). */
  for (int i = 0; i < 3 * CHAIN_MEMO_SLOTS; i++) {
    chain_inputs_init(&alt, (unsigned)(100 + i));
    chain_inputs_add(&alt, CHAIN_ROLE_ANCHOR, root.der, root.len);
    remember(&alt, &leaf, T0);
    CHECK(trusted(&alt, &leaf, T0));
    chain_inputs_cleanup(&alt);
  }
  CHECK(!trusted(&in, &other, T0));
  remember(&in, &leaf, T0);
  CHECK(trusted(&in, &leaf, T0));

  chain_inputs_cleanup(&in);
  CERT *all[] = {&root, &inter, &leaf, &other, &lasting};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    OPENSSL_free(all[i]->der);
  }
  printf("chain_memo_test: all passed\n");
  return 0;
}
