"""faults_util: what the fault tests share: the worker processes of a daemon, read from
/proc, and a pool of threads that keeps calls in flight while a fault is injected."""

import os
import shutil
import subprocess
import tempfile
import threading
import time

import grpc

import smimed_fixture as fx

MSG = "smime.v1.MessageService/"
CERTS = "smime.v1.CertificateService/"

# The helpers below (Pki, start, message, sign_encrypt) are a trimmed copy of
# tests/outgoing/outgoing_util.py, which tests/outgoing does not export to other
# packages.


class Pki:
    """Pki is make_pki.sh's output in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smimed-pki.")
        subprocess.run([fx.runfile("tests/pki/make_pki.sh"), self.dir], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def start(extra_args=(), names=("alice", "carol")):
    """start returns (daemon, pki): a daemon with the test CAs and |names| with their
    keys, its channel allowing 64 MiB both ways."""
    pki = Pki()
    d = fx.Daemon(extra_args=extra_args)
    try:
        d.start()
        d.channel.close()
        d.channel = grpc.insecure_channel(
            d.addr, options=[("grpc.max_send_message_length", 64 << 20),
                             ("grpc.max_receive_message_length", 64 << 20)])
        fx.enable(d)
        d.call(CERTS + "ImportCertificates", data=pki.read("inter.pem") + pki.read("root.pem"))
        for name in names:
            d.call(CERTS + "ImportCertificates",
                   data=pki.read(name + ".pem") + pki.read(name + ".key"))
    except BaseException:
        d.cleanup()
        pki.cleanup()
        raise
    return d, pki


def message(body="Hello,\nyour ticket is solved.\n"):
    lines = ["From: Alice <alice@example.com>", "To: carol@example.com",
             "Subject: Ticket #42", "Date: Mon, 1 Jan 2024 10:00:00 +0000",
             "Message-ID: <%s@helpdesk.example>" % os.urandom(6).hex(),
             "Content-Type: text/plain; charset=utf-8", "", body]
    return "\n".join(lines).encode()


def sign_encrypt(d, msg, sign=False, encrypt=False, timeout=60):
    return d.call(MSG + "SignEncrypt", timeout=timeout, message=msg, sign=sign,
                  encrypt=encrypt)


def workers(d):
    """workers returns {"smime-engine": [pids], "smime-keystore": [pids]} of daemon d."""
    out = {"smime-engine": [], "smime-keystore": []}
    for pid, name in fx.children_of(d.proc.pid):
        if name in out:
            out[name].append(pid)
    return out


def wait_workers(d, engines=None, timeout=20):
    """wait_workers waits until d has its keystore and |engines| engines (default: as
    many as it has now, at least 1), none of them a zombie, and returns workers(d)."""
    deadline = time.time() + timeout
    while True:
        w = workers(d)
        live = {k: [p for p in v if state(p) not in ("Z", "X", None)] for k, v in w.items()}
        want = engines if engines is not None else max(1, len(w["smime-engine"]))
        if len(live["smime-keystore"]) == 1 and len(live["smime-engine"]) == want:
            return live
        if time.time() > deadline:
            raise AssertionError("workers not back within %ss: %s\n%s" % (timeout, w, d.read_log()))
        time.sleep(0.05)


def state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def status_fields(pid):
    """status_fields parses /proc/PID/status into a dict."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def limits(pid):
    """limits parses /proc/PID/limits into {name: (soft, hard)}."""
    out = {}
    with open("/proc/%d/limits" % pid) as f:
        next(f)
        for line in f:
            name = line[:26].strip()
            fields = line[26:].split()
            out[name] = (fields[0], fields[1])
    return out


def fds(pid):
    return sorted(int(x) for x in os.listdir("/proc/%d/fd" % pid))


class Load:
    """Load runs call() from |threads| threads until stop(), recording every outcome
    as (start time, end time, grpc.StatusCode, details, result)."""

    def __init__(self, call, threads):
        self.call = call
        self.results = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        self.counter = 0

    def next_index(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def run(self, t):
        while not self.stopping.is_set():
            i = self.next_index()
            start = time.time()
            try:
                r = self.call(t, i)
                code, details = grpc.StatusCode.OK, ""
            except grpc.RpcError as e:
                r, code, details = None, e.code(), e.details()
            with self.lock:
                self.results.append((start, time.time(), code, details, (t, i, r)))

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def stop(self):
        self.stopping.set()
        for th in self.threads:
            th.join()
        return self.results

    def count(self):
        with self.lock:
            return len(self.results)


def codes(results):
    out = {}
    for r in results:
        out[r[2]] = out.get(r[2], 0) + 1
    return out
