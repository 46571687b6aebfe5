/* engine_limits.h: the limits smimed's flags set for every engine process: how deep and
 * how many MIME parts a parsed message may have, and how long a certificate chain may
 * be. smimed passes them on each engine's command line (worker_pool.h, so that a
 * restarted engine gets them too); engine_main.c parses them before the first request
 * and they stay fixed for the life of the process.
 *
 * A request that goes over one fails (MIME: RESOURCE_EXHAUSTED) or is reported (chain:
 * the signature's status) with a message naming the flag, so that an operator knows
 * what to change. */
#ifndef SMIMED_ENGINE_ENGINE_LIMITS_H
#define SMIMED_ENGINE_ENGINE_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "service/common/status.h"
#include "service/mime/mime_parse.h"

/* ENGINE_*_MIN, _MAX and _DEFAULT are each flag's range and default. The chain length
 * counts certificates from the signer to the trust anchor, both included: 2 is a leaf
 * directly under an imported CA (an imported leaf alone is 1, always allowed). The
 * default of 10 is the most smimed's store ever returns as a signer's chain
 * (certificate_store_export: CHAIN_MAX, leaf included), so that a default daemon never
 * refuses to sign with a chain it stores; real S/MIME chains have 3 or 4. */
#define ENGINE_MAX_MIME_DEPTH_MIN 1
#define ENGINE_MAX_MIME_DEPTH_MAX 64
#define ENGINE_MAX_MIME_DEPTH_DEFAULT MIME_DEFAULT_MAX_DEPTH
#define ENGINE_MAX_MIME_PARTS_MIN 1
#define ENGINE_MAX_MIME_PARTS_MAX 100000
#define ENGINE_MAX_MIME_PARTS_DEFAULT MIME_DEFAULT_MAX_PARTS
#define ENGINE_MAX_CHAIN_LENGTH_MIN 2
#define ENGINE_MAX_CHAIN_LENGTH_MAX 32
#define ENGINE_MAX_CHAIN_LENGTH_DEFAULT 10

/* ENGINE_LIMITS holds the values of --max-mime-depth, --max-mime-parts and
 * --max-chain-length. */
typedef struct engine_limits_st {
  unsigned max_mime_depth;
  unsigned max_mime_parts;
  unsigned max_chain_length;
} ENGINE_LIMITS;

/* engine_limits returns the engine-wide limits: the defaults until engine_limits_flag
 * changes one. */
const ENGINE_LIMITS *engine_limits(void);

/* engine_limits_is_flag says whether |arg| is one of the flags above. */
int engine_limits_is_flag(const char *arg);

/* engine_limits_flag sets the limit of flag |arg| (engine_limits_is_flag) from |value|,
 * a decimal number in the flag's range. Returns 1, or 0 with INVALID_ARGUMENT and a
 * message naming the flag and its range in |err|. Only at start, before any request. */
int engine_limits_flag(const char *arg, const char *value, STATUS *err);

/* engine_mime_limits fills |out| with the limits every MIME parse of the engine uses
 * (mime_parse and the mime_build functions that parse), named by their flags in errors:
 * "MIME structure nested deeper than 8 levels at part 1.1.1 (--max-mime-depth)",
 * "message has more than 10000 MIME parts (--max-mime-parts)". */
void engine_mime_limits(MIME_LIMITS *out);

/* engine_mime_parse is mime_parse with engine_mime_limits. */
MIME_TREE *engine_mime_parse(const uint8_t *data, size_t len, STATUS *err);

#endif /* SMIMED_ENGINE_ENGINE_LIMITS_H */
