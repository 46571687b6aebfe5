/* query_cache.h: the results of the front's hot read queries (settings, certificates
 * by address or fingerprint, wrapped keys, trust anchors), kept in memory until
 * anything they read may have changed.
 *
 * Why: on this kind of machine a query round trip costs the front and PostgreSQL far
 * more CPU (two context switches each way, parse and plan) than the query itself, and
 * every SignEncrypt or DecryptVerify asked the same few questions of tables that change
 * only when an admin acts. Issue 7 measured PostgreSQL at 43-79 % of the CPU per mail.
 *
 * Validity is one generation number for the whole cache: a change anywhere (this
 * replica's own writes, reported with query_cache_invalidate right after their commit,
 * and other replicas' writes, reported by change_listener from PostgreSQL's NOTIFY)
 * drops every entry. An entry is stored with the generation read *before* its query
 * was sent, so a result that raced a change is never kept. While the change listener
 * is not connected (PostgreSQL restarting) the cache is off: another replica's change
 * could go unnoticed.
 *
 * Only results that do not depend on the time of the query may be cached (callers
 * judge expiry with their own clock). Entries and bytes are bounded; past either bound
 * the cache starts again empty. The hash is seeded at random, so that a mail sender
 * cannot precompute addresses that collide. */
#ifndef SMIMED_DB_QUERY_CACHE_H
#define SMIMED_DB_QUERY_CACHE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct query_cache_st QUERY_CACHE;

/* query_cache_new makes an empty cache, off until query_cache_set_enabled(1), holding
 * at most |max_entries| results and about |max_bytes| of values. NULL when out of
 * memory. */
QUERY_CACHE *query_cache_new(size_t max_entries, size_t max_bytes);

/* query_cache_free frees |c| and every entry. Accepts NULL. */
void query_cache_free(QUERY_CACHE *c);

/* query_cache_get returns a copy of the result stored under |key| (PQclear it), or
 * NULL on a miss. |*out_generation| receives the current generation, to pass to
 * query_cache_put with the result of the query sent after this call. */
PGresult *query_cache_get(QUERY_CACHE *c, const void *key, size_t key_len,
                          uint64_t *out_generation);

/* query_cache_put stores a copy of |res| (a PGRES_TUPLES_OK result) under |key|, unless
 * the generation moved past |generation| meanwhile or the cache is off. */
void query_cache_put(QUERY_CACHE *c, const void *key, size_t key_len, uint64_t generation,
                     const PGresult *res);

/* query_cache_invalidate drops every entry: something the cached queries read changed. */
void query_cache_invalidate(QUERY_CACHE *c);

/* query_cache_set_enabled turns the cache on or off; either way it starts empty. */
void query_cache_set_enabled(QUERY_CACHE *c, int enabled);

/* QUERY_CACHE_STATS: counters for tests and metrics. */
typedef struct query_cache_stats_st {
  uint64_t hits, misses, invalidations;
  size_t entries, bytes;
  int enabled;
} QUERY_CACHE_STATS;

void query_cache_stats(QUERY_CACHE *c, QUERY_CACHE_STATS *out);

#endif /* SMIMED_DB_QUERY_CACHE_H */
