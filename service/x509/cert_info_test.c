/* cert_info_test: cert_info_new on a PKI made by the OpenSSL 3 command line at test
 * time (tests/pki/make_pki.sh, argv[1]), on certificates made here for the corner
 * cases, and on Thunderbird's NSS-made certificates (argv[2..4]: TestCA.pem, Alice.p12,
 * Alice-ec.p12). Every field that `openssl x509` can print is compared with what it
 * prints (fingerprints, names, serial, dates, addresses, key size, key identifiers,
 * the SubjectPublicKeyInfo's hash); the rest against a table of expectations. */
#include <string.h>
#include <time.h>

#include "service/common/status.h"
#include "service/x509/cert_info.h"
#include "service/x509/cert_info_memo.h"
#include "service/x509/containers.h"
#include "service/x509/x509_testutil.h"

static char *g_pki;

/* check_outline: cert_outline reads the issuer and validity cert_info_new read, pointing
 * into the DER it was given. */
static void check_outline(const CERT_INFO *info, const uint8_t *der, size_t len) {
  CERT_OUTLINE o;
  STATUS st;
  status_clear(&st);
  CHECK(cert_outline(der, len, &o, &st));
  CHECK(o.issuer_der >= der && o.issuer_der + o.issuer_der_len <= der + len);
  CHECK(o.issuer_der_len == info->issuer_der_len);
  CHECK(memcmp(o.issuer_der, info->issuer_der, o.issuer_der_len) == 0);
  CHECK(o.not_before == info->not_before);
  CHECK(o.not_after == info->not_after);
}

/* parse_der_file parses the DER certificate in |path|. */
static CERT_INFO *parse_der_file(const char *path) {
  size_t len;
  uint8_t *der = testutil_read_file(path, &len);
  STATUS st;
  status_clear(&st);
  CERT_INFO *info = cert_info_new(der, len, &st);
  if (info == NULL) {
    fprintf(stderr, "%s: %s\n", path, st.message);
  }
  CHECK(info != NULL);
  check_outline(info, der, len);
  free(der);
  return info;
}

/* pem_to_der converts the first certificate of |pem| to DER in |der_path|. */
static void pem_to_der(const char *pem, const char *der_path) {
  free(testutil_run("openssl x509 -in '%s' -outform DER -out '%s'", pem, der_path));
}

/* openssl_field runs `openssl x509 -inform DER -in |der| -noout |args|` and returns
 * its output after the first '=' of its first line. */
static char *openssl_field(const char *der, const char *args) {
  char *out = testutil_run("openssl x509 -inform DER -in '%s' -noout %s", der, args);
  char *eq = strchr(out, '=');
  CHECK(eq != NULL);
  char *nl = strchr(eq, '\n');
  if (nl != NULL) {
    *nl = '\0';
  }
  char *ret = strdup(eq + 1);
  CHECK(ret != NULL);
  free(out);
  return ret;
}

/* openssl_time reads a date printed with -dateopt iso_8601 ("2028-11-28 07:07:19Z"). */
static int64_t openssl_time(const char *der, const char *which) {
  char args[64];
  snprintf(args, sizeof(args), "-%s -dateopt iso_8601", which);
  char *s = openssl_field(der, args);
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  CHECK(sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) == 6);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  free(s);
  return (int64_t)timegm(&tm);
}

/* has_email says whether |info| lists |addr|. */
static int has_email(const CERT_INFO *info, const char *addr) {
  for (size_t i = 0; i < info->num_emails; i++) {
    if (strcmp(info->emails[i], addr) == 0) {
      return 1;
    }
  }
  return 0;
}

