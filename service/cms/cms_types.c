/* cms_types.c: names and sizes for the CMS_* algorithm numbers. */
#include "service/cms/cms_types.h"

const char *cms_md_name(int md) {
  switch (md) {
    case CMS_MD_MD5:
      return "MD5";
    case CMS_MD_SHA1:
      return "SHA-1";
    case CMS_MD_SHA224:
      return "SHA-224";
    case CMS_MD_SHA256:
      return "SHA-256";
    case CMS_MD_SHA384:
      return "SHA-384";
    case CMS_MD_SHA512:
      return "SHA-512";
    default:
      return "unknown";
  }
}

size_t cms_md_size(int md) {
  switch (md) {
    case CMS_MD_MD5:
      return 16;
    case CMS_MD_SHA1:
      return 20;
    case CMS_MD_SHA224:
      return 28;
    case CMS_MD_SHA256:
      return 32;
    case CMS_MD_SHA384:
      return 48;
    case CMS_MD_SHA512:
      return 64;
    default:
      return 0;
  }
}

const char *cms_sig_name(int scheme) {
  switch (scheme) {
    case CMS_SIG_RSA_PKCS1:
      return "RSA PKCS#1 v1.5";
    case CMS_SIG_RSA_PSS:
      return "RSASSA-PSS";
    case CMS_SIG_ECDSA:
      return "ECDSA";
    case CMS_SIG_ED25519:
      return "Ed25519";
    default:
      return "unknown";
  }
}

const char *cms_cipher_name(int cipher) {
  switch (cipher) {
    case CMS_CIPHER_AES128_CBC:
      return "AES-128-CBC";
    case CMS_CIPHER_AES192_CBC:
      return "AES-192-CBC";
    case CMS_CIPHER_AES256_CBC:
      return "AES-256-CBC";
    case CMS_CIPHER_AES128_GCM:
      return "AES-128-GCM";
    case CMS_CIPHER_AES192_GCM:
      return "AES-192-GCM";
    case CMS_CIPHER_AES256_GCM:
      return "AES-256-GCM";
    case CMS_CIPHER_DES_EDE3_CBC:
      return "DES-EDE3-CBC";
    default:
      return "unknown";
  }
}

size_t cms_cipher_key_len(int cipher) {
  switch (cipher) {
    case CMS_CIPHER_AES128_CBC:
    case CMS_CIPHER_AES128_GCM:
      return 16;
    case CMS_CIPHER_AES192_CBC:
    case CMS_CIPHER_AES192_GCM:
    case CMS_CIPHER_DES_EDE3_CBC:
      return 24;
    case CMS_CIPHER_AES256_CBC:
    case CMS_CIPHER_AES256_GCM:
      return 32;
    default:
      return 0;
  }
}

int cms_cipher_is_aead(int cipher) {
  return cipher == CMS_CIPHER_AES128_GCM || cipher == CMS_CIPHER_AES192_GCM ||
         cipher == CMS_CIPHER_AES256_GCM;
}

const char *cms_key_name(int method) {
  switch (method) {
    case CMS_KEY_RSA_PKCS1:
      return "RSA PKCS#1 v1.5";
    case CMS_KEY_RSA_OAEP:
      return "RSAES-OAEP";
    case CMS_KEY_ECDH:
      return "ECDH";
    default:
      return "unknown";
  }
}
