/* query_cache_test.c: the query cache without a server (results built client-side): off
 * until enabled; a hit is an equal, independent copy; a put that raced an invalidation
 * is not kept; invalidate and set_enabled(0) drop everything; the entry and byte bounds
 * hold (the cache starts again empty past either); keys are compared by every byte and
 * their length; only PGRES_TUPLES_OK results are kept; the counters; and four threads
 * getting, putting and invalidating for a second (meant for --config=asan too). */
#include "service/db/query_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "service/db/db_testutil.h"

/* make_result builds a TUPLES_OK result of |rows| rows and two text columns "a" and
 * "b": row r holds |prefix|<r> and, in "b", SQL NULL for odd rows. */
static PGresult *make_result(const char *prefix, int rows) {
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attrs[2];
  memset(attrs, 0, sizeof(attrs));
  attrs[0].name = "a";
  attrs[0].typid = 25; /* text */
  attrs[0].typlen = -1;
  attrs[0].atttypmod = -1;
  attrs[1] = attrs[0];
  attrs[1].name = "b";
  if (res == NULL || !PQsetResultAttrs(res, 2, attrs)) {
    PQclear(res);
    return NULL;
  }
  for (int r = 0; r < rows; r++) {
    char v[128];
    snprintf(v, sizeof(v), "%s%d", prefix, r);
    if (!PQsetvalue(res, r, 0, v, (int)strlen(v)) ||
        !PQsetvalue(res, r, 1, (r % 2) ? NULL : v, (r % 2) ? -1 : (int)strlen(v))) {
      PQclear(res);
      return NULL;
    }
  }
  return res;
}

/* make_blob_result builds a one-row, one-column result whose value is |len| bytes. */
static PGresult *make_blob_result(size_t len) {
  PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  PGresAttDesc attr;
  memset(&attr, 0, sizeof(attr));
  attr.name = "v";
  attr.typid = 25;
  attr.typlen = -1;
  attr.atttypmod = -1;
  char *v = malloc(len + 1);
  memset(v, 'x', len);
  v[len] = '\0';
  if (res == NULL || !PQsetResultAttrs(res, 1, &attr) || !PQsetvalue(res, 0, 0, v, (int)len)) {
    PQclear(res);
    res = NULL;
  }
  free(v);
  return res;
}

/* same_result says whether |a| and |b| have the same status, columns and values
 * (NULLs included). */
static int same_result(const PGresult *a, const PGresult *b) {
  if (a == NULL || b == NULL || PQresultStatus(a) != PQresultStatus(b) ||
      PQntuples(a) != PQntuples(b) || PQnfields(a) != PQnfields(b)) {
    return 0;
  }
  for (int c = 0; c < PQnfields(a); c++) {
    if (strcmp(PQfname(a, c), PQfname(b, c)) != 0 || PQftype(a, c) != PQftype(b, c) ||
        PQfformat(a, c) != PQfformat(b, c)) {
      return 0;
    }
  }
  for (int r = 0; r < PQntuples(a); r++) {
    for (int c = 0; c < PQnfields(a); c++) {
      if (PQgetisnull(a, r, c) != PQgetisnull(b, r, c) ||
          PQgetlength(a, r, c) != PQgetlength(b, r, c) ||
          memcmp(PQgetvalue(a, r, c), PQgetvalue(b, r, c), (size_t)PQgetlength(a, r, c)) !=
              0) {
        return 0;
      }
    }
  }
  return 1;
}

/* put_key stores |res| under the string |key| with the current generation. */
static void put_key(QUERY_CACHE *c, const char *key, const PGresult *res) {
  uint64_t gen = 0;
  PGresult *miss = query_cache_get(c, key, strlen(key), &gen);
  PQclear(miss);
  query_cache_put(c, key, strlen(key), gen, res);
}

/* has_key says whether |key| is cached now (a get, which counts as a hit or miss). */
static int has_key(QUERY_CACHE *c, const void *key, size_t key_len) {
  uint64_t gen;
  PGresult *r = query_cache_get(c, key, key_len, &gen);
  int found = r != NULL;
  PQclear(r);
  return found;
}

