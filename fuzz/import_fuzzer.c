/* import_fuzzer.c: libFuzzer target for what ImportCertificates and ImportPrivateKey
 * parse: certificate files (PEM/DER/PKCS#7) and every certificate in them
 * (service/x509), and private key files incl. PKCS#12 (service/keystore/key_import.c,
 * service/pkcs12). The first byte picks the password, so wrong and right guesses and
 * the empty password are all explored. */
#include <stddef.h>
#include <stdint.h>

#include "service/keystore/key_import.h"
#include "service/x509/cert_info.h"
#include "service/x509/containers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  static const char *const kPasswords[] = {"", "secret", "nss", "x"};
  STATUS err;
  CERT_FILE *f = cert_file_parse(data, len, &err);
  if (f != NULL) {
    for (size_t i = 0; i < f->num_certs; i++) {
      cert_info_free(cert_info_new(f->certs[i].der, f->certs[i].der_len, &err));
    }
    cert_file_free(f);
  }
  const char *password = kPasswords[len > 0 ? data[0] % 4 : 0];
  key_import_free(key_import_parse(data, len, password, &err));
  return 0;
}
