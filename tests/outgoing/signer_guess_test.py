"""signer_guess_test: SignEncrypt's guess of the signer (service/front/sign_hint.h).

The front guesses that a signing call's signer is the previous one's and asks the engine
that analyzes the message to prepare the signature for it when the sender is that
signer's address. Counted through smimed_worker_requests_total: a signature costs 3
engine requests (analyze_message, sign_prepare, sign_finish) when the guess is missing
or wrong, 2 when it is right. Every message is checked by `openssl cms -verify` (and
`-decrypt` when encrypted), so a prepared signature used for the wrong certificate,
options or content would fail here:
  - no guess yet; then the same sender (right guess);
  - another sender (the guess names another address), then that sender again;
  - other options (RSA-PSS) for a guessed signer: prepared with the call's options;
  - a newer certificate for the guessed address: the guess names the old one, whose
    preparation is not used; the signature is the new certificate's."""

import re
import unittest
import urllib.request

import smimed_fixture as fx
from outgoing_util import CERTS, decrypt, message, openssl, sign_encrypt, start, verify


class SignerGuessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = fx.free_port()
        cls.d, cls.pki = start(extra_args=["--metrics-listen", "127.0.0.1:%d" % cls.port])

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def engine_requests(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        return int(re.search(r'^smimed_worker_requests_total\{worker="engine"\} (\d+)$', text,
                             re.M).group(1))

    def sign(self, frm, want_requests, encrypt=False, **opts):
        """sign signs a message from |frm| (and encrypts it for carol), checks it with
        openssl and that it took |want_requests| engine requests (None: not checked, the
        guess being what the test before left); returns the response."""
        before = self.engine_requests()
        r = sign_encrypt(self.d, message(frm=frm), sign=True, encrypt=encrypt,
                         recipients=["carol@example.com"] if encrypt else [], **opts)
        if want_requests is not None:
            self.assertEqual(self.engine_requests() - before, want_requests, frm)
        out = r.message
        if encrypt:
            out = decrypt(self.pki, out, *(self.pki.path("carol" + x) for x in (".key", ".pem")))
        self.assertIn(b"your ticket is solved.", verify(self.pki, out))
        return r

    def test_01_same_sender(self):
        self.sign("Alice <alice@example.com>", 3)
        r = self.sign("Alice <alice@example.com>", 2)
        self.assertEqual(list(r.signer.email_addresses), ["alice@example.com"])
        self.sign("alice@EXAMPLE.com", 2)

    def test_02_other_sender(self):
        self.sign("Alice <alice@example.com>", None)
        self.sign("Dave <dave@example.com>", 3)
        self.sign("Dave <dave@example.com>", 2, encrypt=True)
        self.sign("Alice <alice@example.com>", 3)

    def test_03_other_options(self):
        self.sign("Alice <alice@example.com>", None)
        r = self.sign("Alice <alice@example.com>", 2, signature_scheme="SIGNATURE_SCHEME_RSA_PSS")
        p7 = openssl("smime", "-pk7out", "-in", self.pki.write("pss.eml", r.message)).stdout
        text = openssl("cms", "-cmsout", "-print", "-inform", "PEM", data=p7).stdout.decode()
        self.assertIn("rsassaPss", text)

    def test_04_newer_certificate(self):
        self.sign("Alice <alice@example.com>", None)
        # A newer certificate for alice@example.com, issued now by the test intermediate:
        # the store chooses it (latest notBefore, then latest import).
        ext = self.pki.write("alice2.cnf", b"[v3]\nbasicConstraints = CA:false\n"
                             b"keyUsage = critical, digitalSignature, keyEncipherment\n"
                             b"extendedKeyUsage = emailProtection\n"
                             b"subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"
                             b"subjectAltName = email:alice@example.com\n")
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                self.pki.path("alice2.key"), "-subj", "/O=smimed tests/CN=Alice Renewed",
                "-out", self.pki.path("alice2.csr"))
        openssl("x509", "-req", "-in", self.pki.path("alice2.csr"), "-CA",
                self.pki.path("inter.pem"), "-CAkey", self.pki.path("inter.key"),
                "-set_serial", "0x4242", "-days", "30", "-extfile", ext, "-extensions", "v3",
                "-out", self.pki.path("alice2.pem"))
        self.d.call(CERTS + "ImportCertificates",
                    data=self.pki.read("alice2.pem") + self.pki.read("alice2.key"))
        r = self.sign("Alice <alice@example.com>", 3)
        self.assertIn("Alice Renewed", r.signer.subject)
        r = self.sign("Alice <alice@example.com>", 2)
        self.assertIn("Alice Renewed", r.signer.subject)


if __name__ == "__main__":
    unittest.main()
