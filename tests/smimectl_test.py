"""smimectl_test: the generated CLI against the real daemon: JSON output, flags of every
kind that the foundation's RPCs take, --raw, SMIMED_ADDR, and the error format."""

import json
import os
import subprocess
import unittest

import smimed_fixture as fx


class SmimectlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = fx.Daemon().start()
        cls.ctl = fx.runfile("client/smimectl")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_ctl(self, *args, env_addr=False, expect=0):
        env = dict(os.environ)
        argv = [self.ctl]
        if env_addr:
            env["SMIMED_ADDR"] = self.d.addr
        else:
            argv += ["--addr", self.d.addr]
        p = subprocess.run(argv + list(args), capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, expect, "smimectl %s: %s%s" % (args, p.stdout, p.stderr))
        return p

    def test_01_disabled_error_format(self):
        p = self.run_ctl("list-logs", expect=1)
        self.assertEqual(p.stdout, "")
        self.assertTrue(p.stderr.startswith("error: FAILED_PRECONDITION: S/MIME integration is disabled"),
                        p.stderr)

    def test_02_settings_round_trip(self):
        out = json.loads(self.run_ctl("get-settings", env_addr=True).stdout)
        self.assertNotIn("enabled", out.get("settings", {}))  # proto3 JSON omits false
        self.assertIn("BoringSSL", out["status"]["engineCryptoVersion"])
        out = json.loads(self.run_ctl("update-settings", "--enabled",
                                      "--group-defaults.group", "support",
                                      "--group-defaults.default-sign",
                                      "--group-defaults.group", "billing",
                                      "--group-defaults.default-encrypt").stdout)
        s = out["settings"]
        self.assertTrue(s["enabled"])
        self.assertEqual(s["groupDefaults"], [
            {"group": "billing", "defaultEncrypt": True},
            {"group": "support", "defaultSign": True},
        ])
        self.assertRegex(s["updateTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        out = json.loads(self.run_ctl("update-settings", "--remove-groups", "billing").stdout)
        self.assertTrue(out["settings"]["enabled"])
        self.assertEqual([g["group"] for g in out["settings"]["groupDefaults"]], ["support"])

    def test_03_list_logs_filters_and_raw(self):
        self.run_ctl("update-settings", "--enabled")
        out = json.loads(self.run_ctl("list-logs", "--direction", "admin", "--page-size", "1").stdout)
        self.assertEqual(len(out["entries"]), 1)
        e = out["entries"][0]
        self.assertEqual(e["direction"], "DIRECTION_ADMIN")
        self.assertEqual(e["operations"], ["OPERATION_UPDATE_SETTINGS"])
        self.assertIsInstance(e["id"], str)  # int64 is a string in proto3 JSON
        token = out["nextPageToken"]
        raw = self.run_ctl("list-logs", "--direction", "admin", "--page-size", "1",
                           "--raw", "next-page-token").stdout
        self.assertEqual(raw, token)
        nxt = json.loads(self.run_ctl("list-logs", "--direction", "admin", "--page-size", "1",
                                      "--page-token", token).stdout)
        self.assertLess(int(nxt["entries"][0]["id"]), int(e["id"]))
        out = json.loads(self.run_ctl("list-logs", "--start-time", "2999-01-01T00:00:00Z").stdout)
        self.assertEqual(out.get("entries", []), [])

    def test_04_usage_errors_and_health(self):
        p = self.run_ctl("list-logs", "--page-size", "ten", expect=2)
        self.assertIn("--page-size", p.stderr)
        p = self.run_ctl("no-such-command", expect=2)
        self.assertIn("no-such-command", p.stderr)
        out = json.loads(self.run_ctl("check").stdout)
        self.assertEqual(out["status"], "SERVING")
        p = self.run_ctl("update-settings", "--group-defaults.group", "", expect=1)
        self.assertTrue(p.stderr.startswith("error: INVALID_ARGUMENT: "), p.stderr)

    def test_05_help_lists_every_rpc(self):
        p = subprocess.run([self.ctl, "--help"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        for cmd in ["get-settings", "update-settings", "list-logs", "list-retryable",
                    "import-certificates", "sign-encrypt", "decrypt-verify", "check"]:
            self.assertIn(cmd, p.stdout)


if __name__ == "__main__":
    fx.main()