static void test_off_until_enabled(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  PGresult *res = make_result("v", 3);
  QUERY_CACHE_STATS st;
  uint64_t gen = 99;
  CHECK(c != NULL && res != NULL);

  query_cache_stats(c, &st);
  CHECK(st.enabled == 0 && st.entries == 0 && st.hits == 0 && st.misses == 0);
  CHECK(query_cache_get(c, "k", 1, &gen) == NULL);
  query_cache_put(c, "k", 1, gen, res);
  query_cache_stats(c, &st);
  CHECK(st.entries == 0 && st.bytes == 0);
  CHECK(!has_key(c, "k", 1));

  /* Turned on: the same sequence now keeps the result. */
  query_cache_set_enabled(c, 1);
  query_cache_stats(c, &st);
  CHECK(st.enabled == 1 && st.entries == 0);
  CHECK(query_cache_get(c, "k", 1, &gen) == NULL);
  query_cache_put(c, "k", 1, gen, res);
  query_cache_stats(c, &st);
  CHECK(st.entries == 1 && st.bytes > 0);
  CHECK(has_key(c, "k", 1));

  /* A generation read while off is not good once it is on (set_enabled moves it). */
  query_cache_set_enabled(c, 0);
  CHECK(query_cache_get(c, "k2", 2, &gen) == NULL);
  query_cache_set_enabled(c, 1);
  query_cache_put(c, "k2", 2, gen, res);
  CHECK(!has_key(c, "k2", 2));

  PQclear(res);
  query_cache_free(c);
}

static void test_hit_is_independent_copy(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  PGresult *res = make_result("value-", 5);
  PGresult *expect = make_result("value-", 5);
  uint64_t gen;
  query_cache_set_enabled(c, 1);

  CHECK(query_cache_get(c, "key", 3, &gen) == NULL);
  query_cache_put(c, "key", 3, gen, res);
  /* The cache holds its own copy: the caller's result may go. */
  PQclear(res);

  PGresult *a = query_cache_get(c, "key", 3, &gen);
  PGresult *b = query_cache_get(c, "key", 3, &gen);
  CHECK(a != NULL && b != NULL && a != b);
  CHECK(same_result(a, expect));
  CHECK(same_result(b, expect));
  CHECK(PQresultStatus(a) == PGRES_TUPLES_OK);
  CHECK(PQgetisnull(a, 1, 1) && !PQgetisnull(a, 0, 1));
  CHECK(strcmp(PQgetvalue(a, 4, 0), "value-4") == 0);
  CHECK(PQfnumber(a, "b") == 1);

  /* Changing or freeing a copy does not touch the cached one. */
  CHECK(PQsetvalue(a, 0, 0, "changed", 7));
  PQclear(a);
  PQclear(b);
  PGresult *again = query_cache_get(c, "key", 3, &gen);
  CHECK(same_result(again, expect));
  PQclear(again);

  /* An empty result (no rows) is a result too. */
  PGresult *empty = make_result("", 0);
  CHECK(query_cache_get(c, "empty", 5, &gen) == NULL);
  query_cache_put(c, "empty", 5, gen, empty);
  again = query_cache_get(c, "empty", 5, &gen);
  CHECK(again != NULL && PQntuples(again) == 0 && PQnfields(again) == 2);
  PQclear(again);
  PQclear(empty);

  /* A second put under a key already present keeps the first result. */
  PGresult *other = make_result("other-", 1);
  CHECK(query_cache_get(c, "missing", 7, &gen) == NULL);
  query_cache_put(c, "key", 3, gen, other);
  again = query_cache_get(c, "key", 3, &gen);
  CHECK(same_result(again, expect));
  PQclear(again);
  PQclear(other);

  PQclear(expect);
  query_cache_free(c);
}

static void test_stale_generation(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  PGresult *res = make_result("v", 1);
  QUERY_CACHE_STATS st;
  uint64_t gen, gen2;
  query_cache_set_enabled(c, 1);

  /* Invalidated between the get and the put: the result may predate the change. */
  CHECK(query_cache_get(c, "k", 1, &gen) == NULL);
  query_cache_invalidate(c);
  query_cache_put(c, "k", 1, gen, res);
  query_cache_stats(c, &st);
  CHECK(st.entries == 0);
  CHECK(!has_key(c, "k", 1));

  /* The generation moves with each invalidation; the current one is accepted. */
  CHECK(query_cache_get(c, "k", 1, &gen2) == NULL);
  CHECK(gen2 != gen);
  query_cache_put(c, "k", 1, gen2, res);
  CHECK(has_key(c, "k", 1));

  /* Two overlapping queries: the one whose get came before an invalidation is refused
   * even though another was stored meanwhile. */
  uint64_t g_old, g_new;
  PQclear(query_cache_get(c, "x", 1, &g_old));
  query_cache_invalidate(c);
  PQclear(query_cache_get(c, "y", 1, &g_new));
  query_cache_put(c, "y", 1, g_new, res);
  query_cache_put(c, "x", 1, g_old, res);
  CHECK(has_key(c, "y", 1));
  CHECK(!has_key(c, "x", 1));
  /* A generation from the future is refused too. */
  query_cache_put(c, "z", 1, g_new + 1, res);
  CHECK(!has_key(c, "z", 1));

  PQclear(res);
  query_cache_free(c);
}

