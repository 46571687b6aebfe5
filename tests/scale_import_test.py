"""scale_import_test: 10,000 certificates (the per-import limit) in one PEM bundle are imported in one call, and
ListCertificates by email stays fast. It asserts only that everything is there and
correct (no timing assertions, which flake on a shared machine) and prints the figures;
README.md's performance section quotes them.

The certificates are made here with python3-cryptography: one EC P-256 CA signs 10,000
leaves (user00000@bench.example ...) that share one key, which keeps generation fast."""

import random
import statistics
import time
import unittest

import bulk_pki
import smimed_fixture as fx

N = 9999  # + the CA = 10,000, the per-import limit
CERTS = "smime.v1.CertificateService/"


def make_bundle(n):
    """make_bundle returns the CA and n leaves (user00000@bench.example ...) as one PEM
    bundle."""
    ca, leaves, _ = bulk_pki.make_certificates(n, lambda i: "user%05d@bench.example" % i,
                                               ca_name="Bench CA")
    return b"".join([ca] + leaves)


class ScaleImportTest(unittest.TestCase):
    def test_import_10000_and_list_by_email(self):
        t0 = time.monotonic()
        bundle = make_bundle(N)
        gen_s = time.monotonic() - t0
        d = fx.Daemon(extra_args=["--max-message-size", "64M"]).start()
        try:
            fx.enable(d)
            t0 = time.monotonic()
            r = d.call(CERTS + "ImportCertificates", data=bundle, timeout=600)
            import_s = time.monotonic() - t0
            self.assertEqual(len(r.certificates), N + 1)
            self.assertTrue(all(c.new for c in r.certificates))

            latencies = []
            rng = random.Random(7)
            for _ in range(200):
                i = rng.randrange(N)
                t0 = time.monotonic()
                got = d.call(CERTS + "ListCertificates", email="USER%05d@bench.example" % i)
                latencies.append((time.monotonic() - t0) * 1000)
                self.assertEqual([c.email_addresses[0] for c in got.certificates],
                                 ["user%05d@bench.example" % i])
            t0 = time.monotonic()
            page = d.call(CERTS + "ListCertificates", query="user0998", page_size=100)
            query_ms = (time.monotonic() - t0) * 1000
            self.assertEqual(len(page.certificates), 10)
            latencies.sort()
            print("\nscale: %d certificates (%.1f MB PEM) generated in %.1f s" %
                  (N + 1, len(bundle) / 1e6, gen_s))
            print("scale: ImportCertificates of the bundle: %.1f s (%.0f certificates/s)" %
                  (import_s, (N + 1) / import_s))
            print("scale: ListCertificates by email over %d stored: p50 %.1f ms, p99 %.1f ms, "
                  "max %.1f ms (200 calls, gRPC round trip included)" %
                  (N + 1, statistics.median(latencies), latencies[int(0.99 * len(latencies))],
                   latencies[-1]))
            print("scale: ListCertificates by free-text query: %.1f ms" % query_ms)
        finally:
            d.cleanup()


if __name__ == "__main__":
    fx.main()
