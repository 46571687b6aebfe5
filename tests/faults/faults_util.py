"""faults_util: what the fault tests share: the worker processes of a daemon, read from
/proc, and a pool of threads that keeps calls in flight while a fault is injected."""

import os
import subprocess
import threading
import time

import grpc

import mail_fixture
import smimed_fixture as fx
from mail_fixture import CERTS, MSG, message, sign_encrypt  # noqa: F401


def start(extra_args=(), names=("alice", "carol")):
    """start returns (daemon, pki) with |names| imported with their keys and a channel
    carrying 64 MiB messages both ways."""
    return mail_fixture.start(extra_args=extra_args, names=names, without_keys=(),
                              big_channel=True)


def workers(d):
    """workers returns {"smime-engine": [pids], "smime-keystore": [pids]} of daemon d."""
    out = {"smime-engine": [], "smime-keystore": []}
    for pid, name in fx.children_of(d.proc.pid):
        if name in out:
            out[name].append(pid)
    return out


def wait_workers(d, engines=None, keystores=None, timeout=20):
    """wait_workers waits until d has |keystores| keystores and |engines| engines (each
    default: as many as it has now, at least 1), none of them a zombie, and returns
    workers(d)."""
    deadline = time.time() + timeout
    while True:
        w = workers(d)
        live = {k: [p for p in v if state(p) not in ("Z", "X", None)] for k, v in w.items()}
        want_e = engines if engines is not None else max(1, len(w["smime-engine"]))
        want_k = keystores if keystores is not None else max(1, len(w["smime-keystore"]))
        if len(live["smime-keystore"]) == want_k and len(live["smime-engine"]) == want_e:
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

    def saw(self, code):
        """saw says whether some call so far ended with |code|."""
        with self.lock:
            return any(r[2] == code for r in self.results)


def codes(results):
    out = {}
    for r in results:
        out[r[2]] = out.get(r[2], 0) + 1
    return out
