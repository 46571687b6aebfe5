/* pbe.c: see pbe.h. */
#include "service/pkcs12/pbe.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/obj.h>

#include "service/pkcs12/internal.h"

/* CBS_asn1_ber_to_der is exported by the installed BoringSSL but not declared in its
 * headers (DESIGN.md section 8). */
int CBS_asn1_ber_to_der(CBS *in, CBS *out, uint8_t **out_storage);

/* kScryptOid is id-scrypt, 1.3.6.1.4.1.11591.4.11 (RFC 7914), which BoringSSL's
 * object table lacks. */
static const uint8_t kScryptOid[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                     0xda, 0x47, 0x04, 0x0b};

int p12_fail(STATUS *err, int code, const char *fmt, ...) {
  char msg[sizeof(err->message)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  status_set(
      err,
      code == P12_ERR_NO_MEMORY ? STATUS_RESOURCE_EXHAUSTED : STATUS_INVALID_ARGUMENT,
      "%s", msg);
  return code;
}

void p12_oid_name(const CBS *oid, char *buf, size_t buf_len) {
  int nid = OBJ_cbs2nid(oid);
  const char *name = nid != NID_undef ? OBJ_nid2ln(nid) : NULL;
  if (name != NULL) {
    snprintf(buf, buf_len, "%s", name);
    return;
  }
  char *text = CBS_asn1_oid_to_text(oid);
  snprintf(buf, buf_len, "%s", text != NULL ? text : "(invalid OID)");
  OPENSSL_free(text);
}

void pbe_secret_free(uint8_t *p, size_t len) {
  if (p == NULL) {
    return;
  }
  OPENSSL_cleanse(p, len);
  OPENSSL_free(p);
}

int pbe_ber_to_der(CBS *in, CBS *out, uint8_t **out_storage) {
  *out_storage = NULL;
  CBS_init(out, NULL, 0);
  if (!CBS_asn1_ber_to_der(in, out, out_storage)) {
    return P12_ERR_MALFORMED;
  }
  return P12_OK;
}

void pbe_budget_init(PBE_BUDGET *budget) {
  budget->iterations_left = PBE_MAX_TOTAL_ITERATIONS;
}

int pbe_budget_spend(PBE_BUDGET *budget, uint64_t iterations, STATUS *err) {
  if (iterations == 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "an iteration count of zero");
  }
  if (iterations > PBE_MAX_ITERATIONS) {
    return p12_fail(err, P12_ERR_LIMIT,
                    "an iteration count of %llu is over the limit of %u",
                    (unsigned long long)iterations, PBE_MAX_ITERATIONS);
  }
  if (iterations > budget->iterations_left) {
    return p12_fail(err, P12_ERR_LIMIT,
                    "the file asks for more than %u key-derivation iterations in all",
                    PBE_MAX_TOTAL_ITERATIONS);
  }
  budget->iterations_left -= iterations;
  return P12_OK;
}