static void test_invalidate_and_disable(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  PGresult *res = make_result("v", 2);
  QUERY_CACHE_STATS st;
  char key[16];
  query_cache_set_enabled(c, 1);
  for (int i = 0; i < 10; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    put_key(c, key, res);
  }
  query_cache_stats(c, &st);
  CHECK(st.entries == 10 && st.bytes > 0 && st.invalidations == 0);

  query_cache_invalidate(c);
  query_cache_stats(c, &st);
  CHECK(st.entries == 0 && st.bytes == 0 && st.invalidations == 1 && st.enabled == 1);
  for (int i = 0; i < 10; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    CHECK(!has_key(c, key, strlen(key)));
  }
  /* Still on: refills. */
  put_key(c, "key0", res);
  CHECK(has_key(c, "key0", 4));

  /* set_enabled(0) drops and disables: nothing is served or stored. */
  for (int i = 1; i < 5; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    put_key(c, key, res);
  }
  query_cache_set_enabled(c, 0);
  query_cache_stats(c, &st);
  CHECK(st.entries == 0 && st.bytes == 0 && st.enabled == 0);
  CHECK(!has_key(c, "key0", 4));
  put_key(c, "key0", res);
  CHECK(!has_key(c, "key0", 4));
  query_cache_stats(c, &st);
  CHECK(st.entries == 0);

  /* Back on: empty, even of what was there before it went off. */
  query_cache_set_enabled(c, 1);
  CHECK(!has_key(c, "key1", 4));
  /* set_enabled(1) while on starts again empty too. */
  put_key(c, "key1", res);
  CHECK(has_key(c, "key1", 4));
  query_cache_set_enabled(c, 1);
  CHECK(!has_key(c, "key1", 4));

  PQclear(res);
  query_cache_free(c);
}

static void test_max_entries(void) {
  QUERY_CACHE *c = query_cache_new(8, 1 << 24);
  PGresult *res = make_result("v", 1);
  QUERY_CACHE_STATS st;
  char key[16];
  query_cache_set_enabled(c, 1);
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    put_key(c, key, res);
  }
  query_cache_stats(c, &st);
  CHECK(st.entries == 8);
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    CHECK(has_key(c, key, strlen(key)));
  }
  /* The ninth starts again: only it remains. */
  put_key(c, "key8", res);
  query_cache_stats(c, &st);
  CHECK(st.entries == 1);
  CHECK(has_key(c, "key8", 4));
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    CHECK(!has_key(c, key, strlen(key)));
  }
  /* Never more than the bound, however many go in. */
  for (int i = 100; i < 400; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    put_key(c, key, res);
    query_cache_stats(c, &st);
    CHECK(st.entries >= 1 && st.entries <= 8);
    CHECK(has_key(c, key, strlen(key))); /* the newest is always kept */
  }
  PQclear(res);
  query_cache_free(c);
}

static void test_max_bytes(void) {
  const size_t max = 64 * 1024;
  QUERY_CACHE *c = query_cache_new(100000, max);
  PGresult *small = make_blob_result(1000);
  PGresult *big = make_blob_result(max); /* alone over the bound */
  QUERY_CACHE_STATS st;
  char key[16];
  query_cache_set_enabled(c, 1);

  /* A result larger than the whole budget is not stored (and does not empty it). */
  put_key(c, "first", small);
  put_key(c, "big", big);
  CHECK(!has_key(c, "big", 3));
  CHECK(has_key(c, "first", 5));
  query_cache_stats(c, &st);
  CHECK(st.entries == 1 && st.bytes <= max);

  /* 1000-byte values: the cache fills to about the bound, then starts again. */
  size_t peak = 0, prev = 1;
  int restarted = 0;
  for (int i = 0; i < 300; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    put_key(c, key, small);
    query_cache_stats(c, &st);
    CHECK(st.bytes <= max);
    CHECK(has_key(c, key, strlen(key)));
    if (st.entries <= prev) {
      restarted = 1;
      CHECK(st.entries == 1); /* started again empty, then took this one */
    } else {
      CHECK(st.entries == prev + 1);
    }
    prev = st.entries;
    if (st.entries > peak) {
      peak = st.entries;
    }
  }
  CHECK(restarted);
  /* It filled up to the bound before starting again: 64 KiB / ~1.3 KiB per entry. */
  CHECK(peak >= 30 && peak <= 64);
  CHECK(!has_key(c, "first", 5));

  PQclear(small);
  PQclear(big);
  query_cache_free(c);
}

