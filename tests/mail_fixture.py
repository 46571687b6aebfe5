"""mail_fixture: what the mail tests share: a test PKI made by tests/pki/make_pki.sh
(the OpenSSL 3 command line) imported into a fresh daemon, and outgoing messages."""

import email.utils
import os
import shutil
import subprocess
import tempfile

import grpc

import smimed_fixture as fx

MSG = "smime.v1.MessageService/"
CERTS = "smime.v1.CertificateService/"
LOGS = "smime.v1.LogService/"

# Names of make_pki.sh leaves imported with their keys by default.
WITH_KEYS = ("alice", "carol", "dave", "erin", "expired")


class Pki:
    """Pki is make_pki.sh's output in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smimed-pki.")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), self.dir], check=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def start(extra_args=(), names=WITH_KEYS, without_keys=("subjmail",), big_channel=False):
    """start returns (daemon, pki): a daemon with the test CAs, |names| with their keys
    and |without_keys| as certificates only; with |big_channel| its channel carries
    64 MiB messages both ways."""
    pki = Pki()
    d = fx.Daemon(extra_args=extra_args)
    try:
        d.start()
        if big_channel:
            d.channel.close()
            d.channel = grpc.insecure_channel(
                d.addr, options=[("grpc.max_send_message_length", 64 << 20),
                                 ("grpc.max_receive_message_length", 64 << 20)])
        fx.enable(d)
        d.call(CERTS + "ImportCertificates", data=pki.read("inter.pem") + pki.read("root.pem"))
        for name in names:
            d.call(CERTS + "ImportCertificates",
                   data=pki.read(name + ".pem") + pki.read(name + ".key"))
        for name in without_keys:
            d.call(CERTS + "ImportCertificates", data=pki.read(name + ".pem"))
    except BaseException:
        d.cleanup()
        pki.cleanup()
        raise
    return d, pki


def message(frm="Alice <alice@example.com>", to="carol@example.com", cc=None, body=None,
            subject="Ticket #42", extra=""):
    lines = ["From: " + frm]
    if to:
        lines.append("To: " + to)
    if cc:
        lines.append("Cc: " + cc)
    lines += ["Subject: " + subject, "Date: " + email.utils.formatdate(usegmt=True),
              "Message-ID: <%s@helpdesk.example>" % os.urandom(6).hex()]
    if extra:
        lines.append(extra)
    lines += ["Content-Type: text/plain; charset=utf-8", "", body or "Hello,\nyour ticket is solved.\n"]
    return "\n".join(lines).encode()


def options(**kw):
    return fx.protos().message("smime.v1.SignEncryptOptions")(**kw)


def sign_encrypt(d, msg, sign=False, encrypt=False, timeout=60, recipients=(), **opts):
    return d.call(MSG + "SignEncrypt", timeout=timeout, message=msg, sign=sign, encrypt=encrypt,
                  recipients=list(recipients), options=options(**opts))
