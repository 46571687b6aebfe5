/* rawcrypto: the raw BoringSSL primitive of each operation smimed offers, single
 * thread, in process, no RPC, no MIME, no ASN.1, no log: the floor the benchmark
 * compares the service's CPU per message against.
 *
 *   rawcrypto --key KEY.pem --cert CERT.pem --size BYTES [--seconds S]
 *
 * prints one line per operation: "raw OP SIZE ops_per_s=X cpu_s_per_op=Y", where OP is
 *   sign            SHA-256 of the payload, RSA PKCS#1 v1.5 or ECDSA sign of the digest
 *   verify          SHA-256 of the payload, verify of that signature
 *   encrypt         random 32-byte key; RSA PKCS#1 v1.5 encrypt of it (RSA) or ECDH
 *                   ephemeral-static + X9.63 SHA-256 KDF + AES key wrap (P-256,
 *                   RFC 5753); AES-256-CBC of the payload
 *   decrypt         the matching RSA decrypt or ECDH + unwrap, AES-256-CBC decrypt
 *   sign-encrypt    sign then encrypt
 *   decrypt-verify  decrypt then verify
 * This is what CMS needs at the least; smimed also hashes its signed attributes, builds
 * and parses ASN.1 and MIME, and checks the certificate chain (none of that is here). */
#include <getopt.h>
#include <openssl/aes.h>
#include <openssl/bio.h>
#include <openssl/bytestring.h>
#include <openssl/cipher.h>
#include <openssl/digest.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/ecdh.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* WORK is what one operation needs: keys, the payload and the buffers it produces. */
typedef struct work_st {
  EVP_PKEY *priv;
  EVP_PKEY *pub;
  int is_ec;
  uint8_t *payload;
  size_t size;
  uint8_t *ct;       // AES-256-CBC of payload (size + one block)
  size_t ct_len;
  uint8_t *pt;       // decrypted payload
  uint8_t sig[1024];
  size_t sig_len;
  uint8_t wrapped[1024];  // RSA-encrypted or AES-wrapped content key
  size_t wrapped_len;
  uint8_t eph_pub[133];   // ephemeral EC public point (uncompressed)
  size_t eph_pub_len;
  uint8_t iv[16];
} WORK;

/* cpu_seconds is this process's CPU time (user + system). */
static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* wall_seconds is a monotonic clock. */
static double wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* aes_cbc runs AES-256-CBC with PKCS#7 padding over |in| in direction |enc|; returns
 * the output length or 0. */
static size_t aes_cbc(int enc, const uint8_t key[32], const uint8_t iv[16],
                      const uint8_t *in, size_t in_len, uint8_t *out) {
  size_t ret = 0;
  int n1 = 0, n2 = 0;
  EVP_CIPHER_CTX ctx;
  EVP_CIPHER_CTX_init(&ctx);
  if (!EVP_CipherInit_ex(&ctx, EVP_aes_256_cbc(), NULL, key, iv, enc) ||
      !EVP_CipherUpdate(&ctx, out, &n1, in, (int)in_len) ||
      !EVP_CipherFinal_ex(&ctx, out + n1, &n2)) {
    goto out;
  }
  ret = (size_t)(n1 + n2);

out:
  EVP_CIPHER_CTX_cleanup(&ctx);
  return ret;
}

/* x963_kdf derives a 32-byte key-encryption key from an ECDH secret with one SHA-256
 * (ANSI X9.63, counter 1, no shared info beyond the counter: enough to cost it). */
static void x963_kdf(const uint8_t *secret, size_t secret_len, uint8_t kek[32]) {
  static const uint8_t counter[4] = {0, 0, 0, 1};
  SHA256_CTX sha;
  SHA256_Init(&sha);
  SHA256_Update(&sha, secret, secret_len);
  SHA256_Update(&sha, counter, sizeof(counter));
  SHA256_Final(kek, &sha);
}

/* do_sign hashes the payload and signs the digest into w->sig. */
static int do_sign(WORK *w) {
  int ok = 0;
  uint8_t digest[32];
  SHA256(w->payload, w->size, digest);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(w->priv, NULL);
  w->sig_len = sizeof(w->sig);
  if (ctx == NULL || !EVP_PKEY_sign_init(ctx) ||
      (!w->is_ec && (!EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ||
                     !EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()))) ||
      !EVP_PKEY_sign(ctx, w->sig, &w->sig_len, digest, sizeof(digest))) {
    goto out;
  }
  ok = 1;

out:
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