static void test_keys(void) {
  QUERY_CACHE *c = query_cache_new(1000, 1 << 20);
  PGresult *r1 = make_result("one", 1);
  PGresult *r2 = make_result("two", 1);
  PGresult *r3 = make_result("three", 1);
  PGresult *r4 = make_result("four", 1);
  uint64_t gen;
  query_cache_set_enabled(c, 1);

  /* Binary keys with NULs: one byte or the length makes another entry. */
  const unsigned char k1[] = {'a', 0, 'b', 0, 'c'};
  const unsigned char k2[] = {'a', 0, 'b', 0, 'd'};
  PQclear(query_cache_get(c, k1, sizeof(k1), &gen));
  query_cache_put(c, k1, sizeof(k1), gen, r1);
  CHECK(!has_key(c, k2, sizeof(k2)));
  CHECK(!has_key(c, k1, sizeof(k1) - 1));
  CHECK(!has_key(c, k1, 1));
  PQclear(query_cache_get(c, k2, sizeof(k2), &gen));
  query_cache_put(c, k2, sizeof(k2), gen, r2);
  PQclear(query_cache_get(c, k1, sizeof(k1) - 1, &gen));
  query_cache_put(c, k1, sizeof(k1) - 1, gen, r3);
  /* The empty key is a key. */
  PQclear(query_cache_get(c, "", 0, &gen));
  query_cache_put(c, "", 0, gen, r4);

  PGresult *got = query_cache_get(c, k1, sizeof(k1), &gen);
  CHECK(same_result(got, r1));
  PQclear(got);
  got = query_cache_get(c, k2, sizeof(k2), &gen);
  CHECK(same_result(got, r2));
  PQclear(got);
  got = query_cache_get(c, k1, sizeof(k1) - 1, &gen);
  CHECK(same_result(got, r3));
  PQclear(got);
  got = query_cache_get(c, "", 0, &gen);
  CHECK(same_result(got, r4));
  PQclear(got);

  /* Many keys that differ only in their last byte all stay apart. */
  for (int i = 0; i < 256; i++) {
    unsigned char k[40];
    memset(k, 'q', sizeof(k));
    k[39] = (unsigned char)i;
    PGresult *ri = make_result(i % 2 ? "odd" : "even", i % 7 + 1);
    PQclear(query_cache_get(c, k, sizeof(k), &gen));
    query_cache_put(c, k, sizeof(k), gen, ri);
    PQclear(ri);
  }
  int all_ok = 1;
  for (int i = 0; i < 256; i++) {
    unsigned char k[40];
    memset(k, 'q', sizeof(k));
    k[39] = (unsigned char)i;
    PGresult *want = make_result(i % 2 ? "odd" : "even", i % 7 + 1);
    got = query_cache_get(c, k, sizeof(k), &gen);
    all_ok = all_ok && same_result(got, want);
    PQclear(got);
    PQclear(want);
  }
  CHECK(all_ok);

  PQclear(r1);
  PQclear(r2);
  PQclear(r3);
  PQclear(r4);
  query_cache_free(c);
}

static void test_only_tuples_ok(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  QUERY_CACHE_STATS st;
  const ExecStatusType bad[] = {PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_FATAL_ERROR,
                                PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE};
  uint64_t gen;
  query_cache_set_enabled(c, 1);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    PGresult *res = PQmakeEmptyPGresult(NULL, bad[i]);
    CHECK(res != NULL);
    CHECK(query_cache_get(c, "k", 1, &gen) == NULL);
    query_cache_put(c, "k", 1, gen, res);
    CHECK(!has_key(c, "k", 1));
    PQclear(res);
  }
  query_cache_stats(c, &st);
  CHECK(st.entries == 0 && st.bytes == 0);
  query_cache_free(c);
}