/* utf8_next decodes one UTF-8 character from |in| (shortest form, no surrogates). */
static int utf8_next(CBS *in, uint32_t *out) {
  uint8_t c;
  if (!CBS_get_u8(in, &c)) {
    return 0;
  }
  if (c < 0x80) {
    *out = c;
    return 1;
  }
  size_t more;
  uint32_t v;
  uint32_t min;
  if ((c & 0xe0) == 0xc0) {
    more = 1;
    v = c & 0x1f;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    more = 2;
    v = c & 0x0f;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    more = 3;
    v = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  for (size_t i = 0; i < more; i++) {
    uint8_t b;
    if (!CBS_get_u8(in, &b) || (b & 0xc0) != 0x80) {
      return 0;
    }
    v = v << 6 | (b & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
    return 0;
  }
  *out = v;
  return 1;
}

/* add_utf16 appends |password| as UTF-16BE to |cbb|; 0 if it is not valid UTF-8. */
static int add_utf16(CBB *cbb, const char *password, size_t len) {
  CBS in;
  CBS_init(&in, (const uint8_t *)password, len);
  while (CBS_len(&in) > 0) {
    uint32_t c;
    if (!utf8_next(&in, &c)) {
      return 0;
    }
    if (c >= 0x10000) {
      c -= 0x10000;
      if (!CBB_add_u16(cbb, (uint16_t)(0xd800 | (c >> 10))) ||
          !CBB_add_u16(cbb, (uint16_t)(0xdc00 | (c & 0x3ff)))) {
        return 0;
      }
    } else if (!CBB_add_u16(cbb, (uint16_t)c)) {
      return 0;
    }
  }
  return 1;
}

int pbe_password_bmp(const char *password, size_t len, uint8_t **out, size_t *out_len,
                     STATUS *err) {
  *out = NULL;
  *out_len = 0;
  if (len > PBE_MAX_PASSWORD_LEN) {
    return p12_fail(err, P12_ERR_LIMIT, "the password is longer than %u bytes",
                    PBE_MAX_PASSWORD_LEN);
  }
  CBB cbb;
  if (!CBB_init(&cbb, 2 * len + 2)) {
    return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
  }
  if (!add_utf16(&cbb, password, len)) {
    /* pbe_password_bmp takes invalid UTF-8 as Latin-1, byte by byte, as OpenSSL's
     * PKCS12_key_gen_utf8 falls back to its ASCII conversion. */
    CBB_cleanup(&cbb);
    if (!CBB_init(&cbb, 2 * len + 2)) {
      return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
      if (!CBB_add_u16(&cbb, (uint8_t)password[i])) {
        CBB_cleanup(&cbb);
        return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
      }
    }
  }
  if (!CBB_add_u16(&cbb, 0) || !CBB_finish(&cbb, out, out_len)) {
    CBB_cleanup(&cbb);
    return p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
  }
  return P12_OK;
}

int pbe_pkcs12_kdf(const EVP_MD *md, const uint8_t *pass, size_t pass_len,
                   const uint8_t *salt, size_t salt_len, uint8_t id, uint32_t iterations,
                   uint8_t *out, size_t out_len, STATUS *err) {
  int ret = P12_ERR_NO_MEMORY;
  size_t u = EVP_MD_size(md);
  size_t v = EVP_MD_block_size(md);
  uint8_t d[EVP_MAX_MD_BLOCK_SIZE];
  uint8_t a[EVP_MAX_MD_SIZE];
  uint8_t b[EVP_MAX_MD_BLOCK_SIZE];
  uint8_t *i_buf = NULL;
  size_t i_len = 0;
  EVP_MD_CTX ctx;
  EVP_MD_CTX_init(&ctx);
  if (iterations == 0 || u == 0 || u > sizeof(a) || v == 0 || v > sizeof(d) ||
      salt_len > PBE_MAX_SALT_LEN || pass_len > 2 * PBE_MAX_PASSWORD_LEN + 2) {
    ret = p12_fail(err, P12_ERR_MALFORMED, "invalid PKCS#12 key derivation parameters");
    goto out;
  }
  /* pbe_pkcs12_kdf builds I = S || P (RFC 7292 B.2 steps 1 to 4): salt and password
   * each repeated to a whole number of v-byte blocks. */
  size_t s_len = v * ((salt_len + v - 1) / v);
  size_t p_len = v * ((pass_len + v - 1) / v);
  i_len = s_len + p_len;
  i_buf = OPENSSL_malloc(i_len > 0 ? i_len : 1);
  if (i_buf == NULL) {
    ret = p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
    goto out;
  }
  for (size_t j = 0; j < s_len; j++) {
    i_buf[j] = salt[j % salt_len];
  }
  for (size_t j = 0; j < p_len; j++) {
    i_buf[s_len + j] = pass[j % pass_len];
  }
  memset(d, id, v);
  for (;;) {
    unsigned a_len = 0;
    if (!EVP_DigestInit_ex(&ctx, md, NULL) || !EVP_DigestUpdate(&ctx, d, v) ||
        !EVP_DigestUpdate(&ctx, i_buf, i_len) || !EVP_DigestFinal_ex(&ctx, a, &a_len)) {
      ret = p12_fail(err, P12_ERR_NO_MEMORY, "digest failed");
      goto out;
    }
    for (uint32_t it = 1; it < iterations; it++) {
      if (!EVP_DigestInit_ex(&ctx, md, NULL) || !EVP_DigestUpdate(&ctx, a, u) ||
          !EVP_DigestFinal_ex(&ctx, a, &a_len)) {
        ret = p12_fail(err, P12_ERR_NO_MEMORY, "digest failed");
        goto out;
      }
    }
    size_t todo = out_len < u ? out_len : u;
    memcpy(out, a, todo);
    out += todo;
    out_len -= todo;
    if (out_len == 0) {
      break;
    }
    /* pbe_pkcs12_kdf sets each block I_j to (I_j + B + 1) mod 2^(8v), where B is A
     * repeated to v bytes (step 6). */
    for (size_t j = 0; j < v; j++) {
      b[j] = a[j % u];
    }
    for (size_t k = 0; k < i_len; k += v) {
      unsigned carry = 1;
      for (size_t j = v; j > 0; j--) {
        carry += (unsigned)i_buf[k + j - 1] + b[j - 1];
        i_buf[k + j - 1] = (uint8_t)carry;
        carry >>= 8;
      }
    }
  }
  ret = P12_OK;

out:
  EVP_MD_CTX_cleanup(&ctx);
  OPENSSL_cleanse(a, sizeof(a));
  OPENSSL_cleanse(b, sizeof(b));
  pbe_secret_free(i_buf, i_len);
  return ret;
}

/* CIPHER_SPEC is a cipher as a PBE scheme uses it. */
typedef struct cipher_spec_st {
  const EVP_CIPHER *(*cipher)(void);
  size_t key_len;
  /* rc2_bits is RC2's effective key size, or 0 for other ciphers. */
  unsigned rc2_bits;
} CIPHER_SPEC;

/* PASSWORD is one encoding of the password. */
typedef struct password_st {
  const uint8_t *bytes;
  size_t len;
} PASSWORD;

/* PASSWORDS lists the encodings to try, in order. */
typedef struct passwords_st {
  PASSWORD pw[2];
  size_t num;
} PASSWORDS;

/* check_plaintext accepts a plaintext that is exactly one BER SEQUENCE. It takes
 * |*plain| (|plain_len| bytes, allocated with room to spare) and sets |*out| and
 * |*out_len| to the DER form, freeing what it does not return. Returns 1, or 0
 * (plaintext kept by the caller) when it does not parse. */
static int check_plaintext(uint8_t **plain, size_t plain_len, size_t plain_alloc,
                           uint8_t **out, size_t *out_len) {
  CBS in;
  CBS der;
  uint8_t *storage = NULL;
  CBS_init(&in, *plain, plain_len);
  if (pbe_ber_to_der(&in, &der, &storage) != P12_OK) {
    return 0;
  }
  if (CBS_len(&in) != 0 || !CBS_peek_asn1_tag(&der, CBS_ASN1_SEQUENCE)) {
    pbe_secret_free(storage, CBS_len(&der));
    return 0;
  }
  if (storage != NULL) {
    *out = storage;
    *out_len = CBS_len(&der);
    pbe_secret_free(*plain, plain_alloc);
  } else {
    *out = *plain;
    *out_len = plain_len;
  }
  *plain = NULL;
  return 1;
}

/* run_cipher decrypts |in| with |spec|, |key| and |iv| (NULL for a stream cipher)
 * and checks the result with check_plaintext. Returns P12_OK, P12_ERR_WRONG_PASSWORD
 * (bad padding, or a plaintext that does not parse), or another P12_ERR_*. */
static int run_cipher(const CIPHER_SPEC *spec, const uint8_t *key, const uint8_t *iv,
                      const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                      STATUS *err) {
  int ret = P12_ERR_WRONG_PASSWORD;
  const EVP_CIPHER *cipher = spec->cipher();
  size_t alloc = in_len + EVP_MAX_BLOCK_LENGTH;
  uint8_t *plain = OPENSSL_malloc(alloc);
  EVP_CIPHER_CTX ctx;
  EVP_CIPHER_CTX_init(&ctx);
  if (plain == NULL) {
    ret = p12_fail(err, P12_ERR_NO_MEMORY, "out of memory");
    goto out;
  }
  if (!EVP_DecryptInit_ex(&ctx, cipher, NULL, NULL, NULL) ||
      !EVP_CIPHER_CTX_set_key_length(&ctx, (unsigned)spec->key_len) ||
      (spec->rc2_bits != 0 && !EVP_CIPHER_CTX_ctrl(&ctx, EVP_CTRL_SET_RC2_KEY_BITS,
                                                   (int)spec->rc2_bits, NULL)) ||
      !EVP_DecryptInit_ex(&ctx, NULL, NULL, key, iv)) {
    ret = p12_fail(err, P12_ERR_NO_MEMORY, "cannot set up the cipher");
    goto out;
  }
  int n1 = 0;
  int n2 = 0;
  if (!EVP_DecryptUpdate(&ctx, plain, &n1, in, (int)in_len) ||
      !EVP_DecryptFinal_ex(&ctx, plain + n1, &n2)) {
    /* run_cipher reads a bad padding as the sign of a wrong key. */
    goto out;
  }
  if (!check_plaintext(&plain, (size_t)n1 + (size_t)n2, alloc, out, out_len)) {
    goto out;
  }
  ret = P12_OK;

out:
  EVP_CIPHER_CTX_cleanup(&ctx);
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  pbe_secret_free(plain, alloc);
  return ret;
}

/* check_ciphertext_len refuses a ciphertext that no key could decrypt. */
static int check_ciphertext_len(const CIPHER_SPEC *spec, size_t in_len, STATUS *err) {
  size_t block = EVP_CIPHER_block_size(spec->cipher());
  if (in_len == 0 || in_len > (size_t)1 << 30 || (block > 1 && in_len % block != 0)) {
    return p12_fail(err, P12_ERR_MALFORMED,
                    "the encrypted data has %zu bytes, not a whole number of %zu-byte "
                    "blocks",
                    in_len, block);
  }
  return P12_OK;
}

/* get_salt reads a salt OCTET STRING within the limits. */
static int get_salt(CBS *params, CBS *salt, STATUS *err) {
  if (!CBS_get_asn1(params, salt, CBS_ASN1_OCTETSTRING)) {
    return p12_fail(err, P12_ERR_MALFORMED,
                    "malformed salt in the encryption parameters");
  }
  if (CBS_len(salt) > PBE_MAX_SALT_LEN) {
    return p12_fail(err, P12_ERR_LIMIT, "a salt of %zu bytes is over the limit of %u",
                    CBS_len(salt), PBE_MAX_SALT_LEN);
  }
  return P12_OK;
}

/* get_iterations reads an INTEGER iteration count; range checks are the budget's. */
static int get_iterations(CBS *params, uint64_t *out, STATUS *err) {
  if (!CBS_peek_asn1_tag(params, CBS_ASN1_INTEGER)) {
    return p12_fail(err, P12_ERR_MALFORMED,
                    "malformed iteration count in the encryption parameters");
  }
  if (!CBS_get_asn1_uint64(params, out)) {
    /* get_iterations: a negative or over-long INTEGER is not a count we would run. */
    return p12_fail(err, P12_ERR_LIMIT,
                    "an iteration count that is negative or over the limit of %u",
                    PBE_MAX_ITERATIONS);
  }
  return P12_OK;
}

/* PBES2 is a parsed PBES2-params. */
typedef struct pbes2_st {
  CIPHER_SPEC cipher;
  uint8_t iv[EVP_MAX_IV_LENGTH];
  int scrypt;
  CBS salt;
  uint64_t iterations;
  const EVP_MD *prf;
  uint64_t n;
  uint64_t r;
  uint64_t p;
} PBES2;

/* parse_pbes2_cipher reads PBES2's encryptionScheme AlgorithmIdentifier. */
static int parse_pbes2_cipher(CBS *alg, PBES2 *out, STATUS *err) {
  CBS oid;
  CBS iv;
  if (!CBS_get_asn1(alg, &oid, CBS_ASN1_OBJECT)) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PBES2 encryption scheme");
  }
  size_t iv_len = 16;
  switch (OBJ_cbs2nid(&oid)) {
    case NID_aes_128_cbc:
      out->cipher = (CIPHER_SPEC){EVP_aes_128_cbc, 16, 0};
      break;
    case NID_aes_192_cbc:
      out->cipher = (CIPHER_SPEC){EVP_aes_192_cbc, 24, 0};
      break;
    case NID_aes_256_cbc:
      out->cipher = (CIPHER_SPEC){EVP_aes_256_cbc, 32, 0};
      break;
    case NID_des_ede3_cbc:
      out->cipher = (CIPHER_SPEC){EVP_des_ede3_cbc, 24, 0};
      iv_len = 8;
      break;
    case NID_des_cbc:
      out->cipher = (CIPHER_SPEC){EVP_des_cbc, 8, 0};
      iv_len = 8;
      break;
    default: {
      char name[128];
      p12_oid_name(&oid, name, sizeof(name));
      return p12_fail(err, P12_ERR_UNSUPPORTED,
                      "PBES2 encryption with %s is not supported (use AES-CBC)", name);
    }
  }
  if (!CBS_get_asn1(alg, &iv, CBS_ASN1_OCTETSTRING) || CBS_len(alg) != 0 ||
      CBS_len(&iv) != iv_len) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PBES2 cipher IV");
  }
  memcpy(out->iv, CBS_data(&iv), iv_len);
  return P12_OK;
}

