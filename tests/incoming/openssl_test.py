"""openssl_test: DecryptVerify on messages made by the OpenSSL 3 command line (each
signature and decryption status), malformed CMS inside well-formed MIME, and
ListRetryable, against the real daemon; how many worker requests a DecryptVerify costs
(smimed_worker_requests_total)."""

import base64
import os
import random
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

import smimed_fixture as fx

MSG = "smime.v1.MessageService/"
CERTS = "smime.v1.CertificateService/"
LOGS = "smime.v1.LogService/"

SIGNED, ENVELOPED, AUTH_ENVELOPED = 1, 2, 3
VALID, INVALID, UNTRUSTED, NOT_SENDER, EXPIRED, WEAK, SIG_MALFORMED = 1, 2, 3, 4, 5, 6, 7
DECRYPTED, NO_KEY, FAILED, DEC_MALFORMED = 1, 2, 3, 4
OAEP, ECDH = 2, 3
CONTENT = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nHello from the OpenSSL test.\r\n"


class OpensslTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="smimed-pki.")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), cls.pki], check=True)
        cls.port = fx.free_port()
        cls.d = fx.Daemon(extra_args=["--metrics-listen", "127.0.0.1:%d" % cls.port]).start()
        fx.enable(cls.d)
        cls.d.call(CERTS + "ImportCertificates", data=cls.read("root.pem"))
        for name in ("bob", "dave"):
            cls.d.call(CERTS + "ImportCertificates",
                       data=cls.read(name + ".pem") + cls.read(name + ".key"))
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.pki, ignore_errors=True)

    @classmethod
    def read(cls, name):
        with open(os.path.join(cls.pki, name), "rb") as f:
            return f.read()

    def p(self, name):
        return os.path.join(self.pki, name)

    def openssl(self, *args, data=CONTENT):
        return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                              check=True, env=dict(os.environ, OPENSSL_CONF="/dev/null")).stdout

    def sign(self, who="alice", *extra, data=CONTENT):
        return self.openssl("cms", "-sign", "-signer", self.p(who + ".pem"), "-inkey",
                            self.p(who + ".key"), "-certfile", self.p("inter.pem"), *extra,
                            data=data)

    def encrypt(self, recipients, *extra, data=CONTENT):
        return self.openssl("cms", "-encrypt", *extra, *[self.p(r + ".pem") for r in recipients],
                            data=data)

    def message(self, entity, sender="alice@example.com", message_id=None):
        OpensslTest.n += 1
        mid = message_id or "openssl-%d@example.com" % OpensslTest.n
        head = ("From: %s\r\nTo: bob@example.com\r\nSubject: test %d\r\n"
                "Message-ID: <%s>\r\n" % (sender, OpensslTest.n, mid)).encode()
        return head + entity

    def open(self, msg):
        return self.d.call(MSG + "DecryptVerify", message=msg)

    def worker_requests(self):
        """worker_requests: smimed_worker_requests_total by worker, from the metrics."""
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
        return {w: int(n) for w, n in re.findall(
            r'^smimed_worker_requests_total\{worker="(\w+)"\} (\d+)$', text, re.M)}

    def open_counted(self, msg):
        """open_counted is open, with the engine and keystore requests it cost."""
        before = self.worker_requests()
        r = self.open(msg)
        after = self.worker_requests()
        return r, {w: after[w] - before[w] for w in after}

    def one_signature(self, msg, status):
        r = self.open(msg)
        sigs = [l for l in r.layers if l.kind == SIGNED]
        self.assertEqual(len(sigs), 1, r)
        self.assertEqual(sigs[0].signature_status, status, sigs[0].comment)
        self.assertTrue(sigs[0].comment)
        return r, sigs[0]

    def one_envelope(self, msg, status):
        r = self.open(msg)
        encs = [l for l in r.layers if l.kind in (ENVELOPED, AUTH_ENVELOPED)]
        self.assertEqual(len(encs), 1, r)
        self.assertEqual(encs[0].decryption_status, status, encs[0].comment)
        return r, encs[0]

    # Signatures.

    def test_detached_valid(self):
        r, s = self.one_signature(self.message(self.sign()), VALID)
        self.assertTrue(s.detached)
        self.assertEqual(list(s.signer_certificate.email_addresses), ["alice@example.com"])
        self.assertFalse(s.signer_certificate.has_private_key)
        self.assertEqual(s.digest, 2)  # SHA-256
        self.assertGreater(s.signing_time.seconds, 0)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)
        self.assertIn(b"Subject: test", r.message)
        self.assertNotIn(b"multipart/signed", r.message)
        self.assertGreater(r.log_entry_id, 0)

    def test_tampered_body_invalid(self):
        msg = self.message(self.sign()).replace(b"Hello from", b"Jello from")
        self.one_signature(msg, INVALID)

    def test_forged_lookalike_untrusted(self):
        # A self-signed certificate with Alice's very subject and address.
        subj = self.openssl("x509", "-in", self.p("alice.pem"), "-noout", "-subject",
                            "-nameopt", "RFC2253", data=None).decode().strip()
        subj = "/" + "/".join(reversed(subj.split("=", 1)[1].split(",")))
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                     self.p("forged.key"), "-out", self.p("forged.pem"), "-days", "30",
                     "-subj", subj, "-addext", "subjectAltName=email:alice@example.com",
                     data=None)
        msg = self.message(self.openssl("cms", "-sign", "-signer", self.p("forged.pem"),
                                        "-inkey", self.p("forged.key")))
        r, s = self.one_signature(msg, UNTRUSTED)
        self.assertIn("alice@example.com", list(s.signer_certificate.email_addresses))

    def test_from_not_signer(self):
        self.one_signature(self.message(self.sign(), sender="mallory@example.com"), NOT_SENDER)

    def test_sender_header_counts(self):
        entity = self.sign()
        msg = self.message(entity, sender="list@example.com")
        msg = b"Sender: Alice <ALICE@Example.com>\r\n" + msg
        self.one_signature(msg, VALID)

    def test_expired_signer(self):
        self.one_signature(self.message(self.sign("expired"), sender="expired@example.com"),
                           EXPIRED)

    def test_sha1_weak(self):
        r, s = self.one_signature(self.message(self.sign("alice", "-md", "sha1")), WEAK)
        self.assertEqual(s.digest, 1)

    def test_rsa_1024_weak(self):
        self.one_signature(self.message(self.sign("weak"), sender="weak@example.com"), WEAK)

    def test_rsa_pss(self):
        r, s = self.one_signature(
            self.message(self.sign("alice", "-keyopt", "rsa_padding_mode:pss")), VALID)
        self.assertEqual(s.signature_scheme, 2)

    def test_ecdsa(self):
        r, s = self.one_signature(self.message(self.sign("dave"), sender="dave@example.com"),
                                  VALID)
        self.assertEqual(s.signature_scheme, 3)
        self.assertTrue(s.signer_certificate.has_private_key)  # Dave's is stored

    def test_opaque(self):
        r, s = self.one_signature(self.message(self.sign("alice", "-nodetach")), VALID)
        self.assertFalse(s.detached)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_ber_stream_opaque(self):
        r, s = self.one_signature(self.message(self.sign("alice", "-nodetach", "-stream")),
                                  VALID)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_binary_signature_part(self):
        der = self.sign("alice", "-nodetach", "-outform", "DER")
        entity = (b"Content-Type: application/pkcs7-mime; name=smime.p7m\r\n"
                  b"Content-Transfer-Encoding: binary\r\n\r\n" + der)
        r, s = self.one_signature(self.message(entity), VALID)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_smime_p7m_octet_stream_no_smime_type(self):
        der = self.sign("alice", "-nodetach", "-outform", "DER")
        entity = (b"Content-Type: application/octet-stream; name=\"smime.p7m\"\r\n"
                  b"Content-Transfer-Encoding: base64\r\n\r\n" +
                  base64.encodebytes(der).replace(b"\n", b"\r\n"))
        self.one_signature(self.message(entity), VALID)

    # Encryption.

    def test_rsa_pkcs1_cbc(self):
        r, e = self.one_envelope(self.message(self.encrypt(["bob"], "-aes-256-cbc")), DECRYPTED)
        self.assertEqual(e.cipher, 3)
        self.assertEqual(e.key_transport, 1)
        self.assertIn("bob@example.com", list(e.recipient_certificate.email_addresses))
        self.assertTrue(e.recipient_certificate.has_private_key)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)
        self.assertNotIn(b"pkcs7-mime", r.message)

    def test_oaep(self):
        r, e = self.one_envelope(self.message(self.openssl(
            "cms", "-encrypt", "-aes-128-cbc", "-recip", self.p("bob.pem"), "-keyopt",
            "rsa_padding_mode:oaep")), DECRYPTED)
        self.assertEqual(e.key_transport, OAEP)
        self.assertEqual(e.cipher, 1)

    def test_ecdh(self):
        r, e = self.one_envelope(self.message(self.encrypt(["dave"], "-aes-256-cbc")), DECRYPTED)
        self.assertEqual(e.key_transport, ECDH)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_gcm(self):
        r, e = self.one_envelope(self.message(self.encrypt(["bob"], "-aes-256-gcm")), DECRYPTED)
        self.assertEqual(e.kind, AUTH_ENVELOPED)
        self.assertEqual(e.cipher, 5)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_keyid_recipient(self):
        r, e = self.one_envelope(self.message(self.encrypt(["bob"], "-keyid")), DECRYPTED)

    def test_3des(self):
        r, e = self.one_envelope(self.message(self.encrypt(["bob"], "-des3")), DECRYPTED)
        self.assertEqual(e.cipher, 6)

    def test_several_recipients(self):
        self.one_envelope(self.message(self.encrypt(["carol", "alice", "bob"])), DECRYPTED)

    def test_no_key_held(self):
        r, e = self.one_envelope(self.message(self.encrypt(["carol"])), NO_KEY)
        self.assertIn(b"application/", r.message)  # still encrypted

    def test_sign_then_encrypt(self):
        signed = self.sign()
        msg = self.message(self.encrypt(["bob"], data=signed))
        r = self.open(msg)
        self.assertEqual([l.kind for l in r.layers], [ENVELOPED, SIGNED])
        self.assertEqual(r.layers[0].decryption_status, DECRYPTED)
        self.assertEqual(r.layers[1].signature_status, VALID, r.layers[1].comment)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)

    def test_worker_requests(self):
        """Each layer costs one engine request (decrypt_layer also one unwrap_cek of the
        keystore): verify_layer and decrypt_layer open the entity they produce, and
        assemble the opened message when it is the innermost, up to 1 MiB."""
        signed = self.sign()
        big = CONTENT + (b"x" * 76 + b"\r\n") * 14000  # 1.1 MB
        cases = [
            (self.message(b"Content-Type: text/plain\r\n\r\nplain\r\n"), 1, 0),
            (self.message(signed), 2, 0),
            (self.message(self.encrypt(["bob"])), 2, 1),
            (self.message(self.encrypt(["bob"], data=signed)), 3, 1),
            # Over 1 MiB the message is not sent again: assemble_opened on its own.
            (self.message(self.sign(data=big)), 3, 0),
        ]
        for msg, engine, keystore in cases:
            r, cost = self.open_counted(msg)
            self.assertEqual(cost, {"engine": engine, "keystore": keystore}, r.layers)
            for l in r.layers:
                self.assertIn(l.signature_status or l.decryption_status, (VALID, DECRYPTED))

    # Malformed input.

    def wrap(self, der, smime_type):
        return (("Content-Type: application/pkcs7-mime; smime-type=%s; name=smime.p7m\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n" % smime_type).encode() +
                base64.encodebytes(der).replace(b"\n", b"\r\n"))

    def test_malformed_cms(self):
        rnd = random.Random(5)
        env = self.encrypt(["bob"], "-outform", "DER")
        sig = self.sign("alice", "-nodetach", "-outform", "DER")
        cases = [(bytes(rnd.getrandbits(8) for _ in range(300)), "enveloped-data", DEC_MALFORMED),
                 (env[:len(env) // 2], "enveloped-data", DEC_MALFORMED),
                 (env[:40], "enveloped-data", DEC_MALFORMED),
                 (sig[:len(sig) // 2], "signed-data", SIG_MALFORMED),
                 (bytes(rnd.getrandbits(8) for _ in range(300)), "signed-data", SIG_MALFORMED)]
        for i in range(20):
            b = bytearray(sig)
            for _ in range(4):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            cases.append((bytes(b), "signed-data", None))
            b = bytearray(env)
            for _ in range(4):
                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
            cases.append((bytes(b), "enveloped-data", None))
        for der, smime_type, want in cases:
            r = self.open(self.message(self.wrap(der, smime_type)))
            self.assertEqual(len(r.layers), 1, r)
            l = r.layers[0]
            if want == DEC_MALFORMED:
                self.assertEqual(l.decryption_status, DEC_MALFORMED, l.comment)
            elif want == SIG_MALFORMED:
                self.assertEqual(l.signature_status, SIG_MALFORMED, l.comment)
            else:
                # Mutations: any clear verdict but a good one.
                self.assertNotEqual(l.signature_status, VALID, l.comment)
        # A detached signature that is garbage: the content still shows.
        entity = (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature";'
                  b' micalg=sha-256; boundary="b1"\r\n\r\n--b1\r\n' + CONTENT +
                  b'\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n'
                  b'Content-Transfer-Encoding: base64\r\n\r\n' +
                  base64.encodebytes(b"\x30\x80garbage" * 10).replace(b"\n", b"\r\n") +
                  b'\r\n--b1--\r\n')
        r = self.open(self.message(entity))
        self.assertEqual(r.layers[0].signature_status, SIG_MALFORMED, r.layers[0].comment)
        self.assertIn(b"Hello from the OpenSSL test.", r.message)
        # The daemon is healthy.
        self.one_signature(self.message(self.sign()), VALID)

    # ListRetryable.

    def retryable_ids(self):
        return [m.log_entry.message_id for m in
                self.d.call(LOGS + "ListRetryable", page_size=1000).messages]

    def test_retry_after_key_import(self):
        msg = self.message(self.encrypt(["erin"], "-aes-256-cbc"),
                           message_id="retry-erin@example.com")
        r, e = self.one_envelope(msg, NO_KEY)
        self.assertNotIn("retry-erin@example.com", self.retryable_ids())
        self.d.call(CERTS + "ImportCertificates",
                    data=self.read("erin.pem") + self.read("erin.key"))
        listed = [m for m in self.d.call(LOGS + "ListRetryable", page_size=1000).messages
                  if m.log_entry.message_id == "retry-erin@example.com"]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0].log_entry.id, r.log_entry_id)
        self.assertIn("private key", listed[0].reason)
        self.assertIn("erin", listed[0].reason.lower())
        self.one_envelope(msg, DECRYPTED)
        self.assertNotIn("retry-erin@example.com", self.retryable_ids())

    def test_retry_after_ca_import(self):
        # Signed under a CA nobody imported: untrusted, then retryable once imported.
        ca = self.p("other-ca")
        self.openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca + ".key",
                     "-out", ca + ".pem", "-days", "30", "-subj", "/CN=Other CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign", data=None)
        self.openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                     self.p("frank.key"), "-out", self.p("frank.csr"), "-subj", "/CN=Frank",
                     data=None)
        ext = self.p("frank.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=email:frank@example.com\n"
                    "extendedKeyUsage=emailProtection\n")
        self.openssl("x509", "-req", "-in", self.p("frank.csr"), "-CA", ca + ".pem", "-CAkey",
                     ca + ".key", "-CAcreateserial", "-days", "30", "-extfile", ext, "-out",
                     self.p("frank.pem"), data=None)
        msg = self.message(self.openssl("cms", "-sign", "-signer", self.p("frank.pem"),
                                        "-inkey", self.p("frank.key")),
                           sender="frank@example.com", message_id="retry-frank@example.com")
        self.one_signature(msg, UNTRUSTED)
        self.d.call(CERTS + "ImportCertificates", data=self.read("other-ca.pem"))
        listed = [m for m in self.d.call(LOGS + "ListRetryable", page_size=1000).messages
                  if m.log_entry.message_id == "retry-frank@example.com"]
        self.assertEqual(len(listed), 1)
        self.assertIn("Other CA", listed[0].reason)
        self.one_signature(msg, VALID)
        self.assertNotIn("retry-frank@example.com", self.retryable_ids())

    def test_audit_entry(self):
        r, s = self.one_signature(self.message(self.sign(), message_id="audit-1@example.com"),
                                  VALID)
        entries = self.d.call(LOGS + "ListLogs", message_id="audit-1@example.com").entries
        self.assertEqual(len(entries), 1)
        e = entries[0]
        self.assertEqual(e.id, r.log_entry_id)
        self.assertEqual(e.direction, 1)
        self.assertEqual(list(e.operations), [3])
        self.assertEqual(e.status, 1)
        self.assertIn("alice@example.com", list(e.addresses))
        self.assertIn(s.signer_certificate.sha256_fingerprint, list(e.certificate_sha256))


if __name__ == "__main__":
    unittest.main(verbosity=2)
