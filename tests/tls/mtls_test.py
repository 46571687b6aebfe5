"""mtls_test: smimed's TCP listener with mutual TLS and roles, end to end.

One daemon listens on a free port of 127.0.0.1 with --tls-cert/--tls-key/--client-ca;
clients use Debian's grpcio with certificates made by pki.py (OpenSSL 3 command line):
admin, service, a certificate without a role, one from another CA, and none. Asserted:
each outcome; the role of every RPC of every served service, for each role; the audit
log's caller; smimectl's --tls-* flags; start-up errors for bad TLS flags; and
--role-from ou on a second daemon.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import grpc
from google.protobuf import descriptor_pb2

import pki
import smimed_fixture as fx

# SERVICE_RPCS is the contract (README.md, role matrix): what the service role may call.
# Every other RPC of a served service, including any RPC added later and not yet
# classified, is admin only; admin may call everything.
SERVICE_RPCS = {
    "/smime.v1.CertificateService/ListCertificates",
    "/smime.v1.CertificateService/GetCertificate",
    "/smime.v1.CertificateService/ExportCertificate",
    "/smime.v1.MessageService/GetSecurityOptions",
    "/smime.v1.MessageService/SignEncrypt",
    "/smime.v1.MessageService/DecryptVerify",
    "/smime.v1.LogService/ListLogs",
    "/smime.v1.LogService/ListRetryable",
    "/smime.v1.SettingsService/GetSettings",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}
ADMIN_RPCS_AT_LEAST = {
    "/smime.v1.CertificateService/ImportCertificates",
    "/smime.v1.CertificateService/ImportPrivateKey",
    "/smime.v1.CertificateService/DeleteCertificate",
    "/smime.v1.CertificateService/DeletePrivateKey",
    "/smime.v1.SettingsService/UpdateSettings",
}


def descriptor_methods():
    """descriptor_methods maps each service of the daemon's descriptor set to its methods
    as (path, client_streaming, server_streaming)."""
    fds = descriptor_pb2.FileDescriptorSet()
    with open(fx.runfile("protos/smime_descriptor_set.pb"), "rb") as f:
        fds.ParseFromString(f.read())
    out = {}
    for fd in fds.file:
        for svc in fd.service:
            name = (fd.package + "." if fd.package else "") + svc.name
            out[name] = [("/%s/%s" % (name, m.name), m.client_streaming, m.server_streaming)
                         for m in svc.method]
    return out


def code_of_any_call(channel, path, client_streaming, server_streaming, wait_for_ready=None):
    """code_of_any_call sends an empty request to path in the method's own streaming
    shape and returns the final status code (OK if it succeeded). With wait_for_ready a
    unary call rides out a transient connection failure (seen once on a loaded machine
    right after start-up: "Socket closed" during the first handshake) until its deadline."""
    ident = lambda b: b
    try:
        if not client_streaming and not server_streaming:
            channel.unary_unary(path, request_serializer=ident,
                                response_deserializer=ident)(b"", timeout=20,
                                                             wait_for_ready=wait_for_ready)
        elif not client_streaming:
            list(channel.unary_stream(path, request_serializer=ident,
                                      response_deserializer=ident)(b"", timeout=20))
        elif not server_streaming:
            channel.stream_unary(path, request_serializer=ident,
                                 response_deserializer=ident)(iter([b""]), timeout=20)
        else:
            list(channel.stream_stream(path, request_serializer=ident,
                                       response_deserializer=ident)(iter([b""]), timeout=20))
    except grpc.RpcError as e:
        return e.code(), e.details()
    return grpc.StatusCode.OK, ""


class MtlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smimed-tls.", dir="/tmp")
        cls.pki = pki.make(os.path.join(cls.tmp, "pki"))
        cls.port = fx.free_port()
        cls.target = "127.0.0.1:%d" % cls.port
        cert, key = cls.pki["server"]
        cls.d = fx.Daemon(extra_args=[
            "--listen", cls.target, "--tls-cert", cert, "--tls-key", key,
            "--client-ca", cls.pki["ca"][0]]).start()
        fx.enable(cls.d)  # over the Unix socket (admin)
        cls.channels = {}

    @classmethod
    def tearDownClass(cls):
        for ch in cls.channels.values():
            ch.close()
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def channel(self, who):
        """channel is a TLS channel presenting who's certificate (None: no certificate)."""
        if who not in self.channels:
            cert, key = self.pki[who] if who is not None else (None, None)
            self.channels[who] = fx.tls_channel(self.target, self.pki["ca"][0], cert, key)
        return self.channels[who]

    def call(self, who, method, **fields):
        return fx.call_on(self.channel(who), method, **fields)

    def test_01_log_says_mutual_tls(self):
        log = self.d.read_log()
        self.assertIn("listening on %s with mutual TLS" % self.target, log)
        self.assertIn("--role-from uri", log)
        self.assertNotIn("WITHOUT TLS", log)

    def test_02_admin_on_admin_rpcs(self):
        s = self.call("admin", "smime.v1.SettingsService/UpdateSettings", enabled=True)
        self.assertTrue(s.settings.enabled)
        with open(self.pki["ca"][0], "rb") as f:
            r = self.call("admin", "smime.v1.CertificateService/ImportCertificates", data=f.read())
        self.assertEqual(len(r.certificates), 1)
        code, _ = fx.code_of(lambda: self.call(
            "admin", "smime.v1.CertificateService/DeleteCertificate",
            sha256_fingerprint="00" * 32))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)
        # admin may also do what a service does.
        self.call("admin", "smime.v1.LogService/ListLogs", page_size=1)

    def test_03_service_denied_admin_rpcs_naming_its_role(self):
        for method, fields in [
                ("smime.v1.SettingsService/UpdateSettings", {"enabled": False}),
                ("smime.v1.CertificateService/ImportCertificates", {"data": b"x"}),
                ("smime.v1.CertificateService/DeletePrivateKey", {"sha256_fingerprint": "00"})]:
            code, details = fx.code_of(lambda: self.call("service", method, **fields))
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED, method)
            self.assertIn("needs the admin role", details)
            self.assertIn("CN=helpdesk-app", details)
            self.assertIn("has the service role", details)
        # Nothing changed: still enabled.
        self.assertTrue(self.d.call("smime.v1.SettingsService/GetSettings").settings.enabled)

    def test_04_service_works_on_service_rpcs(self):
        self.assertTrue(self.call("service", "smime.v1.SettingsService/GetSettings").settings.enabled)
        self.call("service", "smime.v1.LogService/ListLogs", page_size=5)
        self.call("service", "smime.v1.LogService/ListRetryable")
        self.call("service", "smime.v1.CertificateService/ListCertificates")
        self.assertEqual(self.call("service", "grpc.health.v1.Health/Check").status, 1)
        r = self.call("service", "smime.v1.MessageService/GetSecurityOptions",
                      **{"from": "agent@example.com", "recipients": ["c@example.org"]})
        self.assertIsNotNone(r)

    def test_05_certificate_without_role(self):
        for method in ("smime.v1.SettingsService/GetSettings",
                       "smime.v1.SettingsService/UpdateSettings"):
            code, details = fx.code_of(lambda: self.call("norole", method))
            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED)
            self.assertIn("CN=stranger", details)
            self.assertIn("has no smimed role", details)
            self.assertIn("subjectAltName URI", details)
            self.assertIn("smimed:role:service", details)
            self.assertIn("smimed:role:admin", details)

    def test_06_unknown_ca_and_no_certificate_fail_the_handshake(self):
        for who in ("intruder", None):
            code, _ = fx.code_of(lambda: self.call(who, "grpc.health.v1.Health/Check"))
            self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, who)
        # A client that does not trust the server's CA does not get in either.
        ch = fx.tls_channel(self.target, self.pki["other_ca"][0], *self.pki["admin"])
        try:
            code, _ = fx.code_of(lambda: fx.call_on(ch, "grpc.health.v1.Health/Check"))
            self.assertEqual(code, grpc.StatusCode.UNAVAILABLE)
        finally:
            ch.close()
        # And plaintext on the TLS port fails too.
        ch = grpc.insecure_channel(self.target)
        try:
            code, _ = fx.code_of(lambda: fx.call_on(ch, "grpc.health.v1.Health/Check",
                                                    timeout=5))
            self.assertIn(code, (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED))
        finally:
            ch.close()

    def test_07_role_matrix_over_every_rpc(self):
        """Every method of every served service (reflection's list, methods from the
        descriptor set), called by each role with an empty request: PERMISSION_DENIED
        exactly where the matrix says."""
        [resp] = list(self.channel("admin").stream_stream(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=fx.protos().message(
                "grpc.reflection.v1.ServerReflectionResponse").FromString)(
            iter([fx.protos().message("grpc.reflection.v1.ServerReflectionRequest")(
                list_services="")]), timeout=20))
        served = [s.name for s in resp.list_services_response.service]
        methods = descriptor_methods()
        self.assertGreaterEqual(len(served), 7, served)
        checked = set()
        try:
            for svc in served:
                self.assertIn(svc, methods, "served but not in the descriptor set")
                for path, cs, ss in methods[svc]:
                    service_ok = path in SERVICE_RPCS
                    for who, allowed in (("admin", True), ("service", service_ok),
                                         ("norole", False)):
                        code, details = code_of_any_call(self.channel(who), path, cs, ss)
                        if allowed:
                            self.assertNotEqual(code, grpc.StatusCode.PERMISSION_DENIED,
                                                "%s as %s: %s" % (path, who, details))
                        else:
                            self.assertEqual(code, grpc.StatusCode.PERMISSION_DENIED,
                                             "%s as %s: %s %s" % (path, who, code, details))
                    checked.add(path)
        finally:
            fx.enable(self.d)  # an empty UpdateSettings by admin switched it off
        self.assertTrue(ADMIN_RPCS_AT_LEAST <= checked)
        self.assertTrue(SERVICE_RPCS <= checked)
        print("role matrix: %d RPCs x 3 roles checked" % len(checked))

    def test_08_audit_log_names_the_certificate(self):
        self.call("admin", "smime.v1.SettingsService/UpdateSettings", enabled=True)
        entries = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_ADMIN",
                              page_size=1).entries
        self.assertEqual(entries[0].rpc, "/smime.v1.SettingsService/UpdateSettings")
        caller = entries[0].caller
        self.assertTrue(caller.startswith("admin: "), caller)
        self.assertIn("CN=ops-admin", caller)
        self.assertIn("(tls 127.0.0.1:", caller)
        # A refused attempt is on record too, with its caller.
        fx.code_of(lambda: self.call("service", "smime.v1.SettingsService/UpdateSettings"))
        e = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_ADMIN",
                        page_size=1).entries[0]
        self.assertEqual(e.rpc, "/smime.v1.SettingsService/UpdateSettings")
        self.assertEqual(e.status, 2)  # LOG_STATUS_FAILURE
        self.assertIn("service: ", e.caller)
        self.assertIn("CN=helpdesk-app", e.caller)
        self.assertIn("PERMISSION_DENIED", e.comment)
        # The Unix socket still says what it says.
        self.d.call("smime.v1.SettingsService/UpdateSettings", enabled=True)
        e = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_ADMIN",
                        page_size=1).entries[0]
        self.assertEqual(e.caller, "admin (unix socket)")

    def test_09_smimectl_with_tls_flags(self):
        ctl = fx.runfile("client/smimectl")

        def run(who, *args):
            cert, key = self.pki[who]
            return subprocess.run(
                [ctl, "--addr", self.target, "--tls-ca", self.pki["ca"][0], "--tls-cert", cert,
                 "--tls-key", key] + list(args), capture_output=True, text=True, timeout=60)

        p = run("admin", "get-settings")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["settings"]["enabled"])
        p = run("admin", "update-settings", "--enabled")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("service", "list-logs", "--page-size", "1")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run("service", "update-settings", "--enabled=false")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.startswith("error: PERMISSION_DENIED: "), p.stderr)
        self.assertIn("has the service role", p.stderr)


