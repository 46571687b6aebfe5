"""postgres_restart_test: PostgreSQL restarted (pg_ctl restart -m fast, the same data
directory and socket) while UpdateSettings calls run from several threads. Calls fail
with UNAVAILABLE while it is down (no other code, no hang), the daemon recovers by
itself within seconds, and every acknowledged call has its audit entry: each call sets
the defaults of a group named after it, and the entry's comment names that group.

The embedded postmaster is the daemon's child; pg_ctl restart replaces it with one that
is not, so the test stops that one itself at the end (the daemon stops only its own)."""

import os
import pwd
import subprocess
import time
import unittest

import grpc

import faults_util as fu
import smimed_fixture as fx

SETTINGS = "smime.v1.SettingsService/"
LOGS = "smime.v1.LogService/"
PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl"
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE

# RECOVERY_S is how soon after PostgreSQL is back the calls must succeed again.
RECOVERY_S = 5.0


def group_name(i):
    return "fault-%06d" % i


class PostgresRestartTest(unittest.TestCase):
    def setUp(self):
        self.last_group = {}
        self.d = fx.Daemon().start()
        fx.enable(self.d)
        self.pgdata = os.path.join(self.d.data_dir, "pgdata")

    def tearDown(self):
        try:
            self.d.stop()
        finally:
            # The postmaster pg_ctl started is not the daemon's child: stop it here.
            self.pg_ctl("stop", "-m", "fast", check=False)
            self.d.cleanup()

    def pg_ctl(self, *args, check=True):
        cmd = [PG_CTL, "-D", self.pgdata, "-w", "-t", "60"] + list(args)
        as_user = {}
        if os.geteuid() == 0:
            # PostgreSQL runs as the data directory's owner (the user smimed).
            st = os.stat(self.pgdata)
            as_user = dict(user=st.st_uid, group=st.st_gid, extra_groups=[],
                           env=dict(os.environ, HOME=pwd.getpwuid(st.st_uid).pw_dir))
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=self.d.data_dir, **as_user)
        if check and r.returncode != 0:
            raise AssertionError("pg_ctl %s failed: %s%s" % (args[0], r.stdout, r.stderr))
        return r

    def update(self, t, i):
        """update sets the defaults of a group named after call i and removes the group
        of this thread's previous acknowledged call, so that the stored groups stay
        few (at most 1000 are allowed)."""
        gd = fx.protos().message("smime.v1.GroupDefaults")(group=group_name(i), default_sign=True)
        prev = self.last_group.get(t)
        r = self.d.call(SETTINGS + "UpdateSettings", timeout=15, group_defaults=[gd],
                        remove_groups=[prev] if prev else [])
        self.last_group[t] = group_name(i)
        return r

    def all_update_entries(self):
        entries, token = [], ""
        while True:
            r = self.d.call(LOGS + "ListLogs", operation=fx.protos().message(
                "smime.v1.ListLogsRequest").DESCRIPTOR.fields_by_name["operation"]
                .enum_type.values_by_name["OPERATION_UPDATE_SETTINGS"].number,
                page_size=1000, page_token=token)
            entries += list(r.entries)
            token = r.next_page_token
            if not token:
                return entries

    def test_restart_under_load(self):
        load = fu.Load(self.update, 4).start()
        try:
            time.sleep(2.0)
            before = load.count()
            t0 = time.time()
            r = self.pg_ctl("restart", "-m", "fast", "-l",
                            os.path.join(self.d.data_dir, "postgresql-restarted.log"))
            t_back = time.time()
            time.sleep(RECOVERY_S + 3.0)
        finally:
            results = load.stop()
        self.assertIn("server started", r.stdout)
        counts = fu.codes(results)
        acked = [res[4][1] for res in results if res[2] == OK]
        failed = [res for res in results if res[2] != OK]
        print("\npg_ctl restart took %.2f s; %d calls before it, %d in all: %s" % (
            t_back - t0, before, len(results), {c.name: n for c, n in counts.items()}))
        for res in failed[:3]:
            print("  %s: %s" % (res[2].name, res[3]))
        self.assertEqual([res for res in failed if res[2] != UNAVAILABLE], [],
                         "failures other than UNAVAILABLE")
        self.assertGreater(len(failed), 0, "no call saw the restart: nothing was tested")
        # Recovery: calls that started after PostgreSQL was back succeed within seconds,
        # and every call started later than that succeeded.
        after = sorted((res for res in results if res[0] >= t_back), key=lambda res: res[0])
        first_ok = next(res for res in after if res[2] == OK)
        recovered_in = first_ok[1] - t_back
        late_failures = [res for res in after if res[0] > t_back + RECOVERY_S and res[2] != OK]
        print("first success %.2f s after PostgreSQL was back; last failure ended %.2f s "
              "after it" % (recovered_in, max(res[1] for res in failed) - t_back))
        self.assertLess(recovered_in, RECOVERY_S)
        self.assertEqual(late_failures, [])
        # No acknowledged entry lost.
        entries = self.all_update_entries()
        logged = set()
        for e in entries:
            for word in e.comment.replace(";", " ").replace(":", " ").split():
                if word.startswith("fault-"):
                    logged.add(int(word[len("fault-"):]))
        lost = sorted(set(acked) - logged)
        print("%d acknowledged, %d audit entries stored, %d acknowledged without entry; "
              "%d failed calls whose change was stored anyway" % (
                  len(acked), len(entries), len(lost),
                  len(logged - set(acked))))
        self.assertEqual(lost, [])
        self.assertGreater(len(acked), before)
        # The daemon is still healthy: a plain call works.
        self.assertTrue(self.d.call(SETTINGS + "GetSettings").settings.enabled)

    def test_health_follows_the_database(self):
        """Check answers NOT_SERVING while PostgreSQL is down, and smimectl check then
        exits 1 as probes expect; both recover when it is back."""
        ctl = fx.runfile("client/smimectl")

        def check():
            return subprocess.run([ctl, "--addr", self.d.addr, "--deadline", "20", "check"],
                                  capture_output=True, text=True)

        self.assertEqual(check().returncode, 0)
        self.pg_ctl("stop", "-m", "fast")
        self.assertEqual(self.d.call("grpc.health.v1.Health/Check", timeout=20).status, 2)
        p = check()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("NOT_SERVING", p.stdout)
        self.assertIn("not serving", p.stderr)
        # Started again with the embedded cluster's options (service/db/pg_cluster.c).
        self.pg_ctl("start", "-l", os.path.join(self.d.data_dir, "postgresql.log"), "-o",
                    "-k %s -p 5432 -c listen_addresses= -c unix_socket_permissions=0700"
                    % self.d.data_dir)
        deadline = time.time() + RECOVERY_S
        while check().returncode != 0 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(check().returncode, 0)


if __name__ == "__main__":
    fx.main()
