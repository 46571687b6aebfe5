"""outgoing_errors_test: what SignEncrypt refuses, and how: a clear status naming every
address concerned, one failure entry in the audit log per call, nothing else written;
allow_expired; and GetSecurityOptions' verdicts and group defaults."""

import re
import unittest

import grpc

import smimed_fixture as fx
from smimed_fixture import code_of
from outgoing_util import MSG, logs, message, sign_encrypt, start, verify, decrypt

OUT = "DIRECTION_OUTGOING"


class OutgoingErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.pki = start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def refused(self, msg, code, *fragments, **kw):
        """refused checks that SignEncrypt fails with |code| and a message holding each
        fragment, and that exactly one failure entry was written for it."""
        before = logs(self.d, direction=OUT)
        got, details = code_of(lambda: sign_encrypt(self.d, msg, **kw))
        self.assertEqual(got, code, details)
        for f in fragments:
            self.assertIn(f, details)
        after = logs(self.d, direction=OUT)
        self.assertEqual(len(after), len(before) + 1)
        entry = after[0]
        self.assertEqual(entry.status, 2)  # FAILURE
        self.assertIn(fragments[0] if fragments else "failed", entry.comment)
        return details, entry

    def test_no_private_key_for_sender(self):
        # subjmail's certificate is stored without its key.
        _, entry = self.refused(message(frm="SubjMail@Example.com"),
                                grpc.StatusCode.FAILED_PRECONDITION,
                                "no private key for the signing certificate of "
                                "subjmail@example.com", sign=True)
        self.assertIn("subjmail@example.com", entry.addresses)
        self.assertEqual(list(entry.operations), [1])

    def test_unknown_sender(self):
        self.refused(message(frm="stranger@example.org"), grpc.StatusCode.FAILED_PRECONDITION,
                     "no certificate for stranger@example.org", sign=True)

    def test_every_unusable_recipient_is_named(self):
        msg = message(to="nobody@example.com, expired@example.com, carol@example.com",
                      cc="ghost@example.net")
        details, entry = self.refused(
            msg, grpc.StatusCode.FAILED_PRECONDITION, "no certificate for nobody@example.com",
            "certificate for expired@example.com expired on 2021-01-01",
            "no certificate for ghost@example.net", sign=True, encrypt=True)
        self.assertNotIn("carol", details)
        mid = re.search(r"Message-ID: <([^>]*)>", msg.decode()).group(1)
        self.assertEqual(entry.message_id, mid)
        self.assertEqual(sorted(entry.operations), [1, 2])
        for a in ("alice@example.com", "nobody@example.com", "ghost@example.net"):
            self.assertIn(a, entry.addresses)

    def test_expired_and_allow_expired(self):
        msg = message(to="expired@example.com")
        self.refused(msg, grpc.StatusCode.FAILED_PRECONDITION,
                     "certificate for expired@example.com expired on 2021-01-01T00:00:00Z",
                     encrypt=True)
        r = sign_encrypt(self.d, msg, encrypt=True, allow_expired=True)
        self.assertIn(b"solved", decrypt(self.pki, r.message, self.pki.path("expired.key"),
                                         self.pki.path("expired.pem")))
        entry = logs(self.d, direction=OUT)[0]
        self.assertEqual(entry.id, r.log_entry_id)
        self.assertIn("allow_expired", entry.comment)
        # An expired signer, too.
        msg = message(frm="expired@example.com", to="carol@example.com")
        self.refused(msg, grpc.StatusCode.FAILED_PRECONDITION,
                     "certificate for expired@example.com expired on", sign=True)
        r = sign_encrypt(self.d, msg, sign=True, allow_expired=True)
        self.assertEqual(r.signer.status, 2)  # EXPIRED

    def test_malformed_input(self):
        self.refused(b"Subject: no sender\r\n\r\nbody\r\n", grpc.StatusCode.INVALID_ARGUMENT,
                     "the message has no From address", sign=True)
        self.refused(b"From: not an address\r\n\r\nbody\r\n", grpc.StatusCode.INVALID_ARGUMENT,
                     "no From address", sign=True)
        self.refused(b"just some text without any header\r\n", grpc.StatusCode.INVALID_ARGUMENT,
                     "", encrypt=True)
        broken = message(extra="MIME-Version: 1.0").replace(
            b"Content-Type: text/plain; charset=utf-8", b"Content-Type: multipart/mixed")
        self.refused(broken, grpc.StatusCode.INVALID_ARGUMENT, "without a boundary", sign=True)
        bad64 = message().replace(b"Content-Type: text/plain; charset=utf-8",
                                  b"Content-Type: application/pdf\nContent-Transfer-Encoding: base64")
        bad64 = bad64.replace(b"Hello,\nyour ticket is solved.\n", b"%%%% not base64 \x01\xff\n")
        self.refused(bad64, grpc.StatusCode.INVALID_ARGUMENT, "", sign=True)
        self.refused(message(), grpc.StatusCode.INVALID_ARGUMENT, "nothing to do")
        self.refused(message(), grpc.StatusCode.INVALID_ARGUMENT, "options.digest",
                     sign=True, digest="DIGEST_ALGORITHM_SHA1")
        self.refused(message(), grpc.StatusCode.INVALID_ARGUMENT, "signature_scheme",
                     sign=True, signature_scheme="SIGNATURE_SCHEME_ECDSA")

    def test_signer_fingerprint(self):
        certs = self.d.call("smime.v1.CertificateService/ListCertificates",
                            email="alice@example.com").certificates
        r = sign_encrypt(self.d, message(), sign=True,
                         signer_sha256_fingerprint=certs[0].sha256_fingerprint)
        self.assertEqual(r.signer.sha256_fingerprint, certs[0].sha256_fingerprint)
        verify(self.pki, r.message)
        dave = self.d.call("smime.v1.CertificateService/ListCertificates",
                           email="dave@example.com").certificates[0]
        self.refused(message(), grpc.StatusCode.FAILED_PRECONDITION, "is not for alice@example.com",
                     sign=True, signer_sha256_fingerprint=dave.sha256_fingerprint)

    def test_security_options(self):
        G = fx.protos().message("smime.v1.GroupDefaults")
        self.d.call("smime.v1.SettingsService/UpdateSettings",
                    group_defaults=[G(group="support", default_sign=True, default_encrypt=True)])
        r = self.d.call(MSG + "GetSecurityOptions", **{"from": "Alice@Example.com"},
                        recipients=["dave@example.com", "nobody@example.com",
                                    "expired@example.com"], group="support")
        self.assertTrue(r.sign.possible)
        self.assertTrue(r.sign.default_on)
        self.assertEqual(r.sign.addresses[0].address, "alice@example.com")
        self.assertEqual(list(r.sign.addresses[0].certificate.email_addresses),
                         ["alice@example.com"])
        self.assertFalse(r.encrypt.possible)
        self.assertFalse(r.encrypt.default_on)
        verdicts = {a.address: (a.usable, a.reason) for a in r.encrypt.addresses}
        self.assertEqual(verdicts["dave@example.com"], (True, ""))
        self.assertEqual(verdicts["alice@example.com"], (True, ""))
        self.assertEqual(verdicts["nobody@example.com"],
                         (False, "no certificate for nobody@example.com"))
        self.assertFalse(verdicts["expired@example.com"][0])
        self.assertIn("expired on 2021-01-01", verdicts["expired@example.com"][1])
        r = self.d.call(MSG + "GetSecurityOptions", **{"from": "subjmail@example.com"},
                        recipients=["carol@example.com"], group="support")
        self.assertFalse(r.sign.possible)
        self.assertIn("no private key", r.sign.addresses[0].reason)
        self.assertTrue(r.encrypt.possible)
        self.assertTrue(r.encrypt.default_on)
        r = self.d.call(MSG + "GetSecurityOptions", **{"from": "alice@example.com"},
                        recipients=["carol@example.com"], group="billing")
        self.assertTrue(r.sign.possible and r.encrypt.possible)
        self.assertFalse(r.sign.default_on or r.encrypt.default_on)
        code, _ = code_of(lambda: self.d.call(MSG + "GetSecurityOptions", recipients=["a@b.c"]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_zz_disabled(self):
        self.d.call("smime.v1.SettingsService/UpdateSettings", enabled=False)
        try:
            for method, kw in (("SignEncrypt", dict(message=message(), sign=True)),
                               ("GetSecurityOptions", {"from": "alice@example.com"})):
                code, details = code_of(lambda: self.d.call(MSG + method, **kw))
                self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
                self.assertIn("disabled", details)
        finally:
            fx.enable(self.d)


if __name__ == "__main__":
    fx.main()
