"""smimed_client_test: the helpdesk's path through smimed, in Python, against the real
daemon (its embedded PostgreSQL and worker processes) over its Unix socket: enable,
import alice.p12, sign+encrypt a reply to alice, open it again, read the log.
Run by //tests/clients:python_client_test."""

import email.utils
import os
import quopri
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen"))

import grpc  # noqa: E402

import smimed_fixture as fx  # noqa: E402  (tests/, on PYTHONPATH by run_py.sh)
from smimed_client import Client, describe  # noqa: E402
from smime.v1 import certificate_pb2, log_pb2, message_pb2  # noqa: E402

BODY = "Hello Alice,\n\nthe fire is out. Grüße, your helpdesk\n"


def mail(message_id, frm="Alice <alice@example.com>", to="alice@example.com"):
    head = ["From: " + frm, "To: " + to, "Subject: Re: [Ticket#4711] printer on fire",
            "Date: " + email.utils.formatdate(usegmt=True), "Message-ID: <%s>" % message_id,
            "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(head) + "\r\n\r\n" + BODY.replace("\n", "\r\n")).encode()


def new_id():
    return "%s@helpdesk.example" % os.urandom(8).hex()


class SmimedClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="smimed-pki.")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), cls.pki], check=True,
                       stdout=subprocess.DEVNULL)
        cls.daemon = fx.Daemon().start()

    @classmethod
    def tearDownClass(cls):
        code = cls.daemon.stop()
        log = cls.daemon.read_log()
        cls.daemon.cleanup()
        shutil.rmtree(cls.pki, ignore_errors=True)
        if code != 0:
            raise AssertionError("smimed exited with %s on SIGTERM:\n%s" % (code, log))

    def setUp(self):
        self.smime = Client(self.daemon.addr)
        self.addCleanup(self.smime.close)

    def read(self, name):
        with open(os.path.join(self.pki, name), "rb") as f:
            return f.read()

    def test_helpdesk_scenario(self):
        self.assertTrue(self.smime.serving(), "the health check says SERVING")

        # Off by default: mail calls are refused with a message saying how to turn it on.
        self.smime.enable(False)
        with self.assertRaises(grpc.RpcError) as cm:
            self.smime.list_certificates()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("disabled", cm.exception.details())
        self.assertTrue(self.smime.enable().enabled)
        self.assertTrue(self.smime.get_settings().settings.enabled)

        # One PKCS#12 import stores alice's certificate, her key and the CAs of her chain.
        imported = self.smime.import_certificates(self.read("alice.p12"), password="secret")
        self.assertTrue(imported.private_key_imported)
        alice = [i.certificate for i in imported.certificates
                 if "alice@example.com" in i.certificate.email_addresses]
        self.assertEqual(len(alice), 1)
        alice = alice[0]
        self.assertTrue(alice.has_private_key)
        self.assertEqual(alice.status, certificate_pb2.CERTIFICATE_STATUS_VALID)

        # The composer asks; both buttons are possible for alice writing to herself.
        options = self.smime.security_options("alice@example.com", ["alice@example.com"])
        self.assertTrue(options.sign.possible, [a.reason for a in options.sign.addresses])
        self.assertTrue(options.encrypt.possible, [a.reason for a in options.encrypt.addresses])

        # Outgoing: sign and encrypt; the result is what goes to the MTA.
        message_id = new_id()
        wire = self.smime.sign_encrypt(mail(message_id), sign=True, encrypt=True)
        head = wire.split(b"\r\n\r\n", 1)[0].decode()
        self.assertRegex(head, r"(?im)^Content-Type: application/pkcs7-mime;.*enveloped-data")
        self.assertIn("Subject: Re: [Ticket#4711] printer on fire\r\n", head)
        self.assertNotIn(b"the fire is out", wire)

        # Incoming: the same bytes, opened: encrypted then signed, both fine.
        opened = self.smime.decrypt_verify(wire)
        self.assertEqual([layer.kind for layer in opened.layers],
                         [message_pb2.Layer.KIND_ENVELOPED, message_pb2.Layer.KIND_SIGNED])
        enveloped, signed = opened.layers
        self.assertEqual(enveloped.decryption_status, message_pb2.DECRYPTION_STATUS_DECRYPTED,
                         enveloped.comment)
        self.assertEqual(signed.signature_status, message_pb2.SIGNATURE_STATUS_VALID,
                         signed.comment)
        self.assertEqual(list(signed.signer_certificate.email_addresses), ["alice@example.com"])
        self.assertEqual(signed.signer_certificate.sha256_fingerprint, alice.sha256_fingerprint)
        self.assertTrue(describe(signed).startswith("signature valid (alice@example.com)"))
        # The content went out 7-bit safe (quoted-printable): decode it to compare.
        headers, body = opened.message.split(b"\r\n\r\n", 1)
        self.assertRegex(headers.decode(), r"(?im)^Content-Transfer-Encoding: quoted-printable")
        self.assertEqual(quopri.decodestring(body).decode().replace("\r\n", "\n"), BODY)

        # The audit log has both, newest first.
        entries = list(self.smime.logs(message_id=message_id))
        self.assertEqual([e.direction for e in entries],
                         [log_pb2.DIRECTION_INCOMING, log_pb2.DIRECTION_OUTGOING])
        incoming, outgoing = entries
        self.assertEqual(sorted(outgoing.operations),
                         sorted([log_pb2.OPERATION_SIGN, log_pb2.OPERATION_ENCRYPT]))
        self.assertEqual(sorted(incoming.operations),
                         sorted([log_pb2.OPERATION_DECRYPT, log_pb2.OPERATION_VERIFY]))
        for e in entries:
            self.assertEqual(e.status, log_pb2.LOG_STATUS_SUCCESS, e.comment)
        self.assertEqual(outgoing.rpc, "/smime.v1.MessageService/SignEncrypt")
        self.assertIn("alice@example.com", outgoing.addresses)
        admin = [op for e in self.smime.logs(direction=log_pb2.DIRECTION_ADMIN)
                 for op in e.operations]
        self.assertIn(log_pb2.OPERATION_IMPORT_CERTIFICATE, admin)

    def test_errors_are_statuses_a_person_can_act_on(self):
        self.smime.enable()
        with self.assertRaises(grpc.RpcError) as cm:
            self.smime.import_certificates(self.read("alice.p12"), password="wrong")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("password", cm.exception.details())

        # Nobody holds a certificate for this recipient: encryption is refused, naming them.
        with self.assertRaises(grpc.RpcError) as cm:
            self.smime.sign_encrypt(mail(new_id(), to="nobody@example.net"), sign=False,
                                    encrypt=True)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("nobody@example.net", cm.exception.details())

    def test_plain_mail_comes_back_unchanged(self):
        self.smime.enable()
        plain = mail(new_id())
        opened = self.smime.decrypt_verify(plain)
        self.assertEqual(len(opened.layers), 0)
        self.assertEqual(opened.message, plain)

    def test_logs_pages_through_everything(self):
        self.smime.enable()
        for _ in range(3):
            self.smime.decrypt_verify(mail(new_id()))
        everything = [e.id for e in self.smime.logs(page_size=1000)]
        paged = [e.id for e in self.smime.logs(page_size=2)]
        self.assertGreaterEqual(len(everything), 3)
        self.assertEqual(everything, paged)
        self.assertEqual(everything, sorted(everything, reverse=True), "newest first")


if __name__ == "__main__":
    fx.main()
