"""limits_test: the configurable limits, each answered naming its flag:
--max-recipients (RESOURCE_EXHAUSTED), --max-layers (DecryptVerify stops there and says
so), --max-mime-depth and --max-mime-parts (RESOURCE_EXHAUSTED from SignEncrypt and
DecryptVerify, also for a decrypted layer and from a restarted engine),
--max-chain-length (an incoming signature with a longer chain is untrusted; SignEncrypt
refuses to carry a longer chain), and bad values refused at start (exit 2).

Two daemons share one test PKI and start side by side; both trust only the root CA, so
that a message signed by bob (stored in neither) under the intermediate (carried in the
message) has a chain of three certificates: bob, intermediate, root."""

import concurrent.futures
import os
import signal
import subprocess
import time
import unittest

import grpc

import smimed_fixture as fx
from outgoing_util import CERTS, MSG, Pki, message, openssl, sign_encrypt
from smimed_fixture import code_of

SIGNED = 1
VALID, UNTRUSTED = 1, 3

# LOW: every limit low, one engine (so that the restart test knows which one serves).
LOW = ["--max-recipients", "2", "--max-layers", "1", "--max-mime-depth", "2",
       "--max-mime-parts", "5", "--engines", "1"]
# CHAIN: a chain of at most two certificates; everything else by default.
CHAIN = ["--max-chain-length", "2"]

pki = None
low = None
chain = None


def start_daemon(args, with_keys):
    """start_daemon starts a daemon with |args| that trusts the test root alone and
    holds |with_keys| with their keys."""
    d = fx.Daemon(extra_args=args)
    try:
        d.start()
        fx.enable(d)
        d.call(CERTS + "ImportCertificates", data=pki.read("root.pem"))
        for name in with_keys:
            d.call(CERTS + "ImportCertificates",
                   data=pki.read(name + ".pem") + pki.read(name + ".key"))
    except BaseException:
        d.cleanup()
        raise
    return d


def setUpModule():
    global pki, low, chain
    pki = Pki()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        f_low = ex.submit(start_daemon, LOW, ("alice", "carol", "dave", "erin"))
        f_chain = ex.submit(start_daemon, CHAIN, ("alice",))
        errors = []
        for f in (f_low, f_chain):
            try:
                f.result()
            except BaseException as e:  # noqa: B902 (cleaned up below, then raised)
                errors.append(e)
        if errors:
            for f in (f_low, f_chain):
                if f.exception() is None:
                    f.result().cleanup()
            pki.cleanup()
            raise errors[0]
    low, chain = f_low.result(), f_chain.result()


def tearDownModule():
    for d in (low, chain):
        if d is not None:
            d.cleanup()
    if pki is not None:
        pki.cleanup()


def nested_entity(depth, level=0):
    """nested_entity returns (Content-Type, body) of an entity whose deepest part, a
    text/plain, is |depth| levels below it: a chain of multipart/mixed."""
    if level == depth:
        return "text/plain; charset=us-ascii", "deep down, level %d\r\n" % level
    boundary = "=_level%d" % level
    ctype, body = nested_entity(depth, level + 1)
    return ('multipart/mixed; boundary="%s"' % boundary,
            "--%s\r\nContent-Type: %s\r\n\r\n%s\r\n--%s--\r\n" % (boundary, ctype, body,
                                                                   boundary))


def flat_entity(parts):
    """flat_entity returns (Content-Type, body) of a multipart/mixed with |parts|
    text/plain parts (|parts| + 1 MIME entities)."""
    boundary = "=_flat"
    body = "".join("--%s\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % (boundary, i)
                   for i in range(parts))
    return 'multipart/mixed; boundary="%s"' % boundary, body + "--%s--\r\n" % boundary


def mail(entity, to="carol@example.com"):
    """mail makes a message from alice to |to| around (Content-Type, body)."""
    ctype, body = entity
    head = message(to=to).split(b"\nContent-Type:")[0].decode().replace("\n", "\r\n")
    return (head + "\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n\r\n" +
            body).encode()