/* parse_pbkdf2 reads PBKDF2-params (RFC 8018 appendix A.2). */
static int parse_pbkdf2(CBS *kdf, PBES2 *out, STATUS *err) {
  CBS params;
  int rc;
  if (!CBS_get_asn1(kdf, &params, CBS_ASN1_SEQUENCE) || CBS_len(kdf) != 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PBKDF2 parameters");
  }
  if (CBS_peek_asn1_tag(&params, CBS_ASN1_SEQUENCE)) {
    return p12_fail(err, P12_ERR_UNSUPPORTED,
                    "PBKDF2 with a salt from another source is not supported");
  }
  if ((rc = get_salt(&params, &out->salt, err)) != P12_OK ||
      (rc = get_iterations(&params, &out->iterations, err)) != P12_OK) {
    return rc;
  }
  if (CBS_peek_asn1_tag(&params, CBS_ASN1_INTEGER)) {
    uint64_t key_len;
    if (!CBS_get_asn1_uint64(&params, &key_len) || key_len != out->cipher.key_len) {
      return p12_fail(err, P12_ERR_MALFORMED,
                      "the PBKDF2 key length does not match the cipher's");
    }
  }
  out->prf = EVP_sha1();
  if (CBS_len(&params) > 0) {
    CBS prf;
    CBS oid;
    if (!CBS_get_asn1(&params, &prf, CBS_ASN1_SEQUENCE) || CBS_len(&params) != 0 ||
        !CBS_get_asn1(&prf, &oid, CBS_ASN1_OBJECT)) {
      return p12_fail(err, P12_ERR_MALFORMED, "malformed PBKDF2 parameters");
    }
    /* parse_pbkdf2 accepts the PRF's parameters as NULL or absent (both occur). */
    if (CBS_len(&prf) > 0) {
      CBS null;
      if (!CBS_get_asn1(&prf, &null, CBS_ASN1_NULL) || CBS_len(&null) != 0 ||
          CBS_len(&prf) != 0) {
        return p12_fail(err, P12_ERR_MALFORMED, "malformed PBKDF2 PRF parameters");
      }
    }
    switch (OBJ_cbs2nid(&oid)) {
      case NID_hmacWithSHA1:
        out->prf = EVP_sha1();
        break;
      case NID_hmacWithSHA224:
        out->prf = EVP_sha224();
        break;
      case NID_hmacWithSHA256:
        out->prf = EVP_sha256();
        break;
      case NID_hmacWithSHA384:
        out->prf = EVP_sha384();
        break;
      case NID_hmacWithSHA512:
        out->prf = EVP_sha512();
        break;
      default: {
        char name[128];
        p12_oid_name(&oid, name, sizeof(name));
        return p12_fail(err, P12_ERR_UNSUPPORTED, "PBKDF2 with PRF %s is not supported",
                        name);
      }
    }
  }
  return P12_OK;
}

