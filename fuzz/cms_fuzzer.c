/* cms_fuzzer.c: libFuzzer target for the CMS parsers the engine runs on untrusted mail:
 * SignedData verification (opaque, and detached over a fixed content) and
 * EnvelopedData/AuthEnvelopedData parsing (service/cms). */
#include <openssl/mem.h>
#include <stddef.h>
#include <stdint.h>

#include "service/cms/cms_decrypt.h"
#include "service/cms/cms_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  static const uint8_t kContent[] = "Content-Type: text/plain\r\n\r\nhello\r\n";
  STATUS err;
  CMS_VERIFY_RESULT *res = NULL;
  if (cms_verify(data, len, NULL, 0, NULL, 0, &res, &err)) {
    cms_verify_result_free(res);
  }
  res = NULL;
  if (cms_verify(data, len, kContent, sizeof(kContent) - 1, NULL, 0, &res, &err)) {
    cms_verify_result_free(res);
  }
  CMS_ENVELOPE *env = NULL;
  if (cms_envelope_parse(data, len, &env, &err)) {
    cms_envelope_free(env);
  }
  return 0;
}