/* do_verify hashes the payload and verifies w->sig with the public key. */
static int do_verify(WORK *w) {
  int ok = 0;
  uint8_t digest[32];
  SHA256(w->payload, w->size, digest);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(w->pub, NULL);
  if (ctx == NULL || !EVP_PKEY_verify_init(ctx) ||
      (!w->is_ec && (!EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ||
                     !EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()))) ||
      !EVP_PKEY_verify(ctx, w->sig, w->sig_len, digest, sizeof(digest))) {
    goto out;
  }
  ok = 1;

out:
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

/* ecdh_kek computes the ECDH secret of |priv| and |peer| and derives the KEK. */
static int ecdh_kek(const EC_KEY *priv, const EC_POINT *peer, uint8_t kek[32]) {
  uint8_t secret[66];
  int n = ECDH_compute_key(secret, sizeof(secret), peer, priv, NULL);
  if (n <= 0) {
    return 0;
  }
  x963_kdf(secret, (size_t)n, kek);
  return 1;
}

/* do_encrypt makes a content key, transports it to the public key and encrypts the
 * payload into w->ct. */
static int do_encrypt(WORK *w) {
  int ok = 0;
  uint8_t cek[32];
  EVP_PKEY_CTX *ctx = NULL;
  EC_KEY *eph = NULL;
  if (!RAND_bytes(cek, sizeof(cek)) || !RAND_bytes(w->iv, sizeof(w->iv))) {
    goto out;
  }
  if (w->is_ec) {
    const EC_KEY *peer = EVP_PKEY_get0_EC_KEY(w->pub);
    uint8_t kek[32];
    AES_KEY aes;
    eph = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    if (eph == NULL || !EC_KEY_generate_key(eph) ||
        !ecdh_kek(eph, EC_KEY_get0_public_key(peer), kek) ||
        AES_set_encrypt_key(kek, 256, &aes) != 0 ||
        AES_wrap_key(&aes, NULL, w->wrapped, cek, sizeof(cek)) != (int)sizeof(cek) + 8) {
      goto out;
    }
    w->wrapped_len = sizeof(cek) + 8;
    w->eph_pub_len = EC_POINT_point2oct(EC_KEY_get0_group(eph), EC_KEY_get0_public_key(eph),
                                        POINT_CONVERSION_UNCOMPRESSED, w->eph_pub,
                                        sizeof(w->eph_pub), NULL);
    if (w->eph_pub_len == 0) {
      goto out;
    }
  } else {
    ctx = EVP_PKEY_CTX_new(w->pub, NULL);
    w->wrapped_len = sizeof(w->wrapped);
    if (ctx == NULL || !EVP_PKEY_encrypt_init(ctx) ||
        !EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ||
        !EVP_PKEY_encrypt(ctx, w->wrapped, &w->wrapped_len, cek, sizeof(cek))) {
      goto out;
    }
  }
  w->ct_len = aes_cbc(1, cek, w->iv, w->payload, w->size, w->ct);
  if (w->ct_len == 0) {
    goto out;
  }
  ok = 1;

out:
  EVP_PKEY_CTX_free(ctx);
  EC_KEY_free(eph);
  return ok;
}

/* do_decrypt recovers the content key with the private key and decrypts w->ct. */
static int do_decrypt(WORK *w) {
  int ok = 0;
  // cek is as large as the largest modulus: BoringSSL's RSA decrypt wants room for it.
  uint8_t cek[512];
  size_t cek_len = sizeof(cek);
  EVP_PKEY_CTX *ctx = NULL;
  EC_POINT *eph = NULL;
  if (w->is_ec) {
    const EC_KEY *priv = EVP_PKEY_get0_EC_KEY(w->priv);
    const EC_GROUP *group = EC_KEY_get0_group(priv);
    uint8_t kek[32];
    AES_KEY aes;
    eph = EC_POINT_new(group);
    if (eph == NULL ||
        !EC_POINT_oct2point(group, eph, w->eph_pub, w->eph_pub_len, NULL) ||
        !ecdh_kek(priv, eph, kek) || AES_set_decrypt_key(kek, 256, &aes) != 0 ||
        AES_unwrap_key(&aes, NULL, cek, w->wrapped, w->wrapped_len) != 32) {
      goto out;
    }
  } else {
    ctx = EVP_PKEY_CTX_new(w->priv, NULL);
    if (ctx == NULL || !EVP_PKEY_decrypt_init(ctx) ||
        !EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ||
        !EVP_PKEY_decrypt(ctx, cek, &cek_len, w->wrapped, w->wrapped_len) ||
        cek_len != 32) {
      goto out;
    }
  }
  if (aes_cbc(0, cek, w->iv, w->ct, w->ct_len, w->pt) != w->size ||
      memcmp(w->pt, w->payload, w->size) != 0) {
    goto out;
  }
  ok = 1;

out:
  EVP_PKEY_CTX_free(ctx);
  EC_POINT_free(eph);
  return ok;
}