/* parse_scrypt reads scrypt-params (RFC 7914 section 7.1) within our limits. */
static int parse_scrypt(CBS *kdf, PBES2 *out, STATUS *err) {
  CBS params;
  int rc;
  out->scrypt = 1;
  if (!CBS_get_asn1(kdf, &params, CBS_ASN1_SEQUENCE) || CBS_len(kdf) != 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed scrypt parameters");
  }
  if ((rc = get_salt(&params, &out->salt, err)) != P12_OK) {
    return rc;
  }
  if (!CBS_get_asn1_uint64(&params, &out->n) || !CBS_get_asn1_uint64(&params, &out->r) ||
      !CBS_get_asn1_uint64(&params, &out->p)) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed scrypt parameters");
  }
  if (CBS_len(&params) > 0) {
    uint64_t key_len;
    if (!CBS_get_asn1_uint64(&params, &key_len) || CBS_len(&params) != 0 ||
        key_len != out->cipher.key_len) {
      return p12_fail(err, P12_ERR_MALFORMED, "malformed scrypt parameters");
    }
  }
  if (out->n < 2 || (out->n & (out->n - 1)) != 0 || out->r == 0 || out->p == 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "invalid scrypt parameters");
  }
  if (out->n > (1u << 20) || out->r > 32 || out->p > 32 ||
      128 * out->r * (out->n + out->p + 1) > PBE_MAX_SCRYPT_MEMORY) {
    return p12_fail(err, P12_ERR_LIMIT,
                    "scrypt parameters N=%llu r=%llu p=%llu are over the limit of %u MiB",
                    (unsigned long long)out->n, (unsigned long long)out->r,
                    (unsigned long long)out->p, PBE_MAX_SCRYPT_MEMORY >> 20);
  }
  /* parse_scrypt counts N * r * p / 8 against the budget: OpenSSL's default costs
   * about as much as 16,384 PBKDF2 iterations. */
  out->iterations = out->n * out->r * out->p / 8;
  if (out->iterations == 0) {
    out->iterations = 1;
  }
  return P12_OK;
}

