"""smimed_fixture: start the real daemon on its embedded default and call it over gRPC.

Used by the end-to-end tests in this directory. Messages are built from the daemon's own
FileDescriptorSet (protos:descriptor_set), so these tests need no generated Python code:
they use Debian's python3-grpcio and python3-protobuf as an independent client would.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

RUNFILES = os.environ.get("TEST_SRCDIR", "")
WORKSPACE = os.environ.get("TEST_WORKSPACE", "smimed")


def runfile(path):
    """runfile returns the absolute path of a Bazel runfile such as service/smimed."""
    candidate = os.path.join(RUNFILES, WORKSPACE, path)
    if os.path.exists(candidate):
        return candidate
    # Outside Bazel (python3 tests/x.py from the repo root after bazel build).
    return os.path.join("bazel-bin", path)


class Protos:
    """Protos turns message names into classes, from the served descriptor set."""

    def __init__(self):
        fds = descriptor_pb2.FileDescriptorSet()
        with open(runfile("protos/smime_descriptor_set.pb"), "rb") as f:
            fds.ParseFromString(f.read())
        self.pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            self.pool.Add(fd)
        self.factory = message_factory.MessageFactory(self.pool)

    def message(self, full_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))

    def method(self, full_method):
        """method("smime.v1.SettingsService/GetSettings") -> (path, request class, response class)."""
        service_name, method_name = full_method.split("/")
        service = self.pool.FindServiceByName(service_name)
        method = service.methods_by_name[method_name]
        return ("/%s/%s" % (service_name, method_name),
                self.message(method.input_type.full_name),
                self.message(method.output_type.full_name))


PROTOS = None


def protos():
    global PROTOS
    if PROTOS is None:
        PROTOS = Protos()
    return PROTOS


def children_of(pid):
    """children_of lists (pid, name) of the direct children of pid, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == pid:
            out.append((int(entry), name))
    return out


# What smimed logs once every listener accepts calls (main.c).
READY_LINE = re.compile(r"smimed \S+ ready \(")


class Daemon:
    """Daemon is one smimed process on a data directory under /tmp.

    The data directory is outside Bazel's tree because, run as root, PostgreSQL runs as
    the system user smimed, which cannot enter /root.
    """

    def __init__(self, data_dir=None, extra_args=(), database_url=None, kek_file=None):
        """With database_url (and kek_file), the daemon uses that PostgreSQL and key
        file instead of its embedded default; data_dir then only holds its socket."""
        self.database_url = database_url
        self.kek_file = kek_file
        self.own_dir = data_dir is None
        if data_dir is None:
            data_dir = tempfile.mkdtemp(prefix="smimed-test.", dir="/tmp")
            os.chmod(data_dir, 0o755)
            data_dir = os.path.join(data_dir, "data")
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.channel = None
        self.log_path = data_dir + ".log"

    @property
    def socket(self):
        return os.path.join(self.data_dir, "smimed.sock")

    @property
    def addr(self):
        return "unix:" + self.socket

    def start(self, timeout=90):
        self.log = open(self.log_path, "ab")
        if self.database_url is not None:
            os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
            where = ["--database-url", self.database_url, "--kek-file", self.kek_file,
                     "--socket", self.socket]
        else:
            where = ["--data-dir", self.data_dir]
        self.proc = subprocess.Popen([runfile("service/smimed")] + where + self.extra_args,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("smimed exited with %s during start-up:\n%s"
                                     % (self.proc.returncode, self.read_log()))
            # The daemon's own line, not PostgreSQL's "ready to accept connections": the
            # socket file exists from bind, before the server listens on it.
            if os.path.exists(self.socket) and READY_LINE.search(self.read_log()):
                self.channel = grpc.insecure_channel(
                    self.addr, options=[("grpc.max_send_message_length", 64 << 20),
                                        ("grpc.max_receive_message_length", 64 << 20)])
                return self
            time.sleep(0.1)
        raise AssertionError("smimed did not become ready in %ss:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def call(self, full_method, timeout=30, **fields):
        """call sends one unary RPC and returns the response (raises grpc.RpcError)."""
        path, req_cls, resp_cls = protos().method(full_method)
        stub = self.channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                        response_deserializer=resp_cls.FromString)
        return stub(req_cls(**fields), timeout=timeout)

    def call_raw(self, path, payload, timeout=30):
        """call_raw sends arbitrary bytes as the request of path."""
        stub = self.channel.unary_unary(path, request_serializer=lambda b: b,
                                        response_deserializer=lambda b: b)
        return stub(payload, timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        """stop signals the daemon and returns its exit code."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("smimed did not stop within %ss:\n%s" % (timeout, self.read_log()))
        self.log.close()
        self.proc = None
        return code

    def cleanup(self):
        if self.proc is not None:
            self.stop()
        if self.own_dir:
            shutil.rmtree(os.path.dirname(self.data_dir), ignore_errors=True)


def free_port():
    """free_port returns a TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_channel(target, ca_file, cert_file=None, key_file=None, server_name=None):
    """tls_channel opens a TLS channel to target ("127.0.0.1:PORT") that trusts the PEM
    CA in ca_file and presents the client certificate cert_file with key_file (both
    None: no client certificate)."""
    def read(path):
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=read(ca_file),
                                         private_key=read(key_file),
                                         certificate_chain=read(cert_file))
    options = [("grpc.max_send_message_length", 64 << 20)]
    if server_name is not None:
        options.append(("grpc.ssl_target_name_override", server_name))
    return grpc.secure_channel(target, creds, options=options)


def call_on(channel, full_method, timeout=30, **fields):
    """call_on is Daemon.call on another channel (e.g. one from tls_channel)."""
    path, req_cls, resp_cls = protos().method(full_method)
    stub = channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                               response_deserializer=resp_cls.FromString)
    return stub(req_cls(**fields), timeout=timeout)


def enable(daemon):
    daemon.call("smime.v1.SettingsService/UpdateSettings", enabled=True)


def code_of(fn):
    """code_of runs fn and returns (grpc.StatusCode, details) of the error it raised."""
    try:
        fn()
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded but an error was expected")


def main():
    import unittest
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