/* do_sign_encrypt and do_decrypt_verify are the combined operations. */
static int do_sign_encrypt(WORK *w) { return do_sign(w) && do_encrypt(w); }
static int do_decrypt_verify(WORK *w) { return do_decrypt(w) && do_verify(w); }

/* OPERATION names one measured operation. */
typedef struct operation_st {
  const char *name;
  int (*fn)(WORK *w);
} OPERATION;

/* measure runs |op| for at least |seconds| of wall time and prints its line. */
static int measure(WORK *w, const OPERATION *op, double seconds) {
  long n = 0;
  double w0 = wall_seconds(), c0 = cpu_seconds();
  do {
    for (int i = 0; i < 4; i++) {
      if (!op->fn(w)) {
        fprintf(stderr, "rawcrypto: %s failed\n", op->name);
        return 0;
      }
      n++;
    }
  } while (wall_seconds() - w0 < seconds);
  double wall = wall_seconds() - w0, cpu = cpu_seconds() - c0;
  printf("raw %s %zu ops_per_s=%.2f cpu_s_per_op=%.9f\n", op->name, w->size,
         (double)n / wall, cpu / (double)n);
  return 1;
}

/* read_pem_key reads a private key, or with |cert| a certificate's public key. */
static EVP_PKEY *read_pem_key(const char *path, int cert) {
  EVP_PKEY *pkey = NULL;
  BIO *bio = BIO_new_file(path, "r");
  if (bio == NULL) {
    fprintf(stderr, "rawcrypto: cannot read %s\n", path);
    return NULL;
  }
  if (cert) {
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x != NULL) {
      pkey = X509_get_pubkey(x);
      X509_free(x);
    }
  } else {
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  }
  BIO_free(bio);
  if (pkey == NULL) {
    fprintf(stderr, "rawcrypto: no %s in %s\n", cert ? "certificate" : "private key", path);
  }
  return pkey;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"key", required_argument, NULL, 'k'},  {"cert", required_argument, NULL, 'c'},
      {"size", required_argument, NULL, 's'}, {"seconds", required_argument, NULL, 't'},
      {NULL, 0, NULL, 0},
  };
  static const OPERATION ops[] = {
      {"sign", do_sign},       {"verify", do_verify},
      {"encrypt", do_encrypt}, {"decrypt", do_decrypt},
      {"sign-encrypt", do_sign_encrypt}, {"decrypt-verify", do_decrypt_verify},
  };
  int rc = 1, c;
  const char *key_file = NULL, *cert_file = NULL;
  double seconds = 1.0;
  WORK w;
  memset(&w, 0, sizeof(w));
  w.size = 4096;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case 'k':
        key_file = optarg;
        break;
      case 'c':
        cert_file = optarg;
        break;
      case 's':
        w.size = (size_t)strtoul(optarg, NULL, 10);
        break;
      case 't':
        seconds = strtod(optarg, NULL);
        break;
      default:
        return 2;
    }
  }
  if (key_file == NULL || cert_file == NULL || w.size == 0) {
    fprintf(stderr, "usage: rawcrypto --key KEY.pem --cert CERT.pem --size BYTES "
                    "[--seconds S]\n");
    return 2;
  }
  w.priv = read_pem_key(key_file, 0);
  w.pub = read_pem_key(cert_file, 1);
  w.payload = malloc(w.size);
  w.ct = malloc(w.size + 16);
  w.pt = malloc(w.size + 16);
  if (w.priv == NULL || w.pub == NULL || w.payload == NULL || w.ct == NULL || w.pt == NULL) {
    goto out;
  }
  w.is_ec = EVP_PKEY_id(w.priv) == EVP_PKEY_EC;
  memset(w.payload, 'x', w.size);
  // verify and decrypt need a signature and a ciphertext to start from.
  if (!do_sign(&w) || !do_encrypt(&w)) {
    fprintf(stderr, "rawcrypto: cannot sign or encrypt with %s\n", key_file);
    goto out;
  }
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (!measure(&w, &ops[i], seconds)) {
      goto out;
    }
  }
  rc = 0;

out:
  EVP_PKEY_free(w.priv);
  EVP_PKEY_free(w.pub);
  free(w.payload);
  free(w.ct);
  free(w.pt);
  return rc;
}