/* referee compares |info| with what `openssl x509` says about the DER file |der|. */
static void referee(const CERT_INFO *info, const char *der) {
  char *hex = testutil_hex(info->sha256, sizeof(info->sha256));
  char *want = testutil_unhex_colons(openssl_field(der, "-fingerprint -sha256"));
  CHECK(strcmp(hex, want) == 0);
  free(hex);
  free(want);

  hex = testutil_hex(info->sha1, sizeof(info->sha1));
  want = testutil_unhex_colons(openssl_field(der, "-fingerprint -sha1"));
  CHECK(strcmp(hex, want) == 0);
  free(hex);
  free(want);

  want = openssl_field(der, "-subject -nameopt RFC2253,-esc_msb");
  if (strcmp(info->subject, want) != 0) {
    fprintf(stderr, "subject: ours [%s], openssl [%s]\n", info->subject, want);
  }
  CHECK(strcmp(info->subject, want) == 0);
  free(want);
  want = openssl_field(der, "-issuer -nameopt RFC2253,-esc_msb");
  CHECK(strcmp(info->issuer, want) == 0);
  free(want);

  /* referee compares serials as magnitudes: openssl prints whole bytes ("01"), with a
   * "-" for a negative serial. */
  want = openssl_field(der, "-serial");
  char *digits = want[0] == '-' ? want + 1 : want;
  testutil_unhex_colons(digits);
  while (digits[0] == '0' && digits[1] != '\0') {
    digits++;
  }
  CHECK(strcmp(info->serial_hex, digits) == 0);
  free(want);

  CHECK(info->not_before == openssl_time(der, "startdate"));
  CHECK(info->not_after == openssl_time(der, "enddate"));

  /* referee: openssl -email prints subject emailAddress and SAN rfc822Name values, in
   * its own order and case, duplicates included. */
  char *emails = testutil_run("openssl x509 -inform DER -in '%s' -noout -email", der);
  size_t distinct = 0;
  char *save = NULL;
  char *seen[64];
  for (char *line = strtok_r(emails, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    for (char *c = line; *c != '\0'; c++) {
      *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    }
    CHECK(has_email(info, line));
    int dup = 0;
    for (size_t i = 0; i < distinct; i++) {
      dup |= strcmp(seen[i], line) == 0;
    }
    if (!dup) {
      CHECK(distinct < 64);
      seen[distinct++] = line;
    }
  }
  CHECK(distinct == info->num_emails);
  free(emails);

  char *spki = testutil_run(
      "openssl x509 -inform DER -in '%s' -noout -pubkey | openssl pkey -pubin -outform DER"
      " | openssl dgst -sha256 -r | cut -d' ' -f1",
      der);
  hex = testutil_hex(info->spki_sha256, sizeof(info->spki_sha256));
  CHECK(strcmp(hex, spki) == 0);
  free(hex);
  free(spki);

  char *ski = testutil_unhex_colons(testutil_run(
      "openssl x509 -inform DER -in '%s' -noout -ext subjectKeyIdentifier | sed -n 2p",
      der));
  hex = testutil_hex(info->subject_key_id, info->subject_key_id_len);
  CHECK(strcmp(hex, ski) == 0);
  free(hex);
  free(ski);
  char *aki = testutil_unhex_colons(testutil_run(
      "openssl x509 -inform DER -in '%s' -noout -ext authorityKeyIdentifier | sed -n 2p"
      " | sed 's/keyid://'",
      der));
  hex = testutil_hex(info->authority_key_id, info->authority_key_id_len);
  CHECK(strcmp(hex, aki) == 0);
  free(hex);
  free(aki);

  char *bits = testutil_run("openssl x509 -inform DER -in '%s' -noout -text | "
                            "sed -n 's/.*Public-Key: (\\([0-9]*\\) bit).*/\\1/p'",
                            der);
  if (bits[0] != '\0') {
    CHECK((unsigned)atoi(bits) == info->key_bits);
  }
  free(bits);

  /* referee: the *_der fields lie inside the certificate. */
  CHECK(info->subject_der > info->der && info->subject_der < info->der + info->der_len);
  CHECK(info->issuer_der[0] == 0x30 && info->subject_der[0] == 0x30);
  CHECK(info->serial_der_len > 0);
}

/* struct expect is what the table below says about one certificate. */
struct expect {
  const char *file; /* PEM file in the PKI directory */
  int key_algorithm;
  unsigned key_bits;
  const char *key_name;
  int can_sign, can_encrypt, is_ca, status;
  const char *reason;  /* exact status_reason ("" when valid) */
  const char *emails;  /* expected addresses, comma-separated, in order */
};

static const struct expect kPki[] = {
    {"alice.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "alice@example.com"},
    {"bob.pem", CERT_KEY_RSA, 3072, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "bob@example.com,bob.alias@example.com"},
    {"carol.pem", CERT_KEY_RSA, 4096, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "carol@example.com"},
    {"dave.pem", CERT_KEY_EC_P256, 256, "EC P-256", 1, 1, 0, CERT_STATUS_VALID, "",
     "dave@example.com"},
    {"erin.pem", CERT_KEY_EC_P384, 384, "EC P-384", 1, 1, 0, CERT_STATUS_VALID, "",
     "erin@example.com"},
    {"subjmail.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "subjmail@example.com"},
    {"expired.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "expired@example.com"},
    {"notyet.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "notyet@example.com"},
    {"serverauth.pem", CERT_KEY_RSA, 2048, "RSA", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "extended key usage lacks emailProtection (has: serverAuth)", "srv@example.com"},
    {"noaddr.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_NOT_FOR_SMIME,
     "no mail address in subjectAltName or subject emailAddress", ""},
    {"weak.pem", CERT_KEY_RSA, 1024, "RSA", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "RSA key of 1024 bits is too weak; at least 2048 are required", "weak@example.com"},
    {"dsa.pem", CERT_KEY_OTHER, 2048, "DSA", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "DSA keys are not supported for S/MIME here", "dsa@example.com"},
    {"ed.pem", CERT_KEY_ED25519, 256, "Ed25519", 1, 0, 0, CERT_STATUS_VALID, "",
     "ed@example.com"},
    {"root.pem", CERT_KEY_RSA, 3072, "RSA", 0, 0, 1, CERT_STATUS_VALID, "", ""},
    {"inter.pem", CERT_KEY_RSA, 2048, "RSA", 0, 0, 1, CERT_STATUS_VALID, "", ""},
    /* Made by make_extra below. */
    {"noku.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "noku@example.com"},
    {"nonrep.pem", CERT_KEY_RSA, 2048, "RSA", 1, 0, 0, CERT_STATUS_VALID, "",
     "nonrep@example.com"},
    {"encipher.pem", CERT_KEY_RSA, 2048, "RSA", 0, 1, 0, CERT_STATUS_VALID, "",
     "encipher@example.com"},
    {"certsign.pem", CERT_KEY_RSA, 2048, "RSA", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "key usage allows neither signing nor encryption", "certsign@example.com"},
    {"anyeku.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "anyeku@example.com"},
    {"twoeku.pem", CERT_KEY_RSA, 2048, "RSA", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "extended key usage lacks emailProtection (has: serverAuth, clientAuth); no mail "
     "address in subjectAltName or subject emailAddress",
     ""},
    {"ecenc.pem", CERT_KEY_EC_P256, 256, "EC P-256", 0, 1, 0, CERT_STATUS_VALID, "",
     "ecenc@example.com"},
    {"p521.pem", CERT_KEY_OTHER, 521, "EC secp521r1", 0, 0, 0, CERT_STATUS_NOT_FOR_SMIME,
     "EC keys on curve secp521r1 are not supported for S/MIME here", "p521@example.com"},
    {"x25519.pem", CERT_KEY_X25519, 256, "X25519", 0, 1, 0, CERT_STATUS_VALID, "",
     "x25519@example.com"},
    {"dupmail.pem", CERT_KEY_RSA, 2048, "RSA", 1, 1, 0, CERT_STATUS_VALID, "",
     "dup@example.com,other@example.com"},
    {"v1root.pem", CERT_KEY_EC_P256, 256, "EC P-256", 1, 1, 1, CERT_STATUS_VALID, "", ""},
    {"names.pem", CERT_KEY_EC_P256, 256, "EC P-256", 1, 1, 1, CERT_STATUS_VALID, "", ""},
};

/* make_extra makes the corner cases of the table with the OpenSSL command line, signed
 * by the PKI's intermediate. */
static void make_extra(void) {
  static const char kScript[] =
      "set -e; cd '%s'; export OPENSSL_CONF=/dev/null\n"
      "cat > extra.cnf <<'EOF'\n"
      "[noku]\nbasicConstraints=CA:false\nextendedKeyUsage=emailProtection\n"
      "subjectAltName=email:noku@example.com\n"
      "[nonrep]\nkeyUsage=nonRepudiation\nsubjectAltName=email:nonrep@example.com\n"
      "[encipher]\nkeyUsage=keyEncipherment\nsubjectAltName=email:encipher@example.com\n"
      "[certsign]\nkeyUsage=keyCertSign\nsubjectAltName=email:certsign@example.com\n"
      "[anyeku]\nkeyUsage=digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=anyExtendedKeyUsage\nsubjectAltName=email:anyeku@example.com\n"
      "[twoeku]\nextendedKeyUsage=serverAuth,clientAuth\n"
      "[ecenc]\nkeyUsage=keyAgreement\nsubjectAltName=email:ecenc@example.com\n"
      "[p521]\nkeyUsage=digitalSignature,keyAgreement\n"
      "subjectAltName=email:p521@example.com\n"
      "[x25519]\nkeyUsage=keyAgreement\nsubjectAltName=email:x25519@example.com\n"
      "[dupmail]\nsubjectAltName=email:DUP@example.com,email:other@example.com,"
      "email:dup@EXAMPLE.com\n"
      "EOF\n"
      "leaf() { # NAME KEYFILE SUBJECT\n"
      "  openssl req -new -key \"$2\" -subj \"$3\" -out \"$1.csr\"\n"
      "  openssl x509 -req -in \"$1.csr\" -CA inter.pem -CAkey inter.key -set_serial \"$4\" "
      "-days 30 -extfile extra.cnf -extensions \"$1\" -out \"$1.pem\" $5 2>/dev/null\n"
      "}\n"
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key\n"
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out p521.key\n"
      "openssl genpkey -algorithm X25519 -out x25519.key\n"
      "openssl pkey -in x25519.key -pubout -out x25519.pub\n"
      "leaf noku alice.key /CN=noku 11\n"
      "leaf nonrep alice.key /CN=nonrep 12\n"
      "leaf encipher alice.key /CN=encipher 13\n"
      "leaf certsign alice.key /CN=certsign 14\n"
      "leaf anyeku alice.key /CN=anyeku 15\n"
      "leaf twoeku alice.key /CN=twoeku 16\n"
      "leaf ecenc ec.key /CN=ecenc 0x00ff\n"
      "leaf p521 p521.key /CN=p521 18\n"
      "leaf x25519 ec.key /CN=x25519 19 '-force_pubkey x25519.pub'\n"
      "leaf dupmail alice.key '/CN=dup/emailAddress=Dup@Example.com' 20\n"
      "openssl req -new -key ec.key -subj '/CN=v1 root' -out v1root.csr\n"
      "openssl x509 -req -in v1root.csr -signkey ec.key -days 30 -set_serial -5 "
      "-out v1root.pem 2>/dev/null\n"
      "openssl req -x509 -key ec.key -out names.pem -utf8 -multivalue-rdn -days 3 "
      "-addext basicConstraints=critical,CA:true "
      "-subj '/C=DE/O=A\\+B \"Q\" <x>;y\\, z=1/OU= #lead/CN=M\xc3\xbcller\\, "
      "J\xc3\xbcrgen+UID=jm'\n";
  free(testutil_run(kScript, g_pki));
}

/* check_expect parses one file of the table and checks it. */
static void check_expect(const struct expect *e) {
  char *pem = testutil_path(g_pki, e->file);
  char der[4096];
  snprintf(der, sizeof(der), "%s.der", pem);
  pem_to_der(pem, der);
  CERT_INFO *info = parse_der_file(der);
  if (info->status != e->status || strcmp(info->status_reason, e->reason) != 0 ||
      info->can_sign != e->can_sign || info->can_encrypt != e->can_encrypt) {
    fprintf(stderr, "%s: status %d [%s] sign %d encrypt %d\n", e->file, info->status,
            info->status_reason, info->can_sign, info->can_encrypt);
  }
  CHECK(info->key_algorithm == e->key_algorithm);
  CHECK(info->key_bits == e->key_bits);
  CHECK(strcmp(info->key_name, e->key_name) == 0);
  CHECK(info->can_sign == e->can_sign);
  CHECK(info->can_encrypt == e->can_encrypt);
  CHECK(info->is_ca == e->is_ca);
  CHECK(info->status == e->status);
  CHECK(strcmp(info->status_reason, e->reason) == 0);
  char joined[512] = "";
  for (size_t i = 0; i < info->num_emails; i++) {
    size_t used = strlen(joined);
    snprintf(joined + used, sizeof(joined) - used, "%s%s", i == 0 ? "" : ",",
             info->emails[i]);
  }
  if (strcmp(joined, e->emails) != 0) {
    fprintf(stderr, "%s: emails [%s], want [%s]\n", e->file, joined, e->emails);
  }
  CHECK(strcmp(joined, e->emails) == 0);
  referee(info, der);
  cert_info_free(info);
  free(pem);
}

/* check_memo: cert_info_memo_new answers as cert_info_new does, the second time from
 * the memo (the same CERT_INFO); a CERT_INFO held by a caller stays whole while others
 * take the memo's slots; refusals are the same. */
static void check_memo(void) {
  CERT_INFO *held = NULL;
  for (size_t i = 0; i < sizeof(kPki) / sizeof(kPki[0]); i++) {
    char *pem = testutil_path(g_pki, kPki[i].file);
    char der_path[4096];
    snprintf(der_path, sizeof(der_path), "%s.der", pem);
    size_t len;
    uint8_t *der = testutil_read_file(der_path, &len);
    STATUS st;
    status_clear(&st);
    CERT_INFO *fresh = cert_info_new(der, len, &st);
    CERT_INFO *first = cert_info_memo_new(der, len, &st);
    CERT_INFO *again = cert_info_memo_new(der, len, &st);
    CHECK(fresh != NULL && first != NULL && again == first);
    CHECK(memcmp(first->sha256, fresh->sha256, sizeof(fresh->sha256)) == 0);
    CHECK(strcmp(first->subject, fresh->subject) == 0 && first->status == fresh->status &&
          first->num_emails == fresh->num_emails && first->not_after == fresh->not_after);
    cert_info_free(fresh);
    cert_info_free(again);
    if (held == NULL) {
      held = first;
    } else {
      cert_info_free(first);
    }
    free(pem);
    free(der);
  }
  CHECK(held->der_len > 0 && held->subject[0] != '\0');
  cert_info_free(held);
  uint8_t broken[] = {0x30, 0x03, 0x02, 0x01, 0x01};
  STATUS a, b;
  status_clear(&a);
  status_clear(&b);
  CHECK(cert_info_new(broken, sizeof(broken), &a) == NULL);
  CHECK(cert_info_memo_new(broken, sizeof(broken), &b) == NULL);
  CHECK(a.code == b.code && strcmp(a.message, b.message) == 0);
}

/* check_chain_links: alice's issuer Name and authority key id are the intermediate's
 * subject Name and subject key id, byte for byte; the serial's content octets are
 * openssl's; alice's key file has alice's SPKI hash. */
static void check_chain_links(void) {
  char *a = testutil_path(g_pki, "alice.der");
  char *i_pem = testutil_path(g_pki, "inter.pem");
  char i_der[4096];
  snprintf(i_der, sizeof(i_der), "%s.der", i_pem);
  pem_to_der(i_pem, i_der);
  CERT_INFO *alice = parse_der_file(a);
  CERT_INFO *inter = parse_der_file(i_der);
  CHECK(alice->issuer_der_len == inter->subject_der_len);
  CHECK(memcmp(alice->issuer_der, inter->subject_der, alice->issuer_der_len) == 0);
  CHECK(alice->authority_key_id_len == inter->subject_key_id_len);
  CHECK(memcmp(alice->authority_key_id, inter->subject_key_id,
               alice->authority_key_id_len) == 0);
  char *serial = testutil_hex(alice->serial_der, alice->serial_der_len);
  CHECK(strcmp(serial, alice->serial_hex) == 0); /* 0x1001: no sign byte needed */
  free(serial);

  char *key_spki = testutil_run(
      "openssl pkey -in '%s/alice.key' -pubout -outform DER | openssl dgst -sha256 -r | "
      "cut -d' ' -f1",
      g_pki);
  char *hex = testutil_hex(alice->spki_sha256, sizeof(alice->spki_sha256));
  CHECK(strcmp(hex, key_spki) == 0);
  free(hex);
  free(key_spki);

  /* check_chain_links: the dates of make_pki.sh's fixed-date leaves, UTCTime and
   * GeneralizedTime (2050 and later). */
  char *p = testutil_path(g_pki, "expired.pem");
  pem_to_der(p, i_der);
  CERT_INFO *expired = parse_der_file(i_der);
  CHECK(expired->not_before == 1577836800); /* 2020-01-01T00:00:00Z */
  CHECK(expired->not_after == 1609459200);  /* 2021-01-01T00:00:00Z */
  free(p);
  p = testutil_path(g_pki, "notyet.pem");
  pem_to_der(p, i_der);
  CERT_INFO *notyet = parse_der_file(i_der);
  CHECK(notyet->not_before == 4070908800); /* 2099-01-01T00:00:00Z */
  CHECK(notyet->not_after == 4102358400);  /* 2099-12-31T00:00:00Z */
  free(p);

  p = testutil_path(g_pki, "ecenc.pem");
  pem_to_der(p, i_der);
  CERT_INFO *ecenc = parse_der_file(i_der);
  /* check_chain_links: serial 0xff is encoded 00 ff; the hex drops the sign byte. */
  CHECK(ecenc->serial_der_len == 2 && ecenc->serial_der[0] == 0 &&
        ecenc->serial_der[1] == 0xff);
  CHECK(strcmp(ecenc->serial_hex, "ff") == 0);
  free(p);
  p = testutil_path(g_pki, "v1root.pem");
  pem_to_der(p, i_der);
  CERT_INFO *v1 = parse_der_file(i_der);
  CHECK(strcmp(v1->serial_hex, "5") == 0); /* -5: its magnitude */
  CHECK(v1->subject_key_id == NULL && v1->subject_key_id_len == 0);
  free(p);

  cert_info_free(alice);
  cert_info_free(inter);
  cert_info_free(expired);
  cert_info_free(notyet);
  cert_info_free(ecenc);
  cert_info_free(v1);
  free(a);
  free(i_pem);
}

/* expect_error checks that |der| is refused with |code| and a message containing
 * |part|. */
static void expect_error(const uint8_t *der, size_t len, int code, const char *part) {
  STATUS st;
  status_clear(&st);
  CERT_INFO *info = cert_info_new(der, len, &st);
  if (info != NULL || st.code != code || strstr(st.message, part) == NULL) {
    fprintf(stderr, "got code %d [%s], want %d [...%s...]\n", st.code, st.message, code,
            part);
  }
  CHECK(info == NULL);
  CHECK(st.code == code);
  CHECK(strstr(st.message, part) != NULL);
  /* cert_outline refuses what the structure walk refuses, in the same words (the rest
   * is BoringSSL's parser, which cert_outline does not run). */
  CERT_OUTLINE o;
  STATUS ost;
  status_clear(&ost);
  if (!cert_outline(der, len, &o, &ost)) {
    CHECK(strcmp(ost.message, st.message) == 0);
  }
}

/* check_errors: broken certificates are refused saying where. */
static void check_errors(void) {
  char *a = testutil_path(g_pki, "alice.der");
  size_t len;
  uint8_t *der = testutil_read_file(a, &len);
  expect_error(der, 0, STATUS_INVALID_ARGUMENT,
               "not a valid X.509 certificate (ASN.1 error at Certificate, offset 0: "
               "missing");
  expect_error(der, len - 1, STATUS_INVALID_ARGUMENT,
               "not a valid X.509 certificate (ASN.1 error at Certificate, offset 0: bad "
               "tag or length (truncated, or not DER))");
  uint8_t *longer = malloc(len + 2);
  CHECK(longer != NULL);
  memcpy(longer, der, len);
  longer[len] = 0;
  longer[len + 1] = 0;
  expect_error(longer, len + 2, STATUS_INVALID_ARGUMENT,
               "2 bytes of trailing data after the certificate");
  free(longer);

  /* check_errors: the serial's tag (at offset 4 + 5: after the SEQUENCE headers and
   * the version) turned into a BOOLEAN. */
  uint8_t *bad = malloc(len);
  CHECK(bad != NULL);
  memcpy(bad, der, len);
  CHECK(bad[13] == 0x02);
  bad[13] = 0x01;
  expect_error(bad, len, STATUS_INVALID_ARGUMENT,
               "ASN.1 error at tbsCertificate.serialNumber, offset 13: expected INTEGER, "
               "found BOOLEAN");
  free(bad);

  /* check_errors: the notBefore's month set to 13. */
  uint8_t *p = memmem(der, len, "\x17\x0d", 2);
  CHECK(p != NULL);
  bad = malloc(len);
  CHECK(bad != NULL);
  memcpy(bad, der, len);
  bad[(p - der) + 4] = '1';
  bad[(p - der) + 5] = '3';
  expect_error(bad, len, STATUS_INVALID_ARGUMENT,
               "at tbsCertificate.validity.notBefore, offset");
  expect_error(bad, len, STATUS_INVALID_ARGUMENT, "not a valid UTCTime");
  free(bad);

  /* check_errors: the subject's CN (a UTF8String "Alice") made invalid UTF-8: found by
   * BoringSSL's parser, reported with its place. */
  uint8_t *cn = NULL;
  for (size_t i = 0; i + 5 <= len; i++) {
    if (memcmp(der + i, "Alice", 5) == 0) {
      cn = der + i;
    }
  }
  CHECK(cn != NULL && cn[-2] == 0x0c);
  bad = malloc(len);
  CHECK(bad != NULL);
  memcpy(bad, der, len);
  bad[(cn - der) + 1] = 0xff;
  expect_error(bad, len, STATUS_INVALID_ARGUMENT,
               "not a valid X.509 certificate (INVALID_UTF8STRING in X509.cert_info > "
               "X509_CINF.subject)");
  free(bad);

  uint8_t *huge = calloc(1, CERT_INFO_MAX_DER + 1);
  CHECK(huge != NULL);
  expect_error(huge, CERT_INFO_MAX_DER + 1, STATUS_RESOURCE_EXHAUSTED, "over the limit");
  free(huge);
  free(der);
  free(a);
}

/* check_nss: Thunderbird's certificates, made by NSS: TestCA.pem, and the two
 * certificates in each .p12 (taken out by openssl, password "nss"). */
static void check_nss(const char *test_ca, const char *alice_p12, const char *alice_ec_p12) {
  char der[4096];
  snprintf(der, sizeof(der), "%s/TestCA.der", g_pki);
  pem_to_der(test_ca, der);
  CERT_INFO *ca = parse_der_file(der);
  CHECK(ca->is_ca);
  CHECK(ca->status == CERT_STATUS_VALID);
  CHECK(ca->key_algorithm == CERT_KEY_RSA && ca->key_bits == 2048);
  CHECK(strcmp(ca->subject,
               "CN=NSS Test CA (RSA),O=BOGUS NSS,L=Mountain View,ST=California,C=US") == 0);
  CHECK(ca->num_emails == 0);
  referee(ca, der);

  const char *p12s[2] = {alice_p12, alice_ec_p12};
  for (int k = 0; k < 2; k++) {
    char pem[4096];
    snprintf(pem, sizeof(pem), "%s/nss%d.pem", g_pki, k);
    free(testutil_run("openssl pkcs12 -in '%s' -nokeys -passin pass:nss -out '%s'", p12s[k],
                      pem));
    size_t len;
    uint8_t *data = testutil_read_file(pem, &len);
    STATUS st;
    status_clear(&st);
    CERT_FILE *f = cert_file_parse(data, len, &st);
    CHECK(f != NULL);
    CHECK(f->num_certs == 2);
    for (size_t i = 0; i < f->num_certs; i++) {
      CERT_INFO *info = cert_info_new(f->certs[i].der, f->certs[i].der_len, &st);
      CHECK(info != NULL);
      snprintf(der, sizeof(der), "%s/nss%d-%zu.der", g_pki, k, i);
      testutil_write_file(der, f->certs[i].der, f->certs[i].der_len);
      referee(info, der);
      CHECK(info->status == CERT_STATUS_VALID);
      if (info->is_ca) {
        /* check_nss: the EC CA has a P-521 key: stored, named, not one of ours. */
        CHECK(k == 0 || (info->key_algorithm == CERT_KEY_OTHER &&
                         strcmp(info->key_name, "EC secp521r1") == 0));
      } else {
        /* check_nss: the address is only in the subject; no keyUsage, no EKU. */
        CHECK(info->num_emails == 1);
        CHECK(strcmp(info->emails[0], k == 0 ? "alice@example.com"
                                             : "alice-ec@example.com") == 0);
        CHECK(info->key_algorithm == (k == 0 ? CERT_KEY_RSA : CERT_KEY_EC_P384));
        CHECK(info->can_sign && info->can_encrypt);
        CHECK(info->not_after >= 1924992000 && info->not_after < 1956528000); /* 2031 */
      }
      cert_info_free(info);
    }
    cert_file_free(f);
    free(data);
  }
  cert_info_free(ca);
}

int main(int argc, char **argv) {
  CHECK(argc == 5);
  g_pki = testutil_make_pki(argv[1]);
  make_extra();
  for (size_t i = 0; i < sizeof(kPki) / sizeof(kPki[0]); i++) {
    check_expect(&kPki[i]);
  }
  check_chain_links();
  check_memo();
  check_errors();
  check_nss(argv[2], argv[3], argv[4]);
  cert_info_free(NULL);
  free(testutil_run("rm -rf '%s'", g_pki));
  free(g_pki);
  printf("cert_info_test: all passed\n");
  return 0;
}
