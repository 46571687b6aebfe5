"""outgoing_size_test: SignEncrypt of a 10-byte body and of a 25 MiB message with an
attachment (daemon started with --max-message-size 64M), checked with OpenSSL, with the
time taken and the peak memory (VmHWM) of the daemon and its workers printed."""

import os
import time
import unittest

import grpc

import smimed_fixture as fx
from outgoing_util import decrypt, message, sign_encrypt, start, verify


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class OutgoingSizeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d, cls.pki = start(extra_args=["--max-message-size", "64M"])
        cls.d.channel.close()
        cls.d.channel = grpc.insecure_channel(
            cls.d.addr, options=[("grpc.max_send_message_length", 64 << 20),
                                 ("grpc.max_receive_message_length", 64 << 20)])

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def memory(self):
        pid = self.d.proc.pid
        out = {"smimed": peak_rss_kib(pid)}
        for child, name in fx.children_of(pid):
            if name.startswith("smime-"):
                out[name + "[%d]" % child] = peak_rss_kib(child)
        return out

    def test_10_bytes(self):
        msg = message(body="0123456789")
        r = sign_encrypt(self.d, msg, sign=True, encrypt=True)
        inner = decrypt(self.pki, r.message, self.pki.path("carol.key"), self.pki.path("carol.pem"))
        self.assertIn(b"0123456789", verify(self.pki, inner))
        # The smallest message there is: no body at all.
        r = sign_encrypt(self.d, b"From: alice@example.com\r\n\r\n", sign=True)
        verify(self.pki, r.message)

    def test_25_mib(self):
        raw = os.urandom(int(25 * 1024 * 1024 * 3 / 4) - 4096)
        import base64
        b64 = base64.encodebytes(raw).decode()
        body = ("--xyz\n"
                "Content-Type: text/plain; charset=us-ascii\n\n"
                "See the attachment.\n"
                "--xyz\n"
                "Content-Type: application/octet-stream; name=big.bin\n"
                "Content-Disposition: attachment; filename=big.bin\n"
                "Content-Transfer-Encoding: base64\n\n" + b64 + "--xyz--\n")
        msg = message(body=body).replace(
            b"Content-Type: text/plain; charset=utf-8",
            b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="xyz"', 1)
        print("\ninput message: %.1f MiB" % (len(msg) / 1048576.0))
        before = self.memory()
        for what, kw in (("sign", dict(sign=True)), ("encrypt", dict(encrypt=True)),
                         ("sign+encrypt", dict(sign=True, encrypt=True))):
            t = time.monotonic()
            r = sign_encrypt(self.d, msg, timeout=300, **kw)
            took = time.monotonic() - t
            print("%-13s %.2f s, output %.1f MiB" % (what, took, len(r.message) / 1048576.0))
            if what == "sign+encrypt":
                inner = decrypt(self.pki, r.message, self.pki.path("carol.key"),
                                self.pki.path("carol.pem"))
                content = verify(self.pki, inner)
                self.assertIn(base64.encodebytes(raw[:3000]).replace(b"\n", b"\r\n")[:2000],
                              content)
        after = self.memory()
        for name in after:
            print("peak RSS %-28s %7.1f MiB (before: %.1f MiB)"
                  % (name, after[name] / 1024.0, before.get(name, 0) / 1024.0))


if __name__ == "__main__":
    fx.main()
