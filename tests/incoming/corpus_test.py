"""corpus_test: DecryptVerify over Thunderbird's S/MIME corpus (tests/interop/thunderbird),
table-driven by its expected.tsv, with Bob's, Dave's and Fran's keys imported and TestCA
trusted, asserting the rules of its README."""

import csv
import os
import sys
import unittest

import smimed_fixture as fx

TB = fx.runfile("tests/interop/thunderbird")
MSG = "smime.v1.MessageService/"
CERTS = "smime.v1.CertificateService/"

SIGNED, ENVELOPED, AUTH_ENVELOPED = 1, 2, 3
VALID, INVALID, WEAK = 1, 2, 6
DECRYPTED = 1
SIG_NAMES = {0: "unspecified", 1: "valid", 2: "invalid", 3: "untrusted",
             4: "signer_not_sender", 5: "expired", 6: "weak_algorithm", 7: "malformed"}
DEC_NAMES = {0: "unspecified", 1: "decrypted", 2: "no_private_key", 3: "failed",
             4: "malformed"}


def read(rel):
    with open(os.path.join(TB, rel), "rb") as f:
        return f.read()


def describe(layers):
    out = []
    for l in layers:
        if l.kind == SIGNED:
            out.append("sig:%s" % SIG_NAMES[l.signature_status])
        else:
            out.append("enc:%s" % DEC_NAMES[l.decryption_status])
    return " ".join(out) or "(none)"


class CorpusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = fx.Daemon().start()
        fx.enable(cls.d)
        cls.d.call(CERTS + "ImportCertificates", data=read("smime/TestCA.pem"))
        for p12 in ("smime/Bob.p12", "smime/Dave.p12", "smime-interop/Fran.p12",
                    "smime-interop/Fran-ec.p12"):
            cls.d.call(CERTS + "ImportCertificates", data=read(p12), password="nss")
        with open(os.path.join(TB, "expected.tsv")) as f:
            cls.rows = list(csv.DictReader(f, delimiter="\t"))
        cls.results = {}
        for row in cls.rows:
            cls.results[row["file"]] = cls.d.call(MSG + "DecryptVerify",
                                                  message=read(row["file"]))
        # The table, for the report.
        for row in cls.rows:
            r = cls.results[row["file"]]
            print("%-72s enc=%-5s sig=%-5s good=%-5s dave=%-5s -> %s" % (
                row["file"], row["encrypted"], row["signed"],
                row["signature_good_in_thunderbird"], row["outer_signer_dave"],
                describe(r.layers)), file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_every_message_is_audited(self):
        for row in self.rows:
            self.assertGreater(self.results[row["file"]].log_entry_id, 0, row["file"])

    def test_encrypted_messages_decrypt(self):
        for row in self.rows:
            layers = self.results[row["file"]].layers
            enc = [l for l in layers if l.kind in (ENVELOPED, AUTH_ENVELOPED)]
            if row["encrypted"] == "true":
                self.assertTrue(enc, "%s: no encrypted layer" % row["file"])
            for l in enc:
                self.assertEqual(l.decryption_status, DECRYPTED,
                                 "%s: %s" % (row["file"], l.comment))
                self.assertTrue(l.recipient_certificate.sha256_fingerprint, row["file"])

    def test_plaintext(self):
        for row in self.rows:
            if row["plaintext_checked"] != "true":
                continue
            text = self.results[row["file"]].message
            # The README's "... to Fran.": OpenSSL's messages say "This is a test
            # message to Fran."
            self.assertTrue(b"This is a test message from Alice to Bob." in text or
                            b"This is a test message to Fran." in text,
                            "%s: %r" % (row["file"], text[-400:]))

    def test_single_layer_verdicts(self):
        """No Dave, one signature: Thunderbird's verdict is the reference."""
        checked = 0
        for row in self.rows:
            if row["signed"] != "true" or row["outer_signer_dave"] == "true":
                continue
            sigs = [l for l in self.results[row["file"]].layers if l.kind == SIGNED]
            if len(sigs) != 1:
                continue
            checked += 1
            [s] = sigs
            name = row["file"]
            if row["signature_good_in_thunderbird"] == "true":
                self.assertEqual(s.signature_status, VALID, "%s: %s" % (name, s.comment))
                self.assertTrue(s.signer_certificate.sha256_fingerprint)
                self.assertIn("alice@example.com", list(s.signer_certificate.email_addresses))
                self.assertTrue(s.signing_time.seconds > 0)
            else:
                self.assertNotEqual(s.signature_status, VALID, "%s: %s" % (name, s.comment))
                if "SHA1" in name and ".bad." not in name and "mismatch" not in name:
                    self.assertEqual(s.signature_status, WEAK, "%s: %s" % (name, s.comment))
                if ".bad." in name or "mismatch" in name or "future" in name:
                    self.assertEqual(s.signature_status, INVALID, "%s: %s" % (name, s.comment))
        self.assertGreater(checked, 20)

    def test_dave_outer_opaque_signature_verifies(self):
        """Each layer on its own: Dave's outer opaque signature verifies (OpenSSL agrees)."""
        for row in self.rows:
            if row["outer_signer_dave"] != "true":
                continue
            layers = self.results[row["file"]].layers
            self.assertTrue(layers, row["file"])
            outer = layers[0]
            self.assertEqual(outer.kind, SIGNED, row["file"])
            self.assertIn("dave@example.com", list(outer.signer_certificate.email_addresses),
                          row["file"])
            # Dave's outer signature is good (these messages are From Dave), SHA-1 weak;
            # the inner one is Alice's, not the sender's.
            want = WEAK if "SHA1" in row["file"] else VALID
            self.assertEqual(outer.signature_status, want, "%s: %s" % (row["file"],
                                                                      outer.comment))

    def test_not_smime_comes_back_unchanged(self):
        msg = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n"
               b"Message-ID: <plain-1@example.com>\r\n\r\nhello\r\n")
        r = self.d.call(MSG + "DecryptVerify", message=msg)
        self.assertEqual(r.message, msg)
        self.assertEqual(len(r.layers), 0)
        self.assertGreater(r.log_entry_id, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
