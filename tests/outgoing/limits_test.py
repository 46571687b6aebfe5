"""limits_test: the configurable limits: --max-recipients answers RESOURCE_EXHAUSTED
naming the flag, --max-layers stops DecryptVerify at that depth and says so."""

import unittest

import grpc

import smimed_fixture as fx
from outgoing_util import MSG, message, sign_encrypt, start
from smimed_fixture import code_of


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.pki = start(extra_args=["--max-recipients", "2", "--max-layers", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def test_max_recipients(self):
        ok = message(to="carol@example.com, dave@example.com")
        self.assertTrue(sign_encrypt(self.d, ok, encrypt=True).message)
        too_many = message(to="carol@example.com, dave@example.com, erin@example.com")
        code, details = code_of(lambda: sign_encrypt(self.d, too_many, encrypt=True))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertIn("--max-recipients", details)
        code, _ = code_of(lambda: self.d.call(
            MSG + "GetSecurityOptions", recipients=["a@x.example", "b@x.example", "c@x.example"],
            **{"from": "alice@example.com"}))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_max_layers(self):
        out = sign_encrypt(self.d, message(to="alice@example.com"), sign=True,
                           encrypt=True).message
        r = self.d.call(MSG + "DecryptVerify", message=out)
        self.assertEqual(len(r.layers), 1)  # the envelope; the signature inside is not opened
        self.assertEqual(r.layers[0].decryption_status, 1)
        entry = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_INCOMING",
                            page_size=1).entries[0]
        self.assertIn("--max-layers", entry.comment)


if __name__ == "__main__":
    fx.main()
