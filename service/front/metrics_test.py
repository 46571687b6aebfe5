"""metrics_test: smimed --metrics-listen, end to end: a few RPCs with known outcomes,
then a scrape of http://127.0.0.1:PORT/metrics whose numbers must match exactly
(per-method and per-code counts, histogram consistency, engines, worker restarts after
an engine is killed); other paths get 404; bad flags fail at start with a message."""

import os
import re
import signal
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import grpc

import smimed_fixture as fx

SETTINGS = "smime.v1.SettingsService/"
CERTS = "smime.v1.CertificateService/"
MSG = "smime.v1.MessageService/"


def parse(text):
    """parse maps 'name{labels}' (labels as written) to the sample's value."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        out[key] = float(value)
    return out


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = fx.free_port()
        cls.d = fx.Daemon(extra_args=["--metrics-listen", "127.0.0.1:%d" % cls.port,
                                      "--engines", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def scrape(self, path="/metrics"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=10) as resp:
            self.assertEqual(resp.headers["Content-Type"],
                             "text/plain; version=0.0.4; charset=utf-8")
            return resp.read().decode()

    def test_01_counts_match_the_calls(self):
        m = parse(self.scrape())
        self.assertEqual(m["smimed_rpc_in_flight"], 0)
        self.assertFalse([k for k in m if k.startswith("smimed_rpc_total")], m)
        for _ in range(3):
            self.d.call(SETTINGS + "GetSettings")
        code, _ = fx.code_of(lambda: self.d.call(CERTS + "ListCertificates"))
        self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION)  # disabled
        code, _ = fx.code_of(lambda: self.d.call_raw("/no.Such/Method", b""))
        self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED)
        fx.enable(self.d)
        self.d.call(MSG + "DecryptVerify", message=b"From: a@example.com\r\n\r\nplain\r\n")

        text = self.scrape()
        m = parse(text)
        gs = 'method="smime.v1.SettingsService/GetSettings"'
        self.assertEqual(m['smimed_rpc_total{%s,code="OK"}' % gs], 3)
        self.assertEqual(m['smimed_rpc_total{method="smime.v1.CertificateService/'
                           'ListCertificates",code="FAILED_PRECONDITION"}'], 1)
        self.assertEqual(m['smimed_rpc_total{method="unknown",code="UNIMPLEMENTED"}'], 1)
        self.assertEqual(m['smimed_rpc_total{method="smime.v1.SettingsService/'
                           'UpdateSettings",code="OK"}'], 1)
        self.assertEqual(m['smimed_rpc_total{method="smime.v1.MessageService/'
                           'DecryptVerify",code="OK"}'], 1)
        self.assertEqual(len([k for k in m if k.startswith("smimed_rpc_total")]), 5, text)
        # Histogram: cumulative, ends at +Inf == _count == calls; a sum that is sane.
        buckets = [(k, v) for k, v in m.items()
                   if k.startswith("smimed_rpc_duration_seconds_bucket{%s," % gs)]
        self.assertEqual(len(buckets), 15)
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values))
        self.assertIn('le="+Inf"', buckets[-1][0])
        self.assertEqual(values[-1], 3)
        self.assertEqual(m["smimed_rpc_duration_seconds_count{%s}" % gs], 3)
        self.assertGreater(m["smimed_rpc_duration_seconds_sum{%s}" % gs], 0)
        self.assertLess(m["smimed_rpc_duration_seconds_sum{%s}" % gs], 30)
        self.assertEqual(m["smimed_engines"], 2)
        self.assertEqual(m['smimed_worker_restarts_total{worker="engine"}'], 0)
        self.assertEqual(m['smimed_worker_restarts_total{worker="keystore"}'], 0)
        # Each GetSettings asks both workers a hello, the plain DecryptVerify one engine
        # request (open_layer); the start's hellos are not counted.
        self.assertEqual(m['smimed_worker_requests_total{worker="engine"}'], 3 + 1)
        self.assertEqual(m['smimed_worker_requests_total{worker="keystore"}'], 3)
        self.assertEqual(m['smimed_build_info{version="0.1.0"}'], 1)
        self.assertLessEqual(abs(m["smimed_process_start_time_seconds"] - time.time()), 600)
        # The audit queue is empty between calls; the query cache is on (its change
        # listener connected) and answered the repeated "is S/MIME enabled" reads.
        self.assertEqual(m["smimed_audit_queue_depth"], 0)
        self.assertEqual(m["smimed_query_cache_enabled"], 1)
        self.assertGreaterEqual(m["smimed_query_cache_invalidations_total"], 1)  # the update
        # Of 5 calls at most 2 miss: the first after the update's own invalidation, and
        # one after its NOTIFY, which the change listener may receive a moment later.
        before = m["smimed_query_cache_hits_total"]
        for _ in range(5):
            self.d.call(MSG + "DecryptVerify", message=b"From: a@example.com\r\n\r\nx\r\n")
        self.assertGreaterEqual(parse(self.scrape())["smimed_query_cache_hits_total"],
                                before + 3)
        # Every sample line has HELP and TYPE.
        for name in ("smimed_rpc_total", "smimed_rpc_duration_seconds", "smimed_engines",
                     "smimed_worker_restarts_total", "smimed_worker_requests_total",
                     "smimed_rpc_in_flight",
                     "smimed_audit_queue_depth", "smimed_query_cache_hits_total",
                     "smimed_query_cache_misses_total", "smimed_query_cache_entries",
                     "smimed_query_cache_enabled", "smimed_query_cache_invalidations_total"):
            self.assertIn("# TYPE %s " % name, text)
            self.assertIn("# HELP %s " % name, text)

    def test_02_engine_restart_is_counted(self):
        engines = [pid for pid, name in fx.children_of(self.d.proc.pid)
                   if name == "smime-engine"]
        self.assertEqual(len(engines), 2)
        for pid in engines:
            os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 30
        restarts = 0
        while time.time() < deadline:
            # Calls that need an engine find the dead ones (and retry or fail cleanly).
            try:
                self.d.call(MSG + "DecryptVerify", message=b"From: a@example.com\r\n\r\nx\r\n")
            except grpc.RpcError:
                pass
            restarts = parse(self.scrape())['smimed_worker_restarts_total{worker="engine"}']
            if restarts >= 1:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(restarts, 1)

    def test_03_other_paths_and_methods(self):
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.scrape("/")
        self.assertEqual(cm.exception.code, 404)
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.port, data=b"x",
                                     method="POST")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 405)
        # A silent client does not block scrapes for longer than its timeout.
        with socket.create_connection(("127.0.0.1", self.port)):
            t0 = time.time()
            self.scrape()
            self.assertLess(time.time() - t0, 8)

    def test_04_bad_flags_fail_at_start(self):
        smimed = fx.runfile("service/smimed")
        r = subprocess.run([smimed, "--data-dir", "/nonexistent/x", "--metrics-listen", "9464"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--metrics-listen must be HOST:PORT", r.stderr)
        r = subprocess.run([smimed, "--data-dir", "/nonexistent/x", "--metrics-listen",
                            "127.0.0.1:%d" % self.port], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, re.escape("--metrics-listen 127.0.0.1:%d: cannot listen"
                                             % self.port))
        r = subprocess.run([smimed, "--help"], capture_output=True, text=True)
        self.assertIn("--metrics-listen HOST:PORT", r.stdout)
        r = subprocess.run([smimed, "--version"], capture_output=True, text=True)
        self.assertEqual(r.stdout, "smimed 0.1.0\n")


if __name__ == "__main__":
    fx.main()