/* parse_pbes2 reads PBES2-params (RFC 8018 appendix A.4). */
static int parse_pbes2(CBS *params, PBES2 *out, STATUS *err) {
  CBS seq;
  CBS kdf;
  CBS enc;
  CBS kdf_oid;
  int rc;
  if (!CBS_get_asn1(params, &seq, CBS_ASN1_SEQUENCE) || CBS_len(params) != 0 ||
      !CBS_get_asn1(&seq, &kdf, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&seq, &enc, CBS_ASN1_SEQUENCE) || CBS_len(&seq) != 0 ||
      !CBS_get_asn1(&kdf, &kdf_oid, CBS_ASN1_OBJECT)) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PBES2 parameters");
  }
  if ((rc = parse_pbes2_cipher(&enc, out, err)) != P12_OK) {
    return rc;
  }
  if (OBJ_cbs2nid(&kdf_oid) == NID_id_pbkdf2) {
    return parse_pbkdf2(&kdf, out, err);
  }
  if (CBS_mem_equal(&kdf_oid, kScryptOid, sizeof(kScryptOid))) {
    return parse_scrypt(&kdf, out, err);
  }
  char name[128];
  p12_oid_name(&kdf_oid, name, sizeof(name));
  return p12_fail(err, P12_ERR_UNSUPPORTED,
                  "PBES2 key derivation %s is not supported (use PBKDF2)", name);
}

