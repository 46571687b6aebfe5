"""hardening_test: the confinement of the workers, asserted from /proc of the real
processes of a running daemon: seccomp filter mode (Seccomp: 2) and no_new_privs, no
core files, resource limits, no descriptor besides 0-3, the keystore's locked key page
and locked heap (where BoringSSL keeps private keys);
then real work (sign, encrypt, decrypt, verify, PKCS#12 import, and a 44 MiB message:
the largest whose signed and encrypted form fits a 64 MiB frame) under those limits
without any worker being killed, with the figures printed."""

import base64
import os
import time
import unittest

import grpc

import faults_util as fu
import smimed_fixture as fx
from faults_util import CERTS, MSG, message, sign_encrypt, start

SETTINGS = "smime.v1.SettingsService/"
GIB = 1 << 30


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class HardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One keystore: the locked-heap check needs the process that did the key work
        # (calls one after another all go to the first free keystore, but that is the
        # pool's choice, not a promise).
        cls.d, cls.pki = start(extra_args=["--max-message-size", "64M", "--keystores", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.pki.cleanup()

    def check_common(self, pid, what):
        st = fu.status_fields(pid)
        self.assertEqual(st["Seccomp"], "2", "%s %d: %s" % (what, pid, st))
        self.assertEqual(st["NoNewPrivs"], "1", what)
        self.assertGreaterEqual(int(st.get("Seccomp_filters", "1")), 1, what)
        lim = fu.limits(pid)
        self.assertEqual(lim["Max core file size"], ("0", "0"), what)
        self.assertEqual(lim["Max open files"], ("4", "4"), what)
        self.assertEqual(lim["Max processes"], ("0", "0"), what)
        self.assertEqual(fu.fds(pid), [0, 1, 2, 3], what)
        self.assertTrue(os.readlink("/proc/%d/fd/3" % pid).startswith("socket:"), what)
        self.assertEqual(os.readlink("/proc/%d/fd/0" % pid), "/dev/null", what)
        return st, lim

    def test_keystore_confined(self):
        w = fu.wait_workers(self.d)
        (ks,) = w["smime-keystore"]
        st, _ = self.check_common(ks, "keystore")
        # The KEK page is locked in memory (kek.c), so it never reaches swap.
        self.assertGreater(int(st["VmLck"].split()[0]), 0, st["VmLck"])
        print("\nkeystore %d: Seccomp %s, NoNewPrivs %s, VmLck %s" %
              (ks, st["Seccomp"], st["NoNewPrivs"], st["VmLck"]))

    def test_keystore_key_memory_locked(self):
        """After private-key work (a PKCS#12 import, signing, decrypting), every resident
        page of the keystore's heap, where BoringSSL keeps the keys (locked_alloc.c), is
        locked: never written to swap."""
        msg = message(body="locked\n" * 100)
        self.d.call(CERTS + "ImportCertificates", data=self.pki.read("alice.p12"),
                    password="secret")
        signed = sign_encrypt(self.d, msg, sign=True, encrypt=True).message
        self.assertIn(b"locked", self.d.call(MSG + "DecryptVerify", message=signed).message)
        (ks,) = fu.wait_workers(self.d)["smime-keystore"]
        # The heap may be split into several mappings (mlock splits them): sum them.
        heap, in_heap = {"Rss": 0, "Locked": 0}, False
        with open("/proc/%d/smaps" % ks) as f:
            for line in f:
                if "-" in line.split()[0] and not line.split()[0].endswith(":"):
                    in_heap = line.rstrip().endswith("[heap]")
                elif in_heap and line.split(":")[0] in heap:
                    heap[line.split(":")[0]] += int(line.split()[1])
        print("\nkeystore %d heap: Rss %d kB, Locked %d kB" % (ks, heap["Rss"], heap["Locked"]))
        self.assertGreater(heap["Rss"], 0)
        self.assertEqual(heap["Locked"], heap["Rss"], heap)
        self.assertNotIn("mlock of key memory failed", self.d.read_log())

    def test_engines_confined(self):
        w = fu.wait_workers(self.d)
        self.assertGreaterEqual(len(w["smime-engine"]), 1)
        for pid in w["smime-engine"]:
            st, lim = self.check_common(pid, "engine")
            self.assertEqual(lim["Max address space"], (str(GIB), str(GIB)))
            print("\nengine %d: Seccomp %s, NoNewPrivs %s, address space %s" %
                  (pid, st["Seccomp"], st["NoNewPrivs"], lim["Max address space"]))

    def test_real_work_kills_no_worker(self):
        """Every kind of request, with the filters on: no worker dies."""
        before = fu.wait_workers(self.d)
        msg = message(body="hello\n" * 1000)
        signed = sign_encrypt(self.d, msg, sign=True, encrypt=True).message
        opened = self.d.call(MSG + "DecryptVerify", message=signed)
        self.assertIn(b"hello", opened.message)
        self.d.call(CERTS + "ImportCertificates", data=self.pki.read("alice.p12"),
                    password="secret")
        self.d.call(CERTS + "ImportCertificates", data=self.pki.read("dave.pem"))
        # Each engine must have served at least one request: send a few more in parallel.
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            for r in ex.map(lambda _: sign_encrypt(self.d, msg, sign=True, encrypt=True), range(8)):
                self.assertTrue(r.message)
        # The CPU budget is armed: the soft limit of RLIMIT_CPU is finite after a request.
        for pid in before["smime-engine"]:
            self.assertNotEqual(fu.limits(pid)["Max cpu time"][0], "unlimited")
        after = fu.wait_workers(self.d)
        self.assertEqual(before, after)
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertEqual((st.engine_restarts, st.keystore_restarts), (0, 0), self.d.read_log())
        self.assertNotIn("Bad system call", self.d.read_log())

    def test_44_mib_within_limits(self):
        """The largest message whose protected form fits a frame (64 MiB) fits the engine's address-space limit
        and CPU budget."""
        raw = os.urandom(int(44 * 1024 * 1024 * 3 / 4))
        body = base64.encodebytes(raw).decode()
        msg = message(body=body)
        before = fu.wait_workers(self.d)
        cpu0 = {p: cpu_seconds(p) for p in before["smime-engine"]}
        t = time.monotonic()
        r = sign_encrypt(self.d, msg, sign=True, encrypt=True, timeout=300)
        took = time.monotonic() - t
        self.assertGreater(len(r.message), len(msg))
        after = fu.wait_workers(self.d)
        self.assertEqual(before, after, self.d.read_log())
        for p in after["smime-engine"]:
            st = fu.status_fields(p)
            print("\n%.1f MiB sign+encrypt: %.2f s; engine %d: CPU %.2f s for it, VmPeak %s, "
                  "VmHWM %s" % (len(msg) / 1048576.0, took, p, cpu_seconds(p) - cpu0[p],
                                st["VmPeak"], st["VmHWM"]))


if __name__ == "__main__":
    fx.main()
