"""outgoing_util: what the outgoing-mail tests share: a test PKI made by make_pki.sh
imported into a fresh daemon, messages, and the OpenSSL 3 command line as referee."""

import os
import shutil
import subprocess
import tempfile

import smimed_fixture as fx

MSG = "smime.v1.MessageService/"
CERTS = "smime.v1.CertificateService/"
LOGS = "smime.v1.LogService/"

# Names of make_pki.sh leaves imported with their keys.
WITH_KEYS = ("alice", "carol", "dave", "erin", "expired")


def openssl(*args, data=None, check=True):
    r = subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                       env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    if check and r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args),
                                                         r.stderr.decode("utf-8", "replace")))
    return r


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


def start(extra_args=(), names=WITH_KEYS, without_keys=("subjmail",)):
    """start returns (daemon, pki): a daemon with the test CAs, |names| with their keys
    and |without_keys| as certificates only."""
    pki = Pki()
    d = fx.Daemon(extra_args=extra_args)
    try:
        d.start()
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
    lines += ["Subject: " + subject, "Date: Mon, 1 Jan 2024 10:00:00 +0000",
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


def headers_of(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    return head.decode("utf-8", "replace")


def verify(pki, data, out_name="verified.out"):
    """verify checks an S/MIME signed message (detached or opaque) against the test
    root and returns the signed content."""
    path = pki.write("to-verify.eml", data)
    out = pki.path(out_name)
    openssl("cms", "-verify", "-in", path, "-CAfile", pki.path("root.pem"), "-out", out)
    with open(out, "rb") as f:
        return f.read()


def decrypt(pki, data, key_path, cert_path):
    path = pki.write("to-decrypt.eml", data)
    out = pki.path("decrypted.out")
    openssl("cms", "-decrypt", "-in", path, "-inkey", key_path, "-recip", cert_path, "-out", out)
    with open(out, "rb") as f:
        return f.read()


def logs(d, **filters):
    return list(d.call(LOGS + "ListLogs", page_size=1000, **filters).entries)