class StartupErrorsTest(unittest.TestCase):
    """Bad TLS flags stop smimed at once with a message naming the flag (exit 2)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smimed-tls-flags.", dir="/tmp")
        os.chmod(cls.tmp, 0o755)  # the embedded PostgreSQL's user must enter it
        cls.pki = pki.make(os.path.join(cls.tmp, "pki"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def smimed(self, *args):
        data = os.path.join(self.tmp, "data")
        return subprocess.run([fx.runfile("service/smimed"), "--data-dir", data] + list(args),
                              capture_output=True, text=True, timeout=60)

    def test_errors(self):
        cert, key = self.pki["server"]
        ca = self.pki["ca"][0]
        addr = "127.0.0.1:%d" % fx.free_port()
        cases = [
            (["--listen", addr, "--tls-cert", "/nonexistent.pem", "--tls-key", key,
              "--client-ca", ca], "--tls-cert /nonexistent.pem: cannot read"),
            (["--listen", addr, "--tls-cert", cert, "--tls-key", cert, "--client-ca", ca],
             "--tls-key %s: no PEM PRIVATE KEY" % cert),
            (["--listen", addr, "--tls-cert", cert, "--tls-key", key, "--client-ca", key],
             "--client-ca %s: no PEM CERTIFICATE" % key),
            (["--listen", addr, "--tls-cert", cert, "--tls-key", key],
             "missing: --client-ca"),
            (["--listen", addr, "--tls-cert", cert, "--tls-key", key, "--client-ca", ca,
              "--insecure"], "exclude each other"),
            (["--listen", "0.0.0.0:1", "--insecure"], "needs mutual TLS"),
            (["--listen", addr], "needs mutual TLS"),
            (["--tls-cert", cert], "--listen HOST:PORT, which is missing"),
            (["--listen", addr, "--tls-cert", cert, "--tls-key", key, "--client-ca", ca,
              "--role-from", "dns"], "--role-from must be uri, ou or cn"),
            (["--role-from", "ou"], "need --listen with --tls-cert"),
        ]
        for args, want in cases:
            p = self.smimed(*args)
            self.assertEqual(p.returncode, 2, "%s: %s" % (args, p.stderr))
            self.assertIn(want, p.stderr, args)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "data", "pgdata")))

    def test_key_not_matching_the_certificate(self):
        # gRPC's TLS stack checks the pair when the listener is added: smimed stops.
        cert, _ = self.pki["server"]
        p = self.smimed("--listen", "127.0.0.1:%d" % fx.free_port(), "--tls-cert", cert,
                        "--tls-key", self.pki["admin"][1], "--client-ca", self.pki["ca"][0])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot listen on 127.0.0.1:", p.stderr)
        self.assertIn("its matching private key", p.stderr)

    def test_help_documents_the_flags(self):
        p = subprocess.run([fx.runfile("service/smimed"), "--help"], capture_output=True,
                           text=True, timeout=10)
        for flag in ("--tls-cert", "--tls-key", "--client-ca", "--role-from", "--admin-match",
                     "--service-match", "smimed:role:admin"):
            self.assertIn(flag, p.stdout)


class RoleFromOuTest(unittest.TestCase):
    """--role-from ou: the role comes from the subject's OU (as gRPC reports the subject),
    not from the SAN URI: the "mixed" certificate (URI admin, OU service) is a service."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smimed-tls-ou.", dir="/tmp")
        cls.pki = pki.make(os.path.join(cls.tmp, "pki"))
        cls.target = "127.0.0.1:%d" % fx.free_port()
        cert, key = cls.pki["server"]
        cls.d = fx.Daemon(extra_args=[
            "--listen", cls.target, "--tls-cert", cert, "--tls-key", key,
            "--client-ca", cls.pki["ca"][0], "--role-from", "ou"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_ou(self):
        def code(who, method):
            ch = fx.tls_channel(self.target, self.pki["ca"][0], *self.pki[who])
            try:
                return code_of_any_call(ch, "/" + method, False, False, wait_for_ready=True)
            finally:
                ch.close()
        update, get = "smime.v1.SettingsService/UpdateSettings", "smime.v1.SettingsService/GetSettings"
        self.assertEqual(code("admin", update), (grpc.StatusCode.OK, ""))
        self.assertEqual(code("service", get), (grpc.StatusCode.OK, ""))
        c, details = code("mixed", update)
        self.assertEqual(c, grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("has the service role", details)
        self.assertIn("OU=smimed-service", details)
        self.assertEqual(code("mixed", get)[0], grpc.StatusCode.OK)
        c, details = code("norole", get)
        self.assertEqual(c, grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("a subject OU matching \"smimed-admin\"", details)


if __name__ == "__main__":
    fx.main()