/* decrypt_pbes2 tries the password as UTF-8 (what RFC 8018 and OpenSSL use), then as
 * BMPString (what NSS has used). */
static int decrypt_pbes2(CBS *params, const PASSWORDS *pws, const uint8_t *in,
                         size_t in_len, PBE_BUDGET *budget, uint8_t **out,
                         size_t *out_len, STATUS *err) {
  PBES2 pbes2;
  memset(&pbes2, 0, sizeof(pbes2));
  uint8_t key[EVP_MAX_KEY_LENGTH];
  int rc = parse_pbes2(params, &pbes2, err);
  if (rc != P12_OK || (rc = check_ciphertext_len(&pbes2.cipher, in_len, err)) != P12_OK) {
    return rc;
  }
  rc = P12_ERR_WRONG_PASSWORD;
  for (size_t i = 0; i < pws->num && rc == P12_ERR_WRONG_PASSWORD; i++) {
    const PASSWORD *pw = &pws->pw[i];
    if ((rc = pbe_budget_spend(budget, pbes2.iterations, err)) != P12_OK) {
      break;
    }
    int ok;
    if (pbes2.scrypt) {
      ok = EVP_PBE_scrypt((const char *)pw->bytes, pw->len, CBS_data(&pbes2.salt),
                          CBS_len(&pbes2.salt), pbes2.n, pbes2.r, pbes2.p,
                          2 * (size_t)PBE_MAX_SCRYPT_MEMORY, key, pbes2.cipher.key_len);
    } else {
      ok = PKCS5_PBKDF2_HMAC((const char *)pw->bytes, pw->len, CBS_data(&pbes2.salt),
                             CBS_len(&pbes2.salt), (unsigned)pbes2.iterations, pbes2.prf,
                             pbes2.cipher.key_len, key);
    }
    if (!ok) {
      rc = p12_fail(err, P12_ERR_NO_MEMORY, "PBES2 key derivation failed");
      break;
    }
    rc = run_cipher(&pbes2.cipher, key, pbes2.iv, in, in_len, out, out_len, err);
  }
  OPENSSL_cleanse(key, sizeof(key));
  return rc;
}

/* decrypt_pkcs12_pbe handles the PKCS#12 PBEs (RFC 7292 appendix C): key (id 1) and IV
 * (id 2) from the PKCS#12 KDF with SHA-1; the password as BMPString first. */
