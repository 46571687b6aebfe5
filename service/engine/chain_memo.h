/* chain_memo.h: the engine's memory of certificate chains it found trusted.
 *
 * Every signed message from the same signer, checked against the same stored
 * certificates, asks X509_verify_cert the same question: parsing the anchors and
 * checking each link's signature took a third of a 4 KiB verify's engine time, twice
 * per signer (at signing time and now). The answer depends only on the certificates
 * given (the leaf, the anchors and the carried ones, each list in its order), the
 * chain-length limit, and the time; and on the time only through comparisons with the
 * certificates' notBefore and notAfter. So a trusted answer is remembered under a
 * SHA-256 of the former, for the open interval of times between the nearest of those
 * bounds around the time it was checked at, a second of margin kept at each end (our
 * reading of a time and BoringSSL's may differ by a fraction of a second). Untrusted
 * answers are not remembered: they are rare and carry details (the chain's top).
 *
 * A process-wide table of CHAIN_MEMO_SLOTS entries, each slot holding the latest of
 * the answers that hash to it; safe to use from several threads. */
#ifndef SMIMED_ENGINE_CHAIN_MEMO_H
#define SMIMED_ENGINE_CHAIN_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/sha.h>

/* CHAIN_MEMO_SLOTS is how many answers are kept: more signers than a helpdesk hears
 * from in a burst, 40 bytes each. */
#define CHAIN_MEMO_SLOTS 1024

/* CHAIN_ROLE_* say what a certificate is to the check; part of the key. */
enum { CHAIN_ROLE_ANCHOR = 1, CHAIN_ROLE_CARRIED = 2, CHAIN_ROLE_LEAF = 3 };

/* CHAIN_INPUTS is what one layer's checks share: the anchors and the carried
 * certificates, hashed, and every notBefore and notAfter among them. */
typedef struct chain_inputs_st {
  SHA256_CTX sha;
  int64_t *bounds;
  size_t num_bounds;
  size_t cap_bounds;
  /* usable is 0 once a certificate's validity could not be read, or memory ran out:
   * then nothing is looked up or remembered for these inputs. */
  int usable;
} CHAIN_INPUTS;

/* chain_inputs_init starts |in| for chains of at most |max_chain| certificates. */
void chain_inputs_init(CHAIN_INPUTS *in, unsigned max_chain);

/* chain_inputs_add adds the DER certificate |der| in |role| (anchors and carried ones,
 * in the order they are given to the verifier). */
void chain_inputs_add(CHAIN_INPUTS *in, int role, const uint8_t *der, size_t len);

/* chain_inputs_cleanup frees what |in| holds. */
void chain_inputs_cleanup(CHAIN_INPUTS *in);

/* CHAIN_LEAF is one leaf's key with some CHAIN_INPUTS, less the time: made once per
 * leaf, it serves every check of that leaf (at signing time and now, lookup and
 * record). */
typedef struct chain_leaf_st {
  uint8_t digest[SHA256_DIGEST_LENGTH]; /* of the inputs and the leaf */
  int64_t bounds[2];                    /* the leaf's notBefore and notAfter */
  int usable;                           /* 0: never looked up or remembered */
} CHAIN_LEAF;

/* chain_leaf_init makes |out| for the DER certificate |leaf| with |in| (which must have
 * all its certificates). */
void chain_leaf_init(CHAIN_LEAF *out, const CHAIN_INPUTS *in, const uint8_t *leaf,
                     size_t leaf_len);

/* chain_memo_trusted says whether the chain check of |leaf| with |in| at time |when|
 * was remembered as trusted. */
int chain_memo_trusted(const CHAIN_INPUTS *in, const CHAIN_LEAF *leaf, int64_t when);

/* chain_memo_remember records that the chain check of |leaf| with |in| at |when| found
 * it trusted (nothing is recorded when |when| is within a second of a bound). */
void chain_memo_remember(const CHAIN_INPUTS *in, const CHAIN_LEAF *leaf, int64_t when);

#endif /* SMIMED_ENGINE_CHAIN_MEMO_H */
