"""container_test: the smimed image, built from the Bazel outputs, run with podman and
driven from the host through mutual TLS, as an operator would run it.

build_image.sh builds the image FROM scratch (test tag localhost/smimed-test:VERSION, so
that the release tag is not replaced by a test build). A PostgreSQL started here on the
host (initdb as the system user smimed into /tmp, trust authentication on 127.0.0.1, a
free port) is the external database. The container runs as 65532:65532 with
--read-only, --network=host, --ulimit host, the KEK (0400, owned by 65532) and the TLS
files mounted read-only, a private directory for the Unix socket, and --metrics-listen on loopback.
From the host, through mTLS: enable, import alice.p12 (tests/pki/make_pki.sh), sign and
encrypt, decrypt and verify (decrypted, valid), list the logs; then the k8s probe
(smimectl check over the socket, by podman exec), /metrics, and a clean SIGTERM stop.

When podman or runc is missing, or podman cannot run a container here, the test FAILS
and says what is missing: it never passes without having run the image.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import smimed_fixture as fx



def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True,
                   env=dict(os.environ, OPENSSL_CONF="/dev/null"))


def make_tls_pki(d):
    """make_tls_pki makes, with the OpenSSL 3 command line, the CA given to --client-ca,
    the server's certificate (localhost, 127.0.0.1) and an admin and a service client
    (SAN URI smimed:role:...), as tests/tls/pki.py does; returns name -> (cert, key)."""
    os.makedirs(d)
    out = {}
    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca, "-subj", "/O=Example/CN=smimed container test CA",
            "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    out["ca"] = (ca, ca_key)
    leaves = {
        "server": ("/O=Example/CN=localhost",
                   "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        "admin": ("/O=Example/CN=ops-admin",
                  "subjectAltName=URI:smimed:role:admin\nextendedKeyUsage=clientAuth\n"),
        "service": ("/O=Example/CN=helpdesk-app",
                    "subjectAltName=URI:smimed:role:service\nextendedKeyUsage=clientAuth\n"),
    }
    for serial, (name, (subject, ext)) in enumerate(sorted(leaves.items())):
        cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
        csr, extfile = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
        with open(extfile, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + ext)
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", subject)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial",
                str(1000 + serial), "-days", "2", "-out", cert, "-extfile", extfile)
        out[name] = (cert, key)
    return out

CERTS = "smime.v1.CertificateService/"
MSG = "smime.v1.MessageService/"
LOGS = "smime.v1.LogService/"
SETTINGS = "smime.v1.SettingsService/"
PG_BIN = "/usr/lib/postgresql/15/bin"
UID = 65532
HERE = os.path.dirname(os.path.abspath(__file__))
CONTAINERS_CONF = os.path.join(HERE, "containers.conf")
# runc lives in /usr/sbin, which `bazel test` leaves out of PATH.
os.environ["PATH"] = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"


def podman_env():
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", CONTAINERS_CONF)
    return env


def podman(*args, check=True, timeout=300):
    r = subprocess.run(["podman", "--runtime", "runc"] + list(args), env=podman_env(),
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("podman %s failed (%d):\n%s%s" % (" ".join(args), r.returncode,
                                                               r.stdout, r.stderr))
    return r


def missing_prerequisites():
    """missing_prerequisites says what keeps this machine from running the image, or
    returns None."""
    missing = [what for cmd, what in (("podman", "podman (Debian package podman)"),
                                      ("runc", "runc (Debian package runc)"))
               if shutil.which(cmd) is None]
    if missing:
        return ("cannot run the container tests: %s not installed; run scripts/setup.sh "
                "as root" % " and ".join(missing))
    if os.geteuid() != 0:
        return ("cannot run the container tests: they run podman as root (DESIGN.md "
                "section 4) and start PostgreSQL as the user smimed; this runs as uid %d"
                % os.geteuid())
    try:
        subprocess.run(["id", "smimed"], check=True, capture_output=True)
    except subprocess.CalledProcessError:
        return "cannot run the container tests: no system user smimed; run scripts/setup.sh"
    r = subprocess.run(["podman", "--runtime", "runc", "info"], env=podman_env(),
                       capture_output=True, text=True)
    if r.returncode != 0:
        return "cannot run the container tests: `podman --runtime runc info` fails:\n" + r.stderr
    return None


class Postgres:
    """Postgres is a throwaway PostgreSQL 15 cluster on 127.0.0.1:port, run as the system
    user smimed (PostgreSQL refuses root), with trust authentication."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smimed-ctr-pg.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = fx.free_port()
        self.proc = None
        self.log = os.path.join(self.dir, "postgres.log")
        subprocess.run(["chown", "smimed:smimed", self.dir], check=True)

    def as_smimed(self, *args, **kw):
        return subprocess.run(["runuser", "-u", "smimed", "--"] + list(args), check=True,
                              capture_output=True, text=True, **kw)

    def start(self):
        self.as_smimed(os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "smimed",
                       "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["runuser", "-u", "smimed", "--", os.path.join(PG_BIN, "postgres"),
                 "-D", self.data, "-k", self.dir, "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-h", "127.0.0.1", "-p",
                                str(self.port)], capture_output=True)
            if r.returncode == 0:
                break
            if self.proc.poll() is not None:
                raise AssertionError("postgres exited: " + open(self.log).read())
            time.sleep(0.2)
        self.as_smimed("/usr/lib/postgresql/15/bin/createdb", "-h", "127.0.0.1", "-p",
                       str(self.port), "-U", "smimed", "smimed")
        return self

    @property
    def url(self):
        return "postgresql://smimed@127.0.0.1:%d/smimed" % self.port

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # runuser passes SIGTERM on: a smart shutdown
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def private_copy(src, dst, mode=0o400):
    """private_copy copies src to dst owned by the container's user, with |mode|."""
    shutil.copyfile(src, dst)
    os.chown(dst, UID, UID)
    os.chmod(dst, mode)
    return dst


class ContainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.name = None
        cls.pg = None
        cls.tmp = None
        problem = missing_prerequisites()
        if problem is not None:
            raise AssertionError(problem)
        try:
            cls.set_up()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def set_up(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smimed-ctr.", dir="/tmp")
        version = subprocess.run([fx.runfile("service/smimed"), "--version"], check=True,
                                 capture_output=True, text=True).stdout.split()[1]
        cls.image = "localhost/smimed-test:" + version
        r = subprocess.run(
            [fx.runfile("container/build_image.sh"), "--tag", cls.image,
             fx.runfile("service/smimed"), fx.runfile("service/smime-engine"),
             fx.runfile("service/smime-keystore"), fx.runfile("client/smimectl")],
            env=podman_env(), capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise AssertionError("build_image.sh failed:\n" + r.stdout + r.stderr)
        cls.build_output = r.stdout + r.stderr

        cls.pki = make_tls_pki(os.path.join(cls.tmp, "tls"))
        mounts = os.path.join(cls.tmp, "mounts")
        os.makedirs(mounts)
        cls.kek = os.path.join(mounts, "kek.key")
        with open(cls.kek, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chown(cls.kek, UID, UID)
        os.chmod(cls.kek, 0o400)
        cert = private_copy(cls.pki["server"][0], os.path.join(mounts, "tls.crt"), 0o444)
        key = private_copy(cls.pki["server"][1], os.path.join(mounts, "tls.key"))
        ca = private_copy(cls.pki["ca"][0], os.path.join(mounts, "ca.crt"), 0o444)

        # The socket's directory: the container's user alone may enter it (podman 4.3's
        # --tmpfs takes no uid= option, so a host directory stands in for the emptyDir).
        sock_dir = os.path.join(cls.tmp, "sock")
        os.makedirs(sock_dir)
        os.chown(sock_dir, UID, UID)
        os.chmod(sock_dir, 0o700)

        cls.mail = os.path.join(cls.tmp, "mail")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), cls.mail], check=True,
                       capture_output=True)

        cls.pg = Postgres().start()
        cls.port = fx.free_port()
        cls.metrics_port = fx.free_port()
        cls.target = "127.0.0.1:%d" % cls.port
        cls.name = "smimed-test-%d" % os.getpid()
        podman("run", "--detach", "--name", cls.name, "--network=host", "--ulimit", "host",
               "--read-only", "--tmpfs", "/tmp:rw,size=64m",
               "-v", "%s:/run/smimed/sock:rw" % sock_dir,
               "-v", "%s:/run/smimed/kek/kek.key:ro" % cls.kek,
               "-v", "%s:/etc/smimed/tls/tls.crt:ro" % cert,
               "-v", "%s:/etc/smimed/tls/tls.key:ro" % key,
               "-v", "%s:/etc/smimed/tls/ca.crt:ro" % ca,
               cls.image,
               "--database-url", cls.pg.url, "--kek-file", "/run/smimed/kek/kek.key",
               "--socket", "/run/smimed/sock/smimed.sock",
               "--listen", cls.target, "--tls-cert", "/etc/smimed/tls/tls.crt",
               "--tls-key", "/etc/smimed/tls/tls.key", "--client-ca", "/etc/smimed/tls/ca.crt",
               "--metrics-listen", "127.0.0.1:%d" % cls.metrics_port, "--engines", "2")
        deadline = time.time() + 120
        while True:
            logs = cls.logs()
            if re.search(r"smimed \S+ ready \(", logs):
                break
            state = podman("inspect", "--format", "{{.State.Status}}", cls.name).stdout.strip()
            if state not in ("running", "created", "configured") or time.time() > deadline:
                raise AssertionError("the container did not become ready (state %s):\n%s"
                                     % (state, logs))
            time.sleep(0.3)
        cls.admin = fx.tls_channel(cls.target, cls.pki["ca"][0], *cls.pki["admin"])
        cls.service = fx.tls_channel(cls.target, cls.pki["ca"][0], *cls.pki["service"])

    @classmethod
    def logs(cls):
        r = podman("logs", cls.name, check=False)
        return r.stdout + r.stderr

    @classmethod
    def tearDownClass(cls):
        for ch in ("admin", "service"):
            if getattr(cls, ch, None) is not None:
                getattr(cls, ch).close()
        if cls.name is not None:
            podman("rm", "--force", "--time", "5", cls.name, check=False)
        if cls.pg is not None:
            cls.pg.stop()
        if cls.tmp is not None:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def read(self, name):
        with open(os.path.join(self.mail, name), "rb") as f:
            return f.read()

    def test_01_image_is_scratch_nonroot_without_shell(self):
        info = podman("image", "inspect", "--format",
                      "{{.Config.User}}|{{json .Config.Entrypoint}}", self.image).stdout.strip()
        self.assertEqual(info, '65532:65532|["/usr/bin/smimed"]')
        r = podman("run", "--rm", "--ulimit", "host", "--network=none", "--entrypoint",
                   "/bin/sh", self.image, "-c", "true", check=False)
        self.assertNotEqual(r.returncode, 0, "the image has a shell")
        r = podman("run", "--rm", "--ulimit", "host", "--network=none", "--read-only",
                   self.image, "--version")
        self.assertRegex(r.stdout, r"^smimed \d+\.\d+\.\d+")
        r = podman("run", "--rm", "--ulimit", "host", "--network=none", "--read-only",
                   "--entrypoint", "/usr/bin/smimectl", self.image, "--help")
        self.assertIn("smimectl", r.stdout)
        top = podman("top", self.name, "user", "group", "comm").stdout
        for comm in ("smimed", "smime-engine", "smime-keystore"):
            lines = [l for l in top.splitlines() if l.split()[-1:] == [comm]]
            self.assertTrue(lines, "no %s process in:\n%s" % (comm, top))
            for l in lines:
                self.assertIn(l.split()[:2], (["65532", "65532"], ["smimed", "smimed"]), top)

    def test_02_operator_scenario_over_mtls(self):
        fx.call_on(self.admin, SETTINGS + "UpdateSettings", enabled=True)
        self.assertTrue(fx.call_on(self.service, SETTINGS + "GetSettings").settings.enabled)
        fx.call_on(self.admin, CERTS + "ImportCertificates",
                   data=self.read("inter.pem") + self.read("root.pem"))
        r = fx.call_on(self.admin, CERTS + "ImportCertificates", data=self.read("alice.p12"),
                       password="secret")
        self.assertTrue(r.private_key_imported)

        body = "Hello,\nyour ticket #42 is solved.\n"
        message = ("From: Alice <alice@example.com>\r\nTo: alice@example.com\r\n"
                   "Subject: Ticket #42\r\nMessage-ID: <ctr-%s@helpdesk.example>\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n\r\n%s"
                   % (os.urandom(4).hex(), body.replace("\n", "\r\n"))).encode()
        sent = fx.call_on(self.service, MSG + "SignEncrypt", timeout=60, message=message,
                          sign=True, encrypt=True)
        self.assertIn(b"application/pkcs7-mime", sent.message)
        self.assertNotIn(b"ticket #42 is solved", sent.message)

        opened = fx.call_on(self.service, MSG + "DecryptVerify", timeout=60,
                            message=sent.message)
        Layer = fx.protos().message("smime.v1.Layer")
        enveloped = [l for l in opened.layers if l.kind in (Layer.KIND_ENVELOPED,
                                                            Layer.KIND_AUTH_ENVELOPED)]
        signed = [l for l in opened.layers if l.kind == Layer.KIND_SIGNED]
        self.assertTrue(enveloped and signed, opened)
        self.assertEqual(fx.protos().pool.FindEnumTypeByName("smime.v1.DecryptionStatus")
                         .values_by_number[enveloped[0].decryption_status].name,
                         "DECRYPTION_STATUS_DECRYPTED")
        self.assertEqual(fx.protos().pool.FindEnumTypeByName("smime.v1.SignatureStatus")
                         .values_by_number[signed[0].signature_status].name,
                         "SIGNATURE_STATUS_VALID")
        self.assertIn(b"ticket #42 is solved", opened.message)

        logs = fx.call_on(self.service, LOGS + "ListLogs", page_size=50)
        rpcs = [e.rpc for e in logs.entries]
        self.assertTrue(any("SignEncrypt" in r for r in rpcs), rpcs)
        self.assertTrue(any("DecryptVerify" in r for r in rpcs), rpcs)
        self.assertTrue(any("helpdesk-app" in e.caller for e in logs.entries),
                        [e.caller for e in logs.entries])

    def test_03_probe_over_the_socket_and_metrics(self):
        # The Kubernetes probe of deploy/deployment.yaml, as it runs there.
        r = podman("exec", self.name, "/usr/bin/smimectl", "--addr",
                   "unix:/run/smimed/sock/smimed.sock", "--deadline", "4", "check")
        self.assertIn("SERVING", r.stdout)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port,
                                    timeout=10) as resp:
            text = resp.read().decode()
        self.assertIn("smimed_engines 2\n", text)
        self.assertIn('smimed_worker_restarts_total{worker="engine"} 0\n', text)
        self.assertRegex(text, r'smimed_rpc_total\{method="smime.v1.SettingsService/'
                               r'UpdateSettings",code="OK"\} [1-9]')

    def test_04_sigterm_stops_cleanly(self):
        podman("stop", "--time", "60", self.name)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        logs = self.logs()
        self.assertEqual(code, "0", logs)
        self.assertIn("stopped", logs)


if __name__ == "__main__":
    fx.main()
