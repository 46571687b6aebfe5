"""certificates_test: CertificateService end to end, with certificates and keys made by
the OpenSSL 3 command line (tests/pki/make_pki.sh) and Thunderbird's real PKCS#12 files,
through gRPC (Python's grpcio) and smimectl; and what is left on disk."""

import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import grpc

import smimed_fixture as fx
from smimed_fixture import code_of

CERTS = "smime.v1.CertificateService/"
TB = fx.runfile("tests/interop/thunderbird")


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True, env=dict(os.environ, OPENSSL_CONF="/dev/null")).stdout


def fingerprint(pem_path):
    out = openssl("x509", "-in", pem_path, "-noout", "-fingerprint", "-sha256").decode()
    return out.strip().split("=", 1)[1].replace(":", "").lower()


class CertificatesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="smimed-pki.")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), cls.pki], check=True)
        cls.d = fx.Daemon().start()
        fx.enable(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.pki, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def imp(self, data, password=""):
        return self.d.call(CERTS + "ImportCertificates", data=data, password=password)

    def imp_key(self, data, password=""):
        return self.d.call(CERTS + "ImportPrivateKey", data=data, password=password)

    def count(self):
        n, token = 0, ""
        while True:
            r = self.d.call(CERTS + "ListCertificates", page_size=1000, page_token=token)
            n += len(r.certificates)
            token = r.next_page_token
            if not token:
                return n

    def test_01_pem_fields_match_openssl(self):
        r = self.imp(self.read("alice.pem"))
        [ic] = r.certificates
        c = ic.certificate
        self.assertTrue(ic.new)
        self.assertFalse(r.private_key_imported)
        self.assertEqual(c.sha256_fingerprint, fingerprint(self.path("alice.pem")))
        self.assertEqual(list(c.email_addresses), ["alice@example.com"])
        self.assertEqual(c.key_algorithm, 1)  # RSA
        self.assertEqual(c.key_bits, 2048)
        self.assertTrue(c.can_sign and c.can_encrypt)
        self.assertFalse(c.is_ca)
        self.assertEqual(c.status, 1)
        self.assertIn("CN=Alice", c.subject)
        self.assertIn("Intermediate", c.issuer)
        serial = openssl("x509", "-in", self.path("alice.pem"), "-noout", "-serial").decode()
        self.assertEqual(c.serial, serial.strip().split("=")[1].lower().lstrip("0"))
        # The same certificate again is ALREADY_EXISTS, naming it.
        code, details = code_of(lambda: self.imp(self.read("alice.pem")))
        self.assertEqual(code, grpc.StatusCode.ALREADY_EXISTS)
        self.assertIn(c.sha256_fingerprint, details)

    def test_02_der_and_bundles(self):
        bob_der = openssl("x509", "-in", self.path("bob.pem"), "-outform", "DER")
        [ic] = self.imp(bob_der).certificates
        self.assertEqual(sorted(ic.certificate.email_addresses),
                         ["bob.alias@example.com", "bob@example.com"])
        self.assertEqual(ic.certificate.key_bits, 3072)
        r = self.imp(self.read("chain.pem"))
        self.assertEqual(len(r.certificates), 3)
        self.assertEqual([c.certificate.is_ca for c in r.certificates], [False, True, True])
        for name in ("chain.p7b", "chain.p7c"):
            r = self.imp(self.read(name))  # all present: reported, not an error
            self.assertEqual(len(r.certificates), 3)
            self.assertFalse(any(c.new for c in r.certificates))

    def test_03_pkcs12_imports_key_and_chain(self):
        code, details = code_of(lambda: self.imp(self.read("alice.p12"), "wrong"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("password", details)
        r = self.imp(self.read("alice.p12"), "secret")
        self.assertTrue(r.private_key_imported)
        alice = [c.certificate for c in r.certificates if "Alice" in c.certificate.subject][0]
        self.assertTrue(alice.has_private_key)
        r = self.imp(self.read("alice-legacy.p12"), "secret")
        self.assertTrue(r.private_key_imported)

    def test_04_thunderbird_pkcs12(self):
        with open(os.path.join(TB, "smime/TestCA.pem"), "rb") as f:
            [ca] = self.imp(f.read()).certificates
        self.assertTrue(ca.certificate.is_ca)
        self.assertTrue(ca.new)
        for name in ("smime/Bob.p12", "smime/Alice-ec.p12", "smime-interop/Fran.p12",
                     "smime-interop/Fran-ec.p12", "smime/Dave.p12"):
            with open(os.path.join(TB, name), "rb") as f:
                r = self.imp(f.read(), "nss")
            self.assertTrue(r.private_key_imported, name)
            leaf = [c.certificate for c in r.certificates if c.certificate.has_private_key]
            self.assertEqual(len(leaf), 1, name)
            self.assertTrue(leaf[0].email_addresses, name)

    def test_05_private_key_formats(self):
        self.imp(self.read("carol.pem"))
        c = self.imp_key(self.read("carol.key")).certificate
        self.assertTrue(c.has_private_key)
        self.assertIn("Carol", c.subject)
        self.imp(self.read("dave.pem"))
        c = self.imp_key(self.read("dave.sec1.pem")).certificate
        self.assertEqual(c.key_algorithm, 2)  # P-256
        self.imp(self.read("erin.pem"))
        self.assertEqual(self.imp_key(self.read("erin.key")).certificate.key_algorithm, 3)
        for name in ("alice.pkcs1.pem", "alice.pkcs8.der"):
            self.assertTrue(self.imp_key(self.read(name)).certificate.has_private_key, name)
        for name in ("alice.enc.pem", "alice.enc.der"):
            code, details = code_of(lambda: self.imp_key(self.read(name), "nope"))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, name)
            self.assertIn("password", details)
            code, details = code_of(lambda: self.imp_key(self.read(name)))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, name)
            self.assertIn("password", details)
            self.assertTrue(self.imp_key(self.read(name), "secret").certificate.has_private_key)

    def test_06_private_key_refusals(self):
        key = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
        code, details = code_of(lambda: self.imp_key(key))
        self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("no certificate matches this private key; import its certificate first",
                      details)
        code, details = code_of(lambda: self.imp_key(self.read("weak.key")))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("1024", details)
        code, details = code_of(lambda: self.imp_key(self.read("dsa.key")))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("DSA", details)
        code, _ = code_of(lambda: self.imp_key(b"not a key at all"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_07_non_smime_leaves_refused_with_reason(self):
        for name, words in [("serverauth.pem", "emailProtection"), ("noaddr.pem", "address"),
                            ("weak.pem", "1024"), ("dsa.pem", "DSA")]:
            before = self.count()
            code, details = code_of(lambda: self.imp(self.read(name)))
            self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT, name)
            self.assertIn("not for S/MIME", details, name)
            self.assertIn(words, details, name)
            self.assertEqual(self.count(), before, name)

    def test_08_validity_statuses(self):
        [e] = self.imp(self.read("expired.pem")).certificates
        self.assertEqual(e.certificate.status, 2)
        self.assertIn("expired on 2021-01-01", e.certificate.status_reason)
        [n] = self.imp(self.read("notyet.pem")).certificates
        self.assertEqual(n.certificate.status, 3)
        [s] = self.imp(self.read("subjmail.pem")).certificates
        self.assertEqual(list(s.certificate.email_addresses), ["subjmail@example.com"])

    def test_09_list_get_export(self):
        for name in ("alice.pem", "chain.pem"):
            try:
                self.imp(self.read(name))
            except grpc.RpcError:
                pass
        r = self.d.call(CERTS + "ListCertificates", email="ALICE@example.com")
        self.assertEqual([c.subject for c in r.certificates if "Alice" in c.subject][:1],
                         [r.certificates[0].subject])
        self.assertTrue(all("alice@example.com" in c.email_addresses for c in r.certificates))
        cas = self.d.call(CERTS + "ListCertificates", ca=True).certificates
        self.assertTrue(cas and all(c.is_ca for c in cas))
        leaves = self.d.call(CERTS + "ListCertificates", ca=False).certificates
        self.assertTrue(leaves and not any(c.is_ca for c in leaves))
        q = self.d.call(CERTS + "ListCertificates", query="intermediate").certificates
        self.assertTrue(q and all("Intermediate" in c.subject + c.issuer for c in q))
        usable = self.d.call(CERTS + "ListCertificates", usable=True).certificates
        self.assertFalse(any(c.status != 1 for c in usable))
        # Paging one at a time sees everything once.
        seen, token = [], ""
        while True:
            p = self.d.call(CERTS + "ListCertificates", page_size=1, page_token=token)
            seen += [c.sha256_fingerprint for c in p.certificates]
            token = p.next_page_token
            if not token:
                break
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(len(seen), self.count())

        fp = fingerprint(self.path("alice.pem"))
        c = self.d.call(CERTS + "GetCertificate",
                        sha256_fingerprint=":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper())
        self.assertEqual(c.certificate.sha256_fingerprint, fp)
        pem = self.d.call(CERTS + "ExportCertificate", sha256_fingerprint=fp).data
        self.assertEqual(openssl("x509", "-outform", "DER", data=pem), self.read("alice.der"))
        der = self.d.call(CERTS + "ExportCertificate", sha256_fingerprint=fp,
                          format="CERTIFICATE_FORMAT_DER").data
        self.assertEqual(der, self.read("alice.der"))
        chain = self.d.call(CERTS + "ExportCertificate", sha256_fingerprint=fp, with_chain=True).data
        self.assertEqual(chain.count(b"BEGIN CERTIFICATE"), 3)
        with tempfile.NamedTemporaryFile() as f:
            f.write(chain)
            f.flush()
            v = subprocess.run(["openssl", "verify", "-CAfile", self.path("root.pem"),
                                "-untrusted", f.name, self.path("alice.pem")], capture_output=True)
            self.assertEqual(v.returncode, 0, v.stderr)
        code, _ = code_of(lambda: self.d.call(CERTS + "GetCertificate", sha256_fingerprint="zz"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        code, _ = code_of(lambda: self.d.call(CERTS + "GetCertificate",
                                              sha256_fingerprint="00" * 32))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)

    def test_10_delete_and_audit(self):
        self.imp(self.read("alice.p12"), "secret")
        fp = fingerprint(self.path("alice.pem"))
        self.d.call(CERTS + "DeletePrivateKey", sha256_fingerprint=fp)
        got = self.d.call(CERTS + "GetCertificate", sha256_fingerprint=fp).certificate
        self.assertFalse(got.has_private_key)
        code, _ = code_of(lambda: self.d.call(CERTS + "DeletePrivateKey", sha256_fingerprint=fp))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        self.imp_key(self.read("alice.key"))
        resp = self.d.call(CERTS + "DeleteCertificate", sha256_fingerprint=fp)
        self.assertTrue(resp.private_key_deleted)
        code, _ = code_of(lambda: self.d.call(CERTS + "GetCertificate", sha256_fingerprint=fp))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        logs = self.d.call("smime.v1.LogService/ListLogs", address="alice@example.com",
                           page_size=100).entries
        ops = [list(e.operations) for e in logs]
        self.assertIn([7], ops)  # DELETE_CERTIFICATE
        self.assertIn([8], ops)  # DELETE_PRIVATE_KEY
        self.assertIn([6], ops)  # IMPORT_PRIVATE_KEY
        self.assertIn([5], ops)  # IMPORT_CERTIFICATE
        deleted = [e for e in logs if list(e.operations) == [7]][0]
        self.assertEqual(list(deleted.certificate_sha256), [fp])
        self.assertIn("unix socket", deleted.caller)
        failed = self.d.call("smime.v1.LogService/ListLogs", status="LOG_STATUS_FAILURE",
                             operation="OPERATION_IMPORT_CERTIFICATE").entries
        self.assertTrue(any("not for S/MIME" in e.comment for e in failed))

    def test_11_malformed_inputs_change_nothing(self):
        corpus = []
        for d in ("service/x509/testdata/malformed", "service/pkcs12/testdata/malformed"):
            corpus += sorted(glob.glob(os.path.join(fx.runfile(d), "*")))
        self.assertGreaterEqual(len(corpus), 50)
        before = self.count()
        for path in corpus:
            with open(path, "rb") as f:
                data = f.read()
            for call in (lambda: self.imp(data, "secret"), lambda: self.imp_key(data, "secret")):
                code, _ = code_of(call)
                self.assertIn(code, (grpc.StatusCode.INVALID_ARGUMENT,
                                     grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     grpc.StatusCode.FAILED_PRECONDITION), path)
        self.assertEqual(self.count(), before)
        self.assertEqual(self.d.call("grpc.health.v1.Health/Check").status, 1)

    def test_12_cli_imports_pkcs12(self):
        ctl = fx.runfile("client/smimectl")
        p = subprocess.run([ctl, "--addr", self.d.addr, "import-certificates", "--data",
                            "@" + self.path("alice.p12"), "--password", "secret"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertTrue(out["privateKeyImported"])
        p = subprocess.run([ctl, "--addr", self.d.addr, "export-certificate",
                            "--sha256-fingerprint", fingerprint(self.path("alice.pem")),
                            "--format", "der", "--raw", "data"], capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.read("alice.der"))


class KeysAtRestTest(unittest.TestCase):
    def test_no_private_key_bytes_on_disk(self):
        pki = tempfile.mkdtemp(prefix="smimed-pki.")
        d = fx.Daemon()
        try:
            subprocess.run([fx.runfile("tests/pki/make_pki.sh"), pki], check=True)
            d.start()
            fx.enable(d)
            with open(os.path.join(pki, "alice.p12"), "rb") as f:
                self.assertTrue(d.call(CERTS + "ImportCertificates", data=f.read(),
                                       password="secret").private_key_imported)
            with open(os.path.join(pki, "dave.pem"), "rb") as f:
                d.call(CERTS + "ImportCertificates", data=f.read())
            with open(os.path.join(pki, "dave.key"), "rb") as f:
                d.call(CERTS + "ImportPrivateKey", data=f.read())
            self.assertEqual(d.stop(), 0)
            # The secrets: the PKCS#8 encodings and RSA's private exponent / EC's scalar.
            # (Not the end of an EC key's PKCS#8: that is its public point, which the
            # certificate carries.)
            secrets = {}
            for name in ("alice.key", "dave.key"):
                der = openssl("pkcs8", "-topk8", "-nocrypt", "-in", os.path.join(pki, name),
                              "-outform", "DER")
                text = openssl("pkey", "-in", os.path.join(pki, name), "-text", "-noout").decode()
                m = re.search(r"(privateExponent|priv):\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
                value = bytes.fromhex(re.sub(r"[^0-9a-f]", "", m.group(2))).lstrip(b"\0")
                secrets[name + " " + m.group(1)] = value[:24]
                at = der.find(value[:24])
                self.assertGreater(at, 0)
                secrets[name + " PKCS#8 bytes"] = der[max(0, at - 16):at + 24]
            for root, _, files in os.walk(d.data_dir):
                for fn in files:
                    path = os.path.join(root, fn)
                    try:
                        with open(path, "rb") as f:
                            blob = f.read()
                    except OSError:
                        continue
                    for what, secret in secrets.items():
                        # Never print the blob or the secret: only where it was found.
                        self.assertFalse(secret in blob, "%s found in %s" % (what, path))
        finally:
            d.cleanup()
            shutil.rmtree(pki, ignore_errors=True)


if __name__ == "__main__":
    fx.main()
