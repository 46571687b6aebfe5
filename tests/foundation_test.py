"""foundation_test: the daemon on its embedded default, called over its Unix socket by
Python's grpcio (an independent client): settings, the disabled gate, the audit log,
health, reflection, worker restarts, bad requests, and a clean stop."""

import os
import signal
import subprocess
import time
import unittest

import grpc
from google.protobuf import descriptor_pb2

import smimed_fixture as fx
from smimed_fixture import code_of

SETTINGS = "smime.v1.SettingsService/"


class FoundationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = fx.Daemon(extra_args=["--max-message-size", "1M", "--engines", "2",
                                      "--keystores", "2"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_01_disabled_by_default_gates_other_services(self):
        s = self.d.call(SETTINGS + "GetSettings").settings
        self.assertFalse(s.enabled)
        for method, fields in [
            ("smime.v1.LogService/ListLogs", {}),
            ("smime.v1.MessageService/SignEncrypt", {"message": b"From: a@b\r\n\r\nhi", "sign": True}),
            ("smime.v1.MessageService/DecryptVerify", {"message": b"x"}),
            ("smime.v1.CertificateService/ImportCertificates", {"data": b"x"}),
            ("smime.v1.CertificateService/ListCertificates", {}),
        ]:
            code, details = code_of(lambda: self.d.call(method, **fields))
            self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION, method)
            self.assertIn("S/MIME integration is disabled", details)

    def test_02_status_reports_workers(self):
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertIn("BoringSSL", st.engine_crypto_version)
        self.assertRegex(st.kek_check_value, r"^[0-9a-f]{16}$")
        self.assertEqual(st.engines, 2)
        self.assertGreaterEqual(st.schema_version, 1)
        self.assertTrue(st.version)
        # The key file the keystore created is the daemon's alone.
        mode = os.stat(os.path.join(self.d.data_dir, "kek.key")).st_mode & 0o777
        self.assertEqual(mode, 0o600)
        self.assertEqual(os.stat(self.d.socket).st_mode & 0o777, 0o600)

    def test_03_update_settings_and_audit_log(self):
        G = fx.protos().message("smime.v1.GroupDefaults")
        resp = self.d.call(SETTINGS + "UpdateSettings", enabled=True,
                           group_defaults=[G(group="support", default_sign=True),
                                           G(group="billing", default_encrypt=True)])
        self.assertTrue(resp.settings.enabled)
        self.assertEqual([g.group for g in resp.settings.group_defaults], ["billing", "support"])
        self.assertTrue(resp.settings.updated_by)
        self.d.call(SETTINGS + "UpdateSettings", remove_groups=["billing"])
        s = self.d.call(SETTINGS + "GetSettings").settings
        self.assertTrue(s.enabled)
        self.assertEqual([(g.group, g.default_sign) for g in s.group_defaults], [("support", True)])

        logs = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_ADMIN").entries
        self.assertGreaterEqual(len(logs), 2)
        newest = logs[0]
        self.assertIn("billing", newest.comment)
        self.assertEqual(newest.rpc, "/smime.v1.SettingsService/UpdateSettings")
        self.assertIn("unix socket", newest.caller)
        self.assertIn("enabled: false -> true", logs[1].comment)
        self.assertGreater(logs[0].id, logs[1].id)

    def test_04_log_paging_and_filters(self):
        # Ten more changes, then page through everything two at a time.
        for i in range(10):
            self.d.call(SETTINGS + "UpdateSettings", enabled=True,
                        group_defaults=[fx.protos().message("smime.v1.GroupDefaults")(
                            group="g%d" % i, default_sign=bool(i % 2))])
        all_ids = [e.id for e in self.d.call("smime.v1.LogService/ListLogs", page_size=1000).entries]
        self.assertEqual(all_ids, sorted(all_ids, reverse=True))
        seen, token = [], ""
        while True:
            page = self.d.call("smime.v1.LogService/ListLogs", page_size=2, page_token=token)
            self.assertLessEqual(len(page.entries), 2)
            seen += [e.id for e in page.entries]
            token = page.next_page_token
            if not token:
                break
        self.assertEqual(seen, all_ids)
        none = self.d.call("smime.v1.LogService/ListLogs", direction="DIRECTION_INCOMING")
        self.assertEqual(len(none.entries), 0)
        code, details = code_of(lambda: self.d.call("smime.v1.LogService/ListLogs", page_token="garbage"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("page_token", details)

    def test_05_health_watch_is_unimplemented(self):
        # The health protocol lets a server answer Watch with UNIMPLEMENTED; clients
        # (Kubernetes, grpcurl) then use Check.
        path, req, resp = fx.protos().method("grpc.health.v1.Health/Watch")
        stub = self.d.channel.unary_stream(path, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)
        code, details = code_of(lambda: list(stub(req(), timeout=10)))
        self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED)
        self.assertIn("Watch", details)

    def test_06_health_check(self):
        path, req, resp = fx.protos().method("grpc.health.v1.Health/Check")
        self.assertEqual(self.d.call("grpc.health.v1.Health/Check").status, 1)  # SERVING
        self.assertEqual(self.d.call("grpc.health.v1.Health/Check",
                                     service="smime.v1.MessageService").status, 1)
        code, _ = code_of(lambda: self.d.call("grpc.health.v1.Health/Check", service="nope.Svc"))
        self.assertEqual(code, grpc.StatusCode.NOT_FOUND)

    def _reflect(self, version, **fields):
        path = "/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version
        req_cls = fx.protos().message("grpc.reflection.%s.ServerReflectionRequest" % version)
        resp_cls = fx.protos().message("grpc.reflection.%s.ServerReflectionResponse" % version)
        stub = self.d.channel.stream_stream(path, request_serializer=req_cls.SerializeToString,
                                            response_deserializer=resp_cls.FromString)
        return list(stub(iter([req_cls(**fields)]), timeout=10))

    def test_07_reflection_v1_and_v1alpha(self):
        for version in ("v1", "v1alpha"):
            [resp] = self._reflect(version, list_services="")
            names = [s.name for s in resp.list_services_response.service]
            self.assertIn("smime.v1.MessageService", names)
            self.assertIn("grpc.health.v1.Health", names)
            [resp] = self._reflect(version, file_containing_symbol="smime.v1.MessageService")
            files = []
            for raw in resp.file_descriptor_response.file_descriptor_proto:
                fd = descriptor_pb2.FileDescriptorProto()
                fd.ParseFromString(raw)
                files.append(fd.name)
            self.assertEqual(files[0], "smime/v1/message.proto")
            self.assertIn("google/protobuf/timestamp.proto", files)
            self.assertIn("smime/v1/certificate.proto", files)
            [resp] = self._reflect(version, file_containing_symbol="no.Such")
            self.assertEqual(resp.error_response.error_code, 5)

    def test_08_bad_requests(self):
        enable(self.d)
        # Bytes that are not a protobuf message at all.
        code, details = code_of(lambda: self.d.call_raw(
            "/smime.v1.SettingsService/UpdateSettings", b"\xff\xff\xff\xff"))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("UpdateSettingsRequest", details)
        # A field with a value the service refuses, and nothing written.
        before = self.d.call("smime.v1.LogService/ListLogs", page_size=1).entries[0].id
        G = fx.protos().message("smime.v1.GroupDefaults")
        code, details = code_of(lambda: self.d.call(SETTINGS + "UpdateSettings",
                                                    group_defaults=[G(group="x" * 201)]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        code, _ = code_of(lambda: self.d.call(SETTINGS + "UpdateSettings",
                                              group_defaults=[G(group="")]))
        self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
        after = self.d.call("smime.v1.LogService/ListLogs", page_size=1).entries[0].id
        self.assertEqual(before, after)
        # Over --max-message-size (1M here).
        code, _ = code_of(lambda: self.d.call("smime.v1.MessageService/DecryptVerify",
                                              message=b"x" * ((1 << 20) + 1)))
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED)
        # An unknown method.
        code, _ = code_of(lambda: self.d.call_raw("/smime.v1.Nope/Nothing", b""))
        self.assertEqual(code, grpc.StatusCode.UNIMPLEMENTED)
        # The daemon is still fine.
        self.assertEqual(self.d.call("grpc.health.v1.Health/Check").status, 1)

    def test_09_killed_engine_is_replaced(self):
        engines = [p for p, name in fx.children_of(self.d.proc.pid) if name == "smime-engine"]
        self.assertEqual(len(engines), 2)
        for pid in engines:
            os.kill(pid, signal.SIGKILL)
        keystores = [p for p, name in fx.children_of(self.d.proc.pid)
                     if name == "smime-keystore"]
        self.assertEqual(len(keystores), 2)  # --keystores 2
        for pid in keystores:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertIn("BoringSSL", st.engine_crypto_version)
        self.assertRegex(st.kek_check_value, r"^[0-9a-f]{16}$")
        st = self.d.call(SETTINGS + "GetSettings").status
        self.assertGreaterEqual(st.engine_restarts, 1)
        self.assertGreaterEqual(st.keystore_restarts, 1)
        live = [p for p, name in fx.children_of(self.d.proc.pid) if name == "smime-engine"]
        self.assertEqual(len(live), 2)
        self.assertFalse(set(live) & set(engines))


class RestartTest(unittest.TestCase):
    def test_settings_persist_and_sigterm_is_clean(self):
        d = fx.Daemon()
        try:
            d.start()
            kek = d.call(SETTINGS + "GetSettings").status.kek_check_value
            G = fx.protos().message("smime.v1.GroupDefaults")
            d.call(SETTINGS + "UpdateSettings", enabled=True,
                   group_defaults=[G(group="support", default_encrypt=True)])
            pid = d.proc.pid
            family = [p for p, _ in fx.children_of(pid)]
            self.assertGreaterEqual(len(family), 3)  # postgres, engines, keystore
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            time.sleep(0.5)
            for p in family:
                self.assertFalse(os.path.exists("/proc/%d" % p), "process %d survived" % p)
            self.assertFalse(os.path.exists(d.socket))
            control = subprocess.run(
                ["/usr/lib/postgresql/15/bin/pg_controldata", os.path.join(d.data_dir, "pgdata")],
                capture_output=True, text=True)
            self.assertIn("shut down", control.stdout)
            self.assertIn("stopped", d.read_log())

            d.start()
            s = d.call(SETTINGS + "GetSettings")
            self.assertTrue(s.settings.enabled)
            self.assertEqual([(g.group, g.default_encrypt) for g in s.settings.group_defaults],
                             [("support", True)])
            self.assertEqual(s.status.kek_check_value, kek)
            self.assertEqual(d.stop(signal.SIGINT), 0)
        finally:
            d.cleanup()

    def test_database_url_shares_one_database(self):
        """A second daemon on --database-url (the first one's PostgreSQL) and the same
        key file sees what the first wrote, and writes what the first then reads."""
        a = fx.Daemon().start()
        b = None
        try:
            url = "host=%s port=5432 dbname=smimed user=smimed" % a.data_dir
            b = fx.Daemon(database_url=url, kek_file=os.path.join(a.data_dir, "kek.key"))
            b.start()
            fx.enable(a)
            self.assertTrue(b.call(SETTINGS + "GetSettings").settings.enabled)
            G = fx.protos().message("smime.v1.GroupDefaults")
            b.call(SETTINGS + "UpdateSettings", group_defaults=[G(group="ops", default_sign=True)])
            self.assertEqual([g.group for g in a.call(SETTINGS + "GetSettings").settings.group_defaults],
                             ["ops"])
            self.assertEqual(a.call(SETTINGS + "GetSettings").status.kek_check_value,
                             b.call(SETTINGS + "GetSettings").status.kek_check_value)
            self.assertEqual(b.stop(), 0)
            # Another key-encryption key on the same database is refused at start.
            other = fx.Daemon(database_url=url, kek_file=os.path.join(b.data_dir, "other.key"))
            with self.assertRaises(AssertionError) as ctx:
                other.start(timeout=30)
            self.assertIn("key-encryption key", str(ctx.exception))
            other.cleanup()
        finally:
            if b is not None:
                b.cleanup()
            a.cleanup()

    def test_json_log_lines(self):
        """--log-format json: every stderr line of the daemon and its workers is one JSON
        object, for log collectors."""
        import json
        d = fx.Daemon(extra_args=["--log-format", "json"]).start()
        try:
            d.call(SETTINGS + "GetSettings")
            self.assertEqual(d.stop(), 0)
            programs = set()
            for line in d.read_log().splitlines():
                entry = json.loads(line)
                self.assertEqual(set(entry), {"time", "program", "pid", "level", "message"})
                programs.add(entry["program"])
            self.assertTrue({"smimed", "smime-keystore"} <= programs, programs)
            self.assertIn("stopped", d.read_log())
        finally:
            d.cleanup()

    def test_second_daemon_on_same_dir_is_refused(self):
        d = fx.Daemon().start()
        try:
            second = subprocess.run([fx.runfile("service/smimed"), "--data-dir", d.data_dir],
                                    capture_output=True, text=True, timeout=30)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn("another smimed is running", second.stderr)
            self.assertEqual(d.call("grpc.health.v1.Health/Check").status, 1)
        finally:
            d.cleanup()


def enable(d):
    fx.enable(d)


if __name__ == "__main__":
    fx.main()
