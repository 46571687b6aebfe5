/* mime_fuzzer.c: libFuzzer target for the MIME parser and the S/MIME classification
 * the engine runs on every incoming message (service/mime). */
#include <stddef.h>
#include <stdint.h>

#include "service/mime/mime_parse.h"
#include "service/mime/mime_smime.h"

/* walk classifies every entity of the tree, as DecryptVerify's layer walk would. */
static void walk(const MIME_ENTITY *e) {
  MIME_CMS_TYPE declared = MIME_CMS_UNKNOWN;
  STATUS err;
  switch (mime_smime_classify(e, &declared)) {
    case MIME_SMIME_SIGNED:
      mime_signed_free(mime_signed_new(e, &err));
      break;
    case MIME_SMIME_PKCS7:
      mime_pkcs7_free(mime_pkcs7_new(e, &err));
      break;
    default:
      break;
  }
  for (size_t i = 0; i < e->num_children; i++) {
    walk(&e->children[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  STATUS err;
  MIME_TREE *tree = mime_parse(data, len, NULL, &err);
  if (tree != NULL) {
    walk(mime_tree_root(tree));
  }
  mime_tree_free(tree);
  return 0;
}