def openssl_signed(name="bob"):
    """openssl_signed is a message from |name| signed by the OpenSSL command line, the
    intermediate CA carried in it. Bob is stored in neither daemon: a stored signer's
    certificate would be trusted by itself, a chain of one."""
    content = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nSigned under the inter.\r\n"
    entity = openssl("cms", "-sign", "-signer", pki.path(name + ".pem"), "-inkey",
                     pki.path(name + ".key"), "-certfile", pki.path("inter.pem"),
                     data=content).stdout
    head = ("From: %s@example.com\r\nTo: bob@example.com\r\nSubject: chain\r\n"
            "Message-ID: <chain-%s@example.com>\r\n" % (name, os.urandom(4).hex()))
    return head.encode() + entity


def signature(d, msg):
    r = d.call(MSG + "DecryptVerify", message=msg)
    sigs = [layer for layer in r.layers if layer.kind == SIGNED]
    assert len(sigs) == 1, r
    return sigs[0]


class LimitsTest(unittest.TestCase):
    """The daemon with every limit low."""

    def assert_exhausted(self, fn, flag):
        code, details = code_of(fn)
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
        self.assertIn(flag, details)
        return details

    def test_max_recipients(self):
        ok = message(to="carol@example.com, dave@example.com")
        self.assertTrue(sign_encrypt(low, ok, encrypt=True).message)
        too_many = message(to="carol@example.com, dave@example.com, erin@example.com")
        self.assert_exhausted(lambda: sign_encrypt(low, too_many, encrypt=True),
                              "--max-recipients")
        code, _ = code_of(lambda: low.call(
            MSG + "GetSecurityOptions", recipients=["a@x.example", "b@x.example", "c@x.example"],
            **{"from": "alice@example.com"}))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_max_layers(self):
        out = sign_encrypt(low, message(to="alice@example.com"), sign=True,
                           encrypt=True).message
        r = low.call(MSG + "DecryptVerify", message=out)
        self.assertEqual(len(r.layers), 1)  # the envelope; the signature inside is not opened
        self.assertEqual(r.layers[0].decryption_status, 1)
        entry = low.call("smime.v1.LogService/ListLogs", direction="DIRECTION_INCOMING",
                         page_size=1).entries[0]
        self.assertIn("--max-layers", entry.comment)

    def test_mime_depth_sign_encrypt(self):
        self.assertTrue(sign_encrypt(low, mail(nested_entity(2)), sign=True).message)
        details = self.assert_exhausted(
            lambda: sign_encrypt(low, mail(nested_entity(3)), sign=True), "--max-mime-depth")
        self.assertIn("deeper than 2 levels at part 1.1", details)
        self.assert_exhausted(lambda: sign_encrypt(low, mail(nested_entity(3)), encrypt=True),
                              "--max-mime-depth")

    def test_mime_depth_decrypt_verify(self):
        r = low.call(MSG + "DecryptVerify", message=mail(nested_entity(2)))
        self.assertEqual(len(r.layers), 0)
        self.assert_exhausted(
            lambda: low.call(MSG + "DecryptVerify", message=mail(nested_entity(3))),
            "--max-mime-depth")
        # Inside an envelope: the decrypted entity is parsed with the same limit.
        for depth, ok in ((2, True), (3, False)):
            ctype, body = nested_entity(depth)
            inner = ("Content-Type: %s\r\n\r\n%s" % (ctype, body)).encode()
            env = openssl("cms", "-encrypt", "-aes256", pki.path("alice.pem"), data=inner).stdout
            msg = b"From: carol@example.com\r\nTo: alice@example.com\r\nSubject: deep\r\n" + env
            call = lambda m=msg: low.call(MSG + "DecryptVerify", message=m)  # noqa: E731
            if ok:
                self.assertEqual(call().layers[0].decryption_status, 1)
            else:
                self.assert_exhausted(call, "--max-mime-depth")

    def test_mime_parts(self):
        # Five entities: the multipart and four parts.
        self.assertTrue(sign_encrypt(low, mail(flat_entity(4)), sign=True).message)
        low.call(MSG + "DecryptVerify", message=mail(flat_entity(4)))
        details = self.assert_exhausted(
            lambda: sign_encrypt(low, mail(flat_entity(6)), sign=True), "--max-mime-parts")
        self.assertIn("more than 5 MIME parts", details)
        self.assert_exhausted(
            lambda: low.call(MSG + "DecryptVerify", message=mail(flat_entity(6))),
            "--max-mime-parts")

    def test_restarted_engine_keeps_limits(self):
        engines = [p for p, name in fx.children_of(low.proc.pid) if name == "smime-engine"]
        self.assertEqual(len(engines), 1)
        os.kill(engines[0], signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:  # dead (a zombie until the pool reaps it)
            with open("/proc/%d/stat" % engines[0]) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        self.assert_exhausted(
            lambda: low.call(MSG + "DecryptVerify", message=mail(nested_entity(3))),
            "--max-mime-depth")
        now = [p for p, name in fx.children_of(low.proc.pid) if name == "smime-engine"]
        self.assertEqual(len(now), 1)
        self.assertNotEqual(now[0], engines[0])
        with open("/proc/%d/cmdline" % now[0], "rb") as f:
            argv = f.read().split(b"\0")
        self.assertIn(b"--max-mime-depth", argv)
        self.assertEqual(argv[argv.index(b"--max-mime-depth") + 1], b"2")

    def test_chain_within_default_limit(self):
        # Bob, intermediate (carried), root (imported): three certificates, under 10.
        s = signature(low, openssl_signed())
        self.assertEqual(s.signature_status, VALID, s.comment)


class ChainLengthTest(unittest.TestCase):
    """The daemon with --max-chain-length 2. One method: it imports the intermediate
    half-way."""

    def test_max_chain_length(self):
        msg = openssl_signed()
        s = signature(chain, msg)
        self.assertEqual(s.signature_status, UNTRUSTED, s.comment)
        self.assertIn("longer than 2 certificates (--max-chain-length)", s.comment)
        # Signing with a chain the store does not extend (alice alone) is fine.
        self.assertTrue(sign_encrypt(chain, message(), sign=True).message)
        # With the intermediate imported, trust ends there: bob and the intermediate, two
        # certificates. Our own signatures would carry alice, inter and root: refused.
        chain.call(CERTS + "ImportCertificates", data=pki.read("inter.pem"))
        s = signature(chain, msg)
        self.assertEqual(s.signature_status, VALID, s.comment)
        code, details = code_of(lambda: sign_encrypt(chain, message(), sign=True))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, details)
        self.assertIn("has 3 certificates", details)
        self.assertIn("--max-chain-length", details)


class BadValuesTest(unittest.TestCase):
    def test_bad_values_exit_2(self):
        cases = [("--max-mime-depth", "0"), ("--max-mime-depth", "65"),
                 ("--max-mime-parts", "0"), ("--max-mime-parts", "100001"),
                 ("--max-mime-parts", "many"), ("--max-chain-length", "1"),
                 ("--max-chain-length", "33"), ("--max-chain-length", "-3")]
        for flag, value in cases:
            for program, args in (("service/smimed", ["--data-dir", "/nonexistent/smimed"]),
                                  ("service/smime-engine", [])):
                r = subprocess.run([fx.runfile(program)] + args + [flag, value],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 2, (program, flag, value, r.stderr))
                self.assertIn(flag + " must be a number from", r.stderr)
                self.assertIn('not "%s"' % value, r.stderr)
        r = subprocess.run([fx.runfile("service/smimed"), "--help"], capture_output=True,
                           text=True, timeout=30)
        for flag in ("--max-mime-depth", "--max-mime-parts", "--max-chain-length"):
            self.assertIn(flag, r.stdout)


if __name__ == "__main__":
    fx.main()
