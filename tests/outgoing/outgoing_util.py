"""outgoing_util: what the outgoing-mail tests share: mail_fixture (the test PKI in a
fresh daemon, messages) and the OpenSSL 3 command line as referee."""

import os
import subprocess

import smimed_fixture as fx  # noqa: F401 (re-exported for the tests)
from mail_fixture import (CERTS, LOGS, MSG, WITH_KEYS, Pki, message,  # noqa: F401
                          options, sign_encrypt, start)


def openssl(*args, data=None, check=True):
    r = subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                       env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    if check and r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args),
                                                         r.stderr.decode("utf-8", "replace")))
    return r


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
