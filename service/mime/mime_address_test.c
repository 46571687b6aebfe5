/* mime_address_test.c: RFC 5322 address lists (display names, quoted strings,
 * comments, groups, obsolete forms), duplicates, invalid entries, Message-ID. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/mime/mime_address.h"
#include "service/mime/mime_parse.h"
#include "service/mime/mime_test_util.h"

/* expect parses |value| and checks the addresses (|addrs|, "|"-separated), the
 * display name of the first one (NULL: none) and the invalid entries (|invalid|,
 * "|"-separated, "" for none). */
static void expect(const char *value, const char *addrs, const char *display,
                   const char *invalid) {
  MIME_ADDRESS_LIST *l = mime_address_list_new();
  CHECK(l != NULL);
  STATUS err;
  CHECK(mime_address_parse(l, value, &err));
  char got[1024] = "";
  for (size_t i = 0; i < l->num; i++) {
    strcat(got, i == 0 ? "" : "|");
    strcat(got, l->addrs[i].addr);
  }
  CHECK_MSG(strcmp(got, addrs) == 0, "'%s': addresses '%s', expected '%s'", value, got, addrs);
  if (l->num > 0) {
    const char *d = l->addrs[0].display;
    CHECK_MSG((d == NULL && display == NULL) ||
                  (d != NULL && display != NULL && strcmp(d, display) == 0),
              "'%s': display '%s', expected '%s'", value, d ? d : "(null)",
              display ? display : "(null)");
  }
  char bad[1024] = "";
  for (size_t i = 0; i < l->num_invalid; i++) {
    strcat(bad, i == 0 ? "" : "|");
    strcat(bad, l->invalid[i]);
  }
  CHECK_MSG(strcmp(bad, invalid) == 0, "'%s': invalid '%s', expected '%s'", value, bad, invalid);
  mime_address_list_free(l);
}

static void test_lists(void) {
  expect("bob@example.com", "bob@example.com", NULL, "");
  expect("Bob@EXAMPLE.com", "bob@example.com", NULL, "");
  expect("Bob Smith <Bob.Smith@Example.COM>", "bob.smith@example.com", "Bob Smith", "");
  expect("\"Smith, Bob\" <bob@example.com>, alice@example.com",
         "bob@example.com|alice@example.com", "Smith, Bob", "");
  expect("\"Bob \\\"the\\\" Builder\" <bob@x.org>", "bob@x.org", "Bob \"the\" Builder", "");
  expect("bob@example.com (Bob Smith)", "bob@example.com", "Bob Smith", "");
  expect("Bob (the (nested) comment) <bob@x.org>", "bob@x.org", "Bob", "");
  expect("John Q. Public <JQP@x.org>", "jqp@x.org", "John Q. Public", "");
  expect("=?UTF-8?Q?Andr=C3=A9?= <andre@x.org>", "andre@x.org", "Andr\xc3\xa9", "");
  expect("\"=?ISO-8859-1?Q?Andr=E9?=\" <andre@x.org>", "andre@x.org", "Andr\xc3\xa9", "");
  /* Groups (RFC 5322 section 3.4). */
  expect("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Mary <mary@x.test>",
         "c@a.test|joe@where.test|jdoe@one.test|mary@x.test", "Ed Jones", "");
  expect("undisclosed-recipients:;", "", NULL, "");
  expect("Undisclosed recipients:;, bob@x.org", "bob@x.org", NULL, "");
  /* Obsolete forms (RFC 5322 section 4.4). */
  expect("<@route1,@route2:bob@x.org>", "bob@x.org", NULL, "");
  expect("bob . smith @ example . com", "bob.smith@example.com", NULL, "");
  expect("Joe Q. Public <john.q.public@example.com>, , ,Mary <mary@x.net>",
         "john.q.public@example.com|mary@x.net", "Joe Q. Public", "");
  expect("\"john doe\"@example.com", "\"john doe\"@example.com", NULL, "");
  expect("\"john.doe\"@Example.com", "john.doe@example.com", NULL, "");
  expect("bob@[192.168.0.1]", "bob@[192.168.0.1]", NULL, "");
  /* What broken mailers send. */
  expect("John john@example.com", "john@example.com", "John", "");
  expect("bob@x.org; alice@y.org", "bob@x.org|alice@y.org", NULL, "");
  expect("<bob@x.org", "bob@x.org", NULL, "");
  expect("J\xc3\xbcrgen <j\xc3\xbcrgen@b\xc3\xbc\x63her.de>", "j\xc3\xbcrgen@b\xc3\xbc\x63her.de",
         "J\xc3\xbcrgen", "");
  /* Duplicates are kept once, case-insensitively. */
  expect("a@x.org, A@X.ORG, \"A\" <a@x.org>, b@x.org", "a@x.org|b@x.org", NULL, "");
  /* Invalid entries are named. */
  expect("Bob, alice@x.org", "alice@x.org", NULL, "Bob");
  expect("<>", "", NULL, "<>");
  expect("@x.org, a@, a@@b, a..b@x, .a@x, a@x..org, a@.x, valid@x.org",
         "valid@x.org", NULL, "@x.org|a@|a@@b|a..b@x|.a@x|a@x..org|a@.x");
  expect("", "", NULL, "");
  expect("   ", "", NULL, "");
  expect("(just a comment)", "", NULL, "");
  expect("\"unterminated <a@b.c>", "", NULL, "\"unterminated <a@b.c>");
  expect("(unterminated comment a@b.c", "", NULL, "");
  expect("a@b.c ))] stray", "a@b.c", NULL, "");
}

