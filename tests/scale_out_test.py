"""scale_out_test: two daemons on one PostgreSQL and one key-encryption key, as replicas
behind a load balancer run. A certificate and key imported through one are used for
signing through the other at once, settings changed on one gate the other at once, and
both write to the one audit log. (The front caches nothing: every call reads the
database, so there is no cache to invalidate across replicas.)"""

import os
import subprocess
import unittest

import grpc

import mail_fixture as mf
import smimed_fixture as fx
from smimed_fixture import code_of


class ScaleOutTest(unittest.TestCase):
    def test_two_replicas_share_keys_settings_and_log(self):
        pki = mf.Pki()
        a = fx.Daemon().start()
        b = None
        try:
            url = "host=%s port=5432 dbname=smimed user=smimed" % a.data_dir
            b = fx.Daemon(database_url=url, kek_file=os.path.join(a.data_dir, "kek.key")).start()
            fx.enable(a)
            # Imported through A ...
            r = a.call(mf.CERTS + "ImportCertificates", data=pki.read("alice.p12"),
                       password="secret")
            self.assertTrue(r.private_key_imported)
            # ... used through B at once: its keystore unwraps A's wrapped key.
            msg = mf.message(to="alice@example.com")
            out = b.call(mf.MSG + "SignEncrypt", message=msg, sign=True, encrypt=True).message
            opened = a.call(mf.MSG + "DecryptVerify", message=out)
            self.assertEqual([layer.decryption_status for layer in opened.layers][:1], [1])
            self.assertEqual(opened.layers[-1].signature_status, 1, opened.layers[-1].comment)
            # The OpenSSL CLI agrees (decrypt with alice's key, verify against the root).
            with open(pki.path("out.eml"), "wb") as f:
                f.write(out)
            dec = subprocess.run(["openssl", "cms", "-decrypt", "-in", pki.path("out.eml"),
                                  "-inkey", pki.path("alice.key")], capture_output=True)
            self.assertEqual(dec.returncode, 0, dec.stderr)
            ver = subprocess.run(["openssl", "cms", "-verify", "-CAfile", pki.path("root.pem"),
                                  "-certfile", pki.path("inter.pem")], input=dec.stdout,
                                 capture_output=True)
            self.assertEqual(ver.returncode, 0, ver.stderr)
            # Deleted through B: gone for A at once, although A has just signed with it
            # (its query cache held the key; B's call returns only once every replica's
            # cache has dropped it: change_listener_sync).
            self.assertTrue(a.call(mf.MSG + "SignEncrypt", message=msg, sign=True).message)
            fp = r.certificates[0].certificate.sha256_fingerprint
            b.call(mf.CERTS + "DeletePrivateKey", sha256_fingerprint=fp)
            code, details = code_of(lambda: a.call(mf.MSG + "SignEncrypt", message=msg,
                                                    sign=True))
            self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("no private key", details)
            # Disabled through A: B refuses at once.
            a.call("smime.v1.SettingsService/UpdateSettings", enabled=False)
            code, _ = code_of(lambda: b.call(mf.MSG + "SignEncrypt", message=msg, sign=True))
            self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
            fx.enable(b)
            # One audit log: B's SignEncrypt is listed through A.
            entries = a.call(mf.LOGS + "ListLogs", direction="DIRECTION_OUTGOING",
                             page_size=100).entries
            self.assertGreaterEqual(len(entries), 2)
        finally:
            if b is not None:
                b.cleanup()
            a.cleanup()
            pki.cleanup()


if __name__ == "__main__":
    fx.main()