static int decrypt_pkcs12_pbe(const CIPHER_SPEC *spec, CBS *params, const PASSWORDS *pws,
                              const uint8_t *in, size_t in_len, PBE_BUDGET *budget,
                              uint8_t **out, size_t *out_len, STATUS *err) {
  CBS seq;
  CBS salt;
  uint64_t iterations;
  uint8_t key[EVP_MAX_KEY_LENGTH];
  uint8_t iv[EVP_MAX_IV_LENGTH];
  int rc;
  if (!CBS_get_asn1(params, &seq, CBS_ASN1_SEQUENCE) || CBS_len(params) != 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PKCS#12 PBE parameters");
  }
  if ((rc = get_salt(&seq, &salt, err)) != P12_OK ||
      (rc = get_iterations(&seq, &iterations, err)) != P12_OK) {
    return rc;
  }
  if (CBS_len(&seq) != 0) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed PKCS#12 PBE parameters");
  }
  if ((rc = check_ciphertext_len(spec, in_len, err)) != P12_OK) {
    return rc;
  }
  size_t iv_len = EVP_CIPHER_iv_length(spec->cipher());
  rc = P12_ERR_WRONG_PASSWORD;
  for (size_t i = 0; i < pws->num && rc == P12_ERR_WRONG_PASSWORD; i++) {
    const PASSWORD *pw = &pws->pw[i];
    /* decrypt_pkcs12_pbe runs the iterations once for the key, once for the IV. */
    if ((rc = pbe_budget_spend(budget, iterations, err)) != P12_OK ||
        (iv_len > 0 && (rc = pbe_budget_spend(budget, iterations, err)) != P12_OK)) {
      break;
    }
    if ((rc = pbe_pkcs12_kdf(EVP_sha1(), pw->bytes, pw->len, CBS_data(&salt),
                             CBS_len(&salt), 1, (uint32_t)iterations, key, spec->key_len,
                             err)) != P12_OK ||
        (iv_len > 0 &&
         (rc = pbe_pkcs12_kdf(EVP_sha1(), pw->bytes, pw->len, CBS_data(&salt),
                              CBS_len(&salt), 2, (uint32_t)iterations, iv, iv_len,
                              err)) != P12_OK)) {
      break;
    }
    rc = run_cipher(spec, key, iv_len > 0 ? iv : NULL, in, in_len, out, out_len, err);
  }
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(iv, sizeof(iv));
  return rc;
}

/* decrypt_pbes1 handles PBES1 (RFC 8018 section 6.1): PBKDF1 with MD5 or SHA-1 gives
 * 8 bytes of key and 8 of IV; the password as given. */
static int decrypt_pbes1(const CIPHER_SPEC *spec, const EVP_MD *md, CBS *params,
                         const PASSWORDS *pws, const uint8_t *in, size_t in_len,
                         PBE_BUDGET *budget, uint8_t **out, size_t *out_len,
                         STATUS *err) {
  CBS seq;
  CBS salt;
  uint64_t iterations;
  uint8_t t[EVP_MAX_MD_SIZE];
  int rc;
  EVP_MD_CTX ctx;
  EVP_MD_CTX_init(&ctx);
  if (!CBS_get_asn1(params, &seq, CBS_ASN1_SEQUENCE) || CBS_len(params) != 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED, "malformed PBES1 parameters");
    goto out;
  }
  if ((rc = get_salt(&seq, &salt, err)) != P12_OK ||
      (rc = get_iterations(&seq, &iterations, err)) != P12_OK) {
    goto out;
  }
  if (CBS_len(&seq) != 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED, "malformed PBES1 parameters");
    goto out;
  }
  if ((rc = check_ciphertext_len(spec, in_len, err)) != P12_OK) {
    goto out;
  }
  rc = P12_ERR_WRONG_PASSWORD;
  for (size_t i = 0; i < pws->num && rc == P12_ERR_WRONG_PASSWORD; i++) {
    const PASSWORD *pw = &pws->pw[i];
    if ((rc = pbe_budget_spend(budget, iterations, err)) != P12_OK) {
      break;
    }
    unsigned t_len = 0;
    if (!EVP_DigestInit_ex(&ctx, md, NULL) ||
        !EVP_DigestUpdate(&ctx, pw->bytes, pw->len) ||
        !EVP_DigestUpdate(&ctx, CBS_data(&salt), CBS_len(&salt)) ||
        !EVP_DigestFinal_ex(&ctx, t, &t_len)) {
      rc = p12_fail(err, P12_ERR_NO_MEMORY, "digest failed");
      break;
    }
    for (uint64_t it = 1; it < iterations; it++) {
      if (!EVP_DigestInit_ex(&ctx, md, NULL) || !EVP_DigestUpdate(&ctx, t, t_len) ||
          !EVP_DigestFinal_ex(&ctx, t, &t_len)) {
        rc = p12_fail(err, P12_ERR_NO_MEMORY, "digest failed");
        goto out;
      }
    }
    rc = run_cipher(spec, t, t + 8, in, in_len, out, out_len, err);
  }

out:
  EVP_MD_CTX_cleanup(&ctx);
  OPENSSL_cleanse(t, sizeof(t));
  return rc;
}