static void test_from_headers(void) {
  const char *msg = "From: Alice <Alice@Example.com>\r\nTo: bob@example.com\r\n"
                    "Cc: carol@example.com, Bob <BOB@example.com>\r\nTo: dave@example.com\r\n\r\n";
  STATUS err;
  MIME_TREE *t = mime_parse((const uint8_t *)msg, strlen(msg), NULL, &err);
  CHECK(t != NULL);
  MIME_ADDRESS_LIST *rcpt = mime_address_list_new();
  CHECK(mime_address_from_header(rcpt, mime_tree_root(t), "to", &err));
  CHECK(mime_address_from_header(rcpt, mime_tree_root(t), "cc", &err));
  CHECK(rcpt->num == 3);
  CHECK(strcmp(rcpt->addrs[0].addr, "bob@example.com") == 0);
  CHECK(strcmp(rcpt->addrs[1].addr, "dave@example.com") == 0);
  CHECK(strcmp(rcpt->addrs[2].addr, "carol@example.com") == 0);
  CHECK(mime_address_contains(rcpt, "Carol@Example.COM"));
  CHECK(!mime_address_contains(rcpt, "alice@example.com"));
  MIME_ADDRESS_LIST *from = mime_address_list_new();
  CHECK(mime_address_from_header(from, mime_tree_root(t), "from", &err));
  CHECK(from->num == 1 && strcmp(from->addrs[0].addr, "alice@example.com") == 0);
  mime_address_list_free(rcpt);
  mime_address_list_free(from);
  mime_address_list_free(NULL);
  mime_tree_free(t);

  /* Many addresses: duplicates found through the index, linear time. */
  size_t n = 200000;
  char *big = malloc(n * 24);
  CHECK(big != NULL);
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    len += (size_t)sprintf(big + len, "u%zu@x.org, ", i % (n / 2));
  }
  MIME_ADDRESS_LIST *l = mime_address_list_new();
  double t0 = test_now();
  CHECK(mime_address_parse(l, big, &err));
  double dt = test_now() - t0;
  CHECK(l->num == n / 2);
  CHECK_MSG(dt < 5.0, "200000 addresses took %.2fs", dt);
  mime_address_list_free(l);
  free(big);
}

static void test_message_id(void) {
  static const char *const cases[][2] = {
      {"<1234@local.machine.example>", "1234@local.machine.example"},
      {"  (comment) <abc@def>  (trailing)", "abc@def"},
      {"<abc@\r\n def>", "abc@def"},
      {"abc@def", "abc@def"},
      {"abc@def (comment)", "abc@def"},
      {"<unterminated@x", "unterminated@x"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *id = mime_message_id(cases[i][0]);
    CHECK_MSG(id != NULL && strcmp(id, cases[i][1]) == 0, "'%s' -> '%s'", cases[i][0],
              id ? id : "(null)");
    free(id);
  }
  CHECK(mime_message_id("") == NULL);
  CHECK(mime_message_id("<>") == NULL);
  CHECK(mime_message_id("  (only a comment) ") == NULL);
}

int main(void) {
  test_lists();
  test_from_headers();
  test_message_id();
  printf("PASS\n");
  return 0;
}
