"""worker_faults_test: workers killed while calls are in flight, and SIGTERM to the
daemon during slow calls, against the real daemon, its real workers and PostgreSQL.

- An engine killed (SIGKILL) under load: every call in flight either succeeds or fails
  UNAVAILABLE (none hangs, none gets another error), a new engine takes its place, and
  the next calls work.
- The keystore killed likewise, during signing calls.
- SIGTERM while 25 MiB SignEncrypt calls run: they complete, the daemon exits 0, and no
  worker or postgres process is left behind."""

import base64
import os
import signal
import threading
import time
import unittest

import grpc

import faults_util as fu
import smimed_fixture as fx
from faults_util import message, sign_encrypt, start

SETTINGS = "smime.v1.SettingsService/"
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE


def big_message(mib):
    raw = os.urandom(int(mib * 1024 * 1024 * 3 / 4))
    return message(body=base64.encodebytes(raw).decode())


class WorkerFaultsTest(unittest.TestCase):
    def setUp(self):
        self.d, self.pki = start(extra_args=["--max-message-size", "64M"])

    def tearDown(self):
        self.d.cleanup()
        self.pki.cleanup()

    def under_load(self, call, kill_kind, threads=6, settle=1.5, kills=2, max_kills=40):
        """under_load runs call from |threads| threads, SIGKILLs every |kill_kind|
        process |kills| times (waiting for its replacement in between) and then again,
        up to |max_kills|, until some call has seen a kill (a worker killed between two
        requests is replaced before the next one, so that calls see nothing: a fast
        keystore is mostly idle), and returns the outcomes, the pids killed, and the
        statuses of the calls that overlapped a kill."""
        before = fu.wait_workers(self.d)
        load = fu.Load(call, threads).start()
        killed = []
        kill_times = []
        try:
            time.sleep(settle)
            for n in range(max_kills):
                if n >= kills and load.saw(UNAVAILABLE):
                    break
                w = fu.wait_workers(self.d, engines=len(before["smime-engine"]),
                                    keystores=len(before["smime-keystore"]))
                for pid in w[kill_kind]:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                kill_times.append(time.time())
                time.sleep(settle if n < kills else 0.3)
        finally:
            results = load.stop()
        overlapped = [r for r in results if any(r[0] <= k <= r[1] for k in kill_times)]
        return results, killed, overlapped, kill_times

    def check_outcome(self, results, killed, overlapped, kill_kind):
        counts = fu.codes(results)
        print("\n%s killed %s: %d calls, outcomes %s; %d overlapped a kill: %s" % (
            kill_kind, killed, len(results), {c.name: n for c, n in counts.items()},
            len(overlapped), {c.name: n for c, n in fu.codes(overlapped).items()}))
        bad = [r for r in results if r[2] not in (OK, UNAVAILABLE)]
        self.assertEqual(bad, [], "calls failed with other codes than UNAVAILABLE")
        self.assertGreater(counts.get(UNAVAILABLE, 0), 0,
                           "no call saw the kill: the test did not test anything")
        for r in results:
            if r[2] == UNAVAILABLE:
                self.assertIn(kill_kind.replace("smime-", ""), r[3])
        w = fu.wait_workers(self.d)
        for pid in killed:
            self.assertNotIn(pid, w[kill_kind])
        # The replacements are confined too.
        for pid in w[kill_kind]:
            self.assertEqual(fu.status_fields(pid)["Seccomp"], "2")
        return w

    def test_engine_killed(self):
        msg = big_message(2)

        def call(t, i):
            return sign_encrypt(self.d, msg, encrypt=True)

        results, killed, overlapped, _ = self.under_load(call, "smime-engine")
        self.check_outcome(results, killed, overlapped, "smime-engine")
        # The next calls work, on every engine.
        for _ in range(4):
            self.assertTrue(sign_encrypt(self.d, msg, sign=True, encrypt=True).message)
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertGreaterEqual(st.engine_restarts, len(killed))

    def test_keystore_killed(self):
        msg = message(body="hello\n")

        def call(t, i):
            return sign_encrypt(self.d, msg, sign=True)

        results, killed, overlapped, _ = self.under_load(call, "smime-keystore", settle=1.0,
                                                         kills=3)
        self.check_outcome(results, killed, overlapped, "smime-keystore")
        for _ in range(3):
            self.assertTrue(sign_encrypt(self.d, msg, sign=True, encrypt=True).message)
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertGreaterEqual(st.keystore_restarts, len(killed))

    def test_sigterm_lets_calls_finish(self):
        msg = big_message(25)
        w = fu.wait_workers(self.d)
        pg = [p for p, name in fx.children_of(self.d.proc.pid) if name == "postgres"]
        family = set(w["smime-engine"] + w["smime-keystore"] + pg)
        for p in pg:
            family |= {c for c, _ in fx.children_of(p)}
        outcomes = []
        lock = threading.Lock()

        def one():
            t = time.time()
            try:
                r = sign_encrypt(self.d, msg, sign=True, encrypt=True, timeout=300)
                out = (OK, len(r.message), time.time() - t, time.time())
            except grpc.RpcError as e:
                out = (e.code(), e.details(), time.time() - t, time.time())
            with lock:
                outcomes.append(out)

        threads = [threading.Thread(target=one) for _ in range(2)]
        for th in threads:
            th.start()
        # Both calls are in flight once an engine works on them: wait for the engines
        # to be busy (CPU time growing), then SIGTERM.
        time.sleep(1.0)
        t_term = time.time()
        self.d.proc.send_signal(signal.SIGTERM)
        for th in threads:
            th.join(300)
        code = self.d.proc.wait(120)
        exit_after = time.time() - t_term
        print("\nSIGTERM during 2 x 25 MiB sign+encrypt: outcomes %s; exit %d, %.1f s after "
              "SIGTERM" % ([(o[0].name, o[2]) for o in outcomes], code, exit_after))
        self.assertEqual([o[0] for o in outcomes], [OK, OK], outcomes)
        self.assertEqual(code, 0, self.d.read_log())
        # Each call was still running when SIGTERM came.
        for o in outcomes:
            self.assertGreater(o[3], t_term)
        time.sleep(0.5)
        stray = [p for p in family if fu.state(p) not in (None, "Z")]
        self.assertEqual(stray, [], "processes left behind")
        self.d.proc = None
        self.d.log.close()


if __name__ == "__main__":
    fx.main()
