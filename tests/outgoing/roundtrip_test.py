"""roundtrip_test: what SignEncrypt protects, DecryptVerify opens with the right statuses,
for every format, key type and cipher SignEncrypt offers (the sender is always a
recipient, so the daemon holds a key that opens what it encrypted)."""

import email
import email.utils
import os
import unittest

import smimed_fixture as fx
from outgoing_util import MSG, sign_encrypt, start

KIND_SIGNED, KIND_ENVELOPED, KIND_AUTH_ENVELOPED = 1, 2, 3
DECRYPTED = 1
VALID = 1


def message(frm, to, body):
    return ("From: %s\nTo: %s\nSubject: round trip\nDate: %s\n"
            "Message-ID: <%s@helpdesk.example>\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s"
            % (frm, to, email.utils.formatdate(usegmt=True), os.urandom(6).hex(), body)
            ).encode()


class RoundTripTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.pki = start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def open(self, data):
        return self.d.call(MSG + "DecryptVerify", message=data)

    def test_every_combination_opens(self):
        body = "Grüße: your ticket #42 is solved.\n"
        cases = 0
        for sender in ("alice@example.com", "dave@example.com", "erin@example.com"):
            for sign, encrypt in ((True, False), (False, True), (True, True)):
                for fmt in ("SIGNATURE_FORMAT_DETACHED", "SIGNATURE_FORMAT_OPAQUE"):
                    for cipher in ("CONTENT_CIPHER_AES256_CBC", "CONTENT_CIPHER_AES128_GCM"):
                        if not sign and fmt != "SIGNATURE_FORMAT_DETACHED":
                            continue
                        if not encrypt and cipher != "CONTENT_CIPHER_AES256_CBC":
                            continue
                        what = "%s sign=%s encrypt=%s %s %s" % (sender, sign, encrypt, fmt,
                                                                 cipher)
                        msg = message(sender, "carol@example.com", body)
                        out = sign_encrypt(self.d, msg, sign=sign, encrypt=encrypt,
                                           signature_format=fmt, cipher=cipher).message
                        r = self.open(out)
                        kinds = [layer.kind for layer in r.layers]
                        want = []
                        if encrypt:
                            want.append(KIND_AUTH_ENVELOPED if "GCM" in cipher else KIND_ENVELOPED)
                        if sign:
                            want.append(KIND_SIGNED)
                        self.assertEqual(kinds, want, what)
                        for layer in r.layers:
                            if layer.kind == KIND_SIGNED:
                                self.assertEqual(layer.signature_status, VALID,
                                                 what + ": " + layer.comment)
                                self.assertEqual(list(layer.signer_certificate.email_addresses),
                                                 [sender], what)
                            else:
                                self.assertEqual(layer.decryption_status, DECRYPTED,
                                                 what + ": " + layer.comment)
                        # The content went out 7-bit safe (quoted-printable): decode it.
                        opened = email.message_from_bytes(r.message)
                        text = opened.get_payload(decode=True).replace(b"\r\n", b"\n")
                        self.assertEqual(text, body.encode(), what)
                        self.assertIn(b"Subject: round trip", r.message, what)
                        cases += 1
        self.assertEqual(cases, 3 * (1 * 2 + 1 * 2 + 2 * 2))

    def test_options_round_trip(self):
        for opts in ({"digest": "DIGEST_ALGORITHM_SHA512"},
                     {"signature_scheme": "SIGNATURE_SCHEME_RSA_PSS"},
                     {"key_transport": "KEY_TRANSPORT_RSA_OAEP"},
                     {"cipher": "CONTENT_CIPHER_AES256_GCM"},
                     {"cipher": "CONTENT_CIPHER_AES128_CBC"}):
            msg = message("alice@example.com", "carol@example.com", "options %s\n" % opts)
            out = sign_encrypt(self.d, msg, sign=True, encrypt=True, **opts).message
            r = self.open(out)
            self.assertEqual(len(r.layers), 2, opts)
            self.assertEqual(r.layers[0].decryption_status, DECRYPTED, opts)
            self.assertEqual(r.layers[1].signature_status, VALID,
                             "%s: %s" % (opts, r.layers[1].comment))


if __name__ == "__main__":
    fx.main()
