/* page_token.h: the opaque page tokens of the List* RPCs.
 *
 * A token is "l1" + 16 hex digits of the last id returned + 8 hex digits of a check over
 * a per-listing domain, that id and the request's (normalized) filters. The check makes
 * garbage, a truncated token, or a token of a differently filtered listing fail cleanly
 * with INVALID_ARGUMENT instead of silently returning the wrong page. It is not a
 * secret: the id in a token reveals nothing a caller of the listing cannot see anyway. */
#ifndef SMIMED_DB_PAGE_TOKEN_H
#define SMIMED_DB_PAGE_TOKEN_H

#include <stdint.h>

#include "service/common/status.h"

/* page_token_make returns a malloc'd token for |id| (NULL when out of memory). */
char *page_token_make(const char *domain, int64_t id, const char *filters);

/* page_token_parse checks |token| against |domain| and |filters| and sets |*out_id|. */
int page_token_parse(const char *domain, const char *token, const char *filters,
                     int64_t *out_id, STATUS *err);

#endif /* SMIMED_DB_PAGE_TOKEN_H */