static void test_stats(void) {
  QUERY_CACHE *c = query_cache_new(100, 1 << 20);
  PGresult *res = make_result("v", 1);
  QUERY_CACHE_STATS st;
  uint64_t gen;
  query_cache_set_enabled(c, 1);

  CHECK(query_cache_get(c, "a", 1, &gen) == NULL); /* miss 1 */
  query_cache_put(c, "a", 1, gen, res);
  PQclear(query_cache_get(c, "a", 1, &gen)); /* hit 1 */
  PQclear(query_cache_get(c, "a", 1, &gen)); /* hit 2 */
  PQclear(query_cache_get(c, "b", 1, &gen)); /* miss 2 */
  query_cache_stats(c, &st);
  CHECK(st.hits == 2 && st.misses == 2 && st.invalidations == 0);
  CHECK(st.entries == 1 && st.enabled == 1);
  size_t one = st.bytes;
  CHECK(one > 0);
  query_cache_put(c, "b", 1, gen, res);
  query_cache_stats(c, &st);
  CHECK(st.entries == 2 && st.bytes == 2 * one); /* same size result and key length */

  query_cache_invalidate(c);
  query_cache_invalidate(c);
  PQclear(query_cache_get(c, "a", 1, &gen)); /* miss 3 */
  query_cache_stats(c, &st);
  CHECK(st.hits == 2 && st.misses == 3 && st.invalidations == 2 && st.entries == 0 &&
        st.bytes == 0);

  /* A get while off counts as a miss; turning off is not an invalidation. */
  query_cache_set_enabled(c, 0);
  PQclear(query_cache_get(c, "a", 1, &gen));
  query_cache_stats(c, &st);
  CHECK(st.misses == 4 && st.invalidations == 2 && st.enabled == 0);

  PQclear(res);
  query_cache_free(c);
  query_cache_free(NULL);
}

/* The threads: each gets and puts its own and shared keys, and one in 64 operations
 * invalidates; every hit must be the result stored under that key. */
typedef struct thread_arg_st {
  QUERY_CACHE *c;
  int id;
  int bad;
  long ops, hits;
} THREAD_ARG;

static volatile int g_stop_threads;

static void *hammer(void *p) {
  THREAD_ARG *a = p;
  unsigned seed = (unsigned)a->id * 7919u + 1;
  while (!g_stop_threads) {
    int k = rand_r(&seed) % 64;
    char key[32], want[32];
    snprintf(key, sizeof(key), "key-%d", k);
    snprintf(want, sizeof(want), "val-%d-", k);
    uint64_t gen;
    PGresult *got = query_cache_get(a->c, key, strlen(key), &gen);
    if (got != NULL) {
      a->hits++;
      if (PQntuples(got) != k % 5 + 1 || strncmp(PQgetvalue(got, 0, 0), want, strlen(want))) {
        a->bad++;
      }
      PQclear(got);
    } else {
      PGresult *res = make_result(want, k % 5 + 1);
      query_cache_put(a->c, key, strlen(key), gen, res);
      PQclear(res);
    }
    if (rand_r(&seed) % 64 == 0) {
      query_cache_invalidate(a->c);
    }
    if (a->id == 0 && rand_r(&seed) % 4096 == 0) {
      query_cache_set_enabled(a->c, rand_r(&seed) % 2);
      query_cache_set_enabled(a->c, 1);
    }
    QUERY_CACHE_STATS st;
    if (rand_r(&seed) % 16 == 0) {
      query_cache_stats(a->c, &st);
      if (st.entries > 40) {
        a->bad++;
      }
    }
    a->ops++;
  }
  return NULL;
}

static void test_threads(void) {
  QUERY_CACHE *c = query_cache_new(40, 1 << 20);
  THREAD_ARG args[4];
  pthread_t t[4];
  query_cache_set_enabled(c, 1);
  g_stop_threads = 0;
  for (int i = 0; i < 4; i++) {
    memset(&args[i], 0, sizeof(args[i]));
    args[i].c = c;
    args[i].id = i;
    CHECK(pthread_create(&t[i], NULL, hammer, &args[i]) == 0);
  }
  struct timespec one_second = {1, 0};
  nanosleep(&one_second, NULL);
  g_stop_threads = 1;
  long ops = 0, hits = 0;
  int bad = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    ops += args[i].ops;
    hits += args[i].hits;
    bad += args[i].bad;
  }
  QUERY_CACHE_STATS st;
  query_cache_stats(c, &st);
  CHECK(bad == 0);
  CHECK(ops > 1000 && hits > 0);
  CHECK((long)(st.hits + st.misses) >= ops);
  CHECK(st.hits == (uint64_t)hits);
  printf("threads: %ld operations, %ld hits, %llu invalidations\n", ops, hits,
         (unsigned long long)st.invalidations);
  query_cache_free(c);
}

int main(void) {
  test_off_until_enabled();
  test_hit_is_independent_copy();
  test_stale_generation();
  test_invalidate_and_disable();
  test_max_entries();
  test_max_bytes();
  test_keys();
  test_only_tuples_ok();
  test_stats();
  test_threads();
  return test_summary("query_cache_test");
}