int pbe_decrypt(const CBS *algorithm, const char *password, size_t password_len,
                const uint8_t *in, size_t in_len, PBE_BUDGET *budget, uint8_t **out,
                size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  int rc;
  uint8_t *bmp = NULL;
  size_t bmp_len = 0;
  CBS alg = *algorithm;
  CBS seq;
  CBS oid;
  if (!CBS_get_asn1(&alg, &seq, CBS_ASN1_SEQUENCE) || CBS_len(&alg) != 0 ||
      !CBS_get_asn1(&seq, &oid, CBS_ASN1_OBJECT)) {
    return p12_fail(err, P12_ERR_MALFORMED, "malformed encryption algorithm identifier");
  }
  if ((rc = pbe_password_bmp(password, password_len, &bmp, &bmp_len, err)) != P12_OK) {
    return rc;
  }
  PASSWORD utf8 = {(const uint8_t *)password, password_len};
  PASSWORD bmp_pw = {bmp, bmp_len};
  PASSWORDS as_given = {{utf8, bmp_pw}, 2};
  PASSWORDS as_bmp = {{bmp_pw, utf8}, 2};
  PASSWORDS only_given = {{utf8}, 1};
  CIPHER_SPEC spec;
  int nid = OBJ_cbs2nid(&oid);
  switch (nid) {
    case NID_pbes2:
      rc = decrypt_pbes2(&seq, &as_given, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And3_Key_TripleDES_CBC:
      spec = (CIPHER_SPEC){EVP_des_ede3_cbc, 24, 0};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And2_Key_TripleDES_CBC:
      spec = (CIPHER_SPEC){EVP_des_ede_cbc, 16, 0};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And128BitRC2_CBC:
      spec = (CIPHER_SPEC){EVP_rc2_cbc, 16, 128};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And40BitRC2_CBC:
      spec = (CIPHER_SPEC){EVP_rc2_cbc, 5, 40};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And128BitRC4:
      spec = (CIPHER_SPEC){EVP_rc4, 16, 0};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbe_WithSHA1And40BitRC4:
      spec = (CIPHER_SPEC){EVP_rc4, 5, 0};
      rc =
          decrypt_pkcs12_pbe(&spec, &seq, &as_bmp, in, in_len, budget, out, out_len, err);
      break;
    case NID_pbeWithMD5AndDES_CBC:
      spec = (CIPHER_SPEC){EVP_des_cbc, 8, 0};
      rc = decrypt_pbes1(&spec, EVP_md5(), &seq, &only_given, in, in_len, budget, out,
                         out_len, err);
      break;
    case NID_pbeWithSHA1AndDES_CBC:
      spec = (CIPHER_SPEC){EVP_des_cbc, 8, 0};
      rc = decrypt_pbes1(&spec, EVP_sha1(), &seq, &only_given, in, in_len, budget, out,
                         out_len, err);
      break;
    case NID_pbeWithMD5AndRC2_CBC:
      spec = (CIPHER_SPEC){EVP_rc2_cbc, 8, 64};
      rc = decrypt_pbes1(&spec, EVP_md5(), &seq, &only_given, in, in_len, budget, out,
                         out_len, err);
      break;
    case NID_pbeWithSHA1AndRC2_CBC:
      spec = (CIPHER_SPEC){EVP_rc2_cbc, 8, 64};
      rc = decrypt_pbes1(&spec, EVP_sha1(), &seq, &only_given, in, in_len, budget, out,
                         out_len, err);
      break;
    default: {
      char name[128];
      p12_oid_name(&oid, name, sizeof(name));
      rc = p12_fail(err, P12_ERR_UNSUPPORTED, "encryption algorithm %s is not supported",
                    name);
      break;
    }
  }
  if (rc == P12_ERR_WRONG_PASSWORD) {
    p12_fail(err, rc, "wrong password");
  }
  pbe_secret_free(bmp, bmp_len);
  return rc;
}

int pbe_decrypt_private_key_info(const uint8_t *in, size_t in_len, const char *password,
                                 size_t password_len, PBE_BUDGET *budget, uint8_t **out,
                                 size_t *out_len, STATUS *err) {
  *out = NULL;
  *out_len = 0;
  int rc;
  CBS cbs;
  CBS der;
  CBS epki;
  CBS alg;
  CBS data;
  uint8_t *storage = NULL;
  CBS_init(&cbs, in, in_len);
  if (pbe_ber_to_der(&cbs, &der, &storage) != P12_OK || CBS_len(&cbs) != 0 ||
      !CBS_get_asn1(&der, &epki, CBS_ASN1_SEQUENCE) || CBS_len(&der) != 0 ||
      !CBS_get_asn1_element(&epki, &alg, CBS_ASN1_SEQUENCE) ||
      !CBS_get_asn1(&epki, &data, CBS_ASN1_OCTETSTRING) || CBS_len(&epki) != 0) {
    rc = p12_fail(err, P12_ERR_MALFORMED, "malformed encrypted private key");
    goto out;
  }
  rc = pbe_decrypt(&alg, password, password_len, CBS_data(&data), CBS_len(&data), budget,
                   out, out_len, err);

out:
  OPENSSL_free(storage);
  return rc;
}
