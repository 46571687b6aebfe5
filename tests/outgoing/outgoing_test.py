"""outgoing_test: SignEncrypt end to end through the daemon, with what it produces
checked by the OpenSSL 3 command line: signatures (RSA PKCS#1 v1.5, RSA-PSS, ECDSA
P-256 and P-384; SHA-256/384/512; detached and opaque) verify with `openssl cms
-verify` against the test root; encryptions (RSA PKCS#1 v1.5 and OAEP, ECDH P-256 and
P-384; AES-CBC and AES-GCM) decrypt with `openssl cms -decrypt` and each recipient's
key, Thunderbird's Bob among them; sign+encrypt decrypts, then verifies."""

import os
import re
import unittest

import smimed_fixture as fx
from outgoing_util import (CERTS, decrypt, headers_of, logs, message, sign_encrypt, start,
                           verify, openssl)

TB = fx.runfile("tests/interop/thunderbird/smime")


class OutgoingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.pki = start()
        with open(os.path.join(TB, "TestCA.pem"), "rb") as f:
            cls.d.call(CERTS + "ImportCertificates", data=f.read())
        with open(os.path.join(TB, "Bob.p12"), "rb") as f:
            cls.d.call(CERTS + "ImportCertificates", data=f.read(), password="nss")
        p12 = os.path.join(TB, "Bob.p12")
        cls.tb_key = cls.pki.write("tb-bob.key", openssl(
            "pkcs12", "-in", p12, "-passin", "pass:nss", "-nocerts", "-nodes").stdout)
        cls.tb_cert = cls.pki.write("tb-bob.pem", openssl(
            "pkcs12", "-in", p12, "-passin", "pass:nss", "-nokeys", "-clcerts").stdout)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def key(self, name):
        return self.pki.path(name + ".key"), self.pki.path(name + ".pem")

    def test_01_sign_default_detached(self):
        msg = message()
        r = sign_encrypt(self.d, msg, sign=True)
        out = r.message
        head = headers_of(out)
        self.assertIn("multipart/signed", head)
        self.assertIn('micalg=sha-256', head)
        self.assertIn('protocol="application/pkcs7-signature"', head)
        for field in ("From: Alice <alice@example.com>", "To: carol@example.com",
                      "Subject: Ticket #42", "Message-ID: <"):
            self.assertIn(field, head)
        self.assertNotIn(b"\n", out.replace(b"\r\n", b""))  # CRLF throughout
        content = verify(self.pki, out)
        self.assertIn(b"your ticket is solved.", content)
        self.assertEqual(list(r.signer.email_addresses), ["alice@example.com"])
        self.assertEqual(len(r.recipients), 0)
        self.assertGreater(r.log_entry_id, 0)
        mid = re.search(r"Message-ID: <([^>]*)>", msg.decode()).group(1)
        [entry] = logs(self.d, message_id=mid)
        self.assertEqual(entry.id, r.log_entry_id)
        self.assertEqual(entry.direction, 2)  # OUTGOING
        self.assertEqual(list(entry.operations), [1])  # SIGN
        self.assertEqual(entry.status, 1)
        self.assertEqual(list(entry.certificate_sha256), [r.signer.sha256_fingerprint])
        self.assertIn("alice@example.com", entry.addresses)
        self.assertIn("carol@example.com", entry.addresses)
        # The signature carries the chain: verifying needs only the root.
        p7 = openssl("smime", "-pk7out", "-in", self.pki.write("c.eml", out)).stdout
        p7 = openssl("pkcs7", "-print_certs", "-noout", data=p7).stdout.decode()
        self.assertIn("Intermediate", p7)

    def test_02_sign_matrix(self):
        """RSA PKCS#1 v1.5 and PSS, ECDSA P-256 and P-384, each hash, both formats."""
        signers = [("alice", "SIGNATURE_SCHEME_UNSPECIFIED", "rsaEncryption"),
                   ("alice", "SIGNATURE_SCHEME_RSA_PSS", "rsassaPss"),
                   ("dave", "SIGNATURE_SCHEME_UNSPECIFIED", "ecdsa-with-SHA"),
                   ("erin", "SIGNATURE_SCHEME_ECDSA", "ecdsa-with-SHA")]
        for name, scheme, alg in signers:
            for digest, micalg in (("DIGEST_ALGORITHM_SHA256", "sha-256"),
                                   ("DIGEST_ALGORITHM_SHA384", "sha-384"),
                                   ("DIGEST_ALGORITHM_SHA512", "sha-512")):
                for fmt in ("SIGNATURE_FORMAT_DETACHED", "SIGNATURE_FORMAT_OPAQUE"):
                    with self.subTest(signer=name, scheme=scheme, digest=digest, fmt=fmt):
                        msg = message(frm="%s@example.com" % name.capitalize())
                        r = sign_encrypt(self.d, msg, sign=True, digest=digest,
                                         signature_scheme=scheme, signature_format=fmt)
                        head = headers_of(r.message)
                        if fmt.endswith("OPAQUE"):
                            self.assertIn("smime-type=signed-data", head)
                        else:
                            self.assertIn("micalg=" + micalg, head)
                        content = verify(self.pki, r.message)
                        self.assertIn(b"your ticket is solved.", content)
                        info = openssl("cms", "-cmsout", "-print", "-in",
                                       self.pki.path("to-verify.eml")).stdout.decode()
                        self.assertIn(alg, info)
                        self.assertIn(digest.split("_")[-1].lower(), info.lower())

    def test_03_encrypt_matrix(self):
        """Every recipient decrypts, with each cipher and key transport."""
        recipients = {"carol@example.com": self.key("carol"),
                      "dave@example.com": self.key("dave"),
                      "erin@example.com": self.key("erin"),
                      "bob@example.com": (self.tb_key, self.tb_cert),
                      "alice@example.com": self.key("alice")}  # the sender
        ciphers = [("CONTENT_CIPHER_UNSPECIFIED", "enveloped-data", "aes-256-cbc"),
                   ("CONTENT_CIPHER_AES128_CBC", "enveloped-data", "aes-128-cbc"),
                   ("CONTENT_CIPHER_AES128_GCM", "authEnveloped-data", "aes-128-gcm"),
                   ("CONTENT_CIPHER_AES256_GCM", "authEnveloped-data", "aes-256-gcm")]
        for cipher, smime_type, cipher_name in ciphers:
            for transport in ("KEY_TRANSPORT_UNSPECIFIED", "KEY_TRANSPORT_RSA_OAEP"):
                with self.subTest(cipher=cipher, transport=transport):
                    msg = message(to="carol@example.com, Dave <dave@example.com>",
                                  cc="erin@example.com, bob@example.com")
                    r = sign_encrypt(self.d, msg, encrypt=True, cipher=cipher,
                                     key_transport=transport)
                    head = headers_of(r.message)
                    self.assertIn("smime-type=" + smime_type, head)
                    self.assertIn("Subject: Ticket #42", head)
                    self.assertEqual(len(r.recipients), 5)
                    info = openssl("cms", "-cmsout", "-print", "-in",
                                   self.pki.write("e.eml", r.message)).stdout.decode()
                    self.assertIn(cipher_name, info.lower())
                    if transport.endswith("OAEP"):
                        self.assertIn("rsaesOaep", info)
                    for addr, (key, cert) in recipients.items():
                        plain = decrypt(self.pki, r.message, key, cert)
                        self.assertIn(b"your ticket is solved.", plain, addr)

    def test_04_sign_then_encrypt(self):
        for fmt in ("SIGNATURE_FORMAT_DETACHED", "SIGNATURE_FORMAT_OPAQUE"):
            with self.subTest(fmt=fmt):
                msg = message(frm="dave@example.com", to="carol@example.com")
                r = sign_encrypt(self.d, msg, sign=True, encrypt=True, signature_format=fmt,
                                 cipher="CONTENT_CIPHER_AES256_GCM")
                self.assertIn("authEnveloped-data", headers_of(r.message))
                for name in ("carol", "dave"):
                    inner = decrypt(self.pki, r.message, *self.key(name))
                    head = headers_of(inner)
                    self.assertIn("multipart/signed" if fmt.endswith("DETACHED")
                                  else "signed-data", head)
                    content = verify(self.pki, inner)
                    self.assertIn(b"your ticket is solved.", content)
                [entry] = logs(self.d, message_id=re.search(
                    r"Message-ID: <([^>]*)>", msg.decode()).group(1))
                self.assertEqual(sorted(entry.operations), [1, 2])
                self.assertEqual(len(entry.certificate_sha256), 2)

    def test_05_request_recipients_override_to_cc(self):
        msg = message(to="nobody@example.com")
        r = sign_encrypt(self.d, msg, encrypt=True, recipients=["Erin@Example.com"])
        self.assertEqual(sorted(a for c in r.recipients for a in c.email_addresses),
                         ["alice@example.com", "erin@example.com"])
        self.assertIn(b"solved", decrypt(self.pki, r.message, *self.key("erin")))

    def test_06_8bit_and_multipart_content_survive(self):
        body = ("--b1\n"
                "Content-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n"
                "Grüße, line with trailing space \n"
                "From the helpdesk\n"
                "--b1\n"
                "Content-Type: application/octet-stream; name=a.bin\n"
                "Content-Transfer-Encoding: base64\n\n"
                "AAECAwQFBgcICQ==\n"
                "--b1--\n")
        msg = message(body=body).replace(b"Content-Type: text/plain; charset=utf-8",
                                         b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"', 1)
        r = sign_encrypt(self.d, msg, sign=True)
        self.assertTrue(all(b < 0x80 for b in r.message))  # 7-bit on the wire
        content = verify(self.pki, r.message)
        self.assertIn(b"multipart/mixed", content)
        self.assertIn(b"AAECAwQFBgcICQ==", content)


if __name__ == "__main__":
    fx.main()
