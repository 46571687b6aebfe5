"""pg_crash_test: the embedded PostgreSQL's postmaster SIGKILLed (as the OOM killer
does) while UpdateSettings calls run from several threads, twice. The daemon notices,
says so in its log, and starts PostgreSQL again by itself (service/db/pg_supervisor.c):
calls end OK or UNAVAILABLE (nothing else, no hang past their deadline), health goes
NOT_SERVING then SERVING, calls work again within seconds of the kill, the daemon
process is the same throughout, and every acknowledged call has its audit entry (each
call sets the defaults of a group named after it; the entry's comment names it). Then
SIGTERM: exit status 0 and no PostgreSQL process left in the data directory."""

import os
import signal
import time
import unittest

import grpc

import faults_util as fu
import smimed_fixture as fx

SETTINGS = "smime.v1.SettingsService/"
LOGS = "smime.v1.LogService/"
HEALTH = "grpc.health.v1.Health/Check"
OK, UNAVAILABLE = grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE
SERVING, NOT_SERVING = 1, 2

# CALL_DEADLINE_S is each loaded call's deadline; none may take longer than that.
CALL_DEADLINE_S = 10.0
# RECOVERY_S is how soon after a kill the service must answer OK again. Measured: 5
# to 7 s on a busy machine, most of it PostgreSQL's own work (it fsyncs the data
# directory before crash recovery, and checkpoints after it); the supervisor adds 1 s
# (2 s for the second kill).
RECOVERY_S = 15.0
PREFIX = "crash-"


def group_name(i):
    return "%s%06d" % (PREFIX, i)


class PostgresCrashTest(unittest.TestCase):
    def setUp(self):
        self.last_group = {}
        self.d = fx.Daemon().start()
        fx.enable(self.d)
        self.pgdata = os.path.realpath(os.path.join(self.d.data_dir, "pgdata"))

    def tearDown(self):
        self.d.cleanup()

    def postmaster_pid(self):
        with open(os.path.join(self.pgdata, "postmaster.pid")) as f:
            return int(f.readline())

    def postgres_processes(self):
        """postgres_processes lists the pids of every postgres process (postmaster or
        backend) whose working directory is this daemon's data directory: other tests
        run their own clusters at the same time."""
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % entry) as f:
                    comm = f.read().strip()
                cwd = os.readlink("/proc/%s/cwd" % entry)
            except OSError:
                continue
            if comm == "postgres" and cwd == self.pgdata:
                out.append(int(entry))
        return out

    def update(self, t, i):
        """update sets the defaults of a group named after call i and removes the group
        of this thread's previous acknowledged call, so that the stored groups stay
        few."""
        gd = fx.protos().message("smime.v1.GroupDefaults")(group=group_name(i), default_sign=True)
        prev = self.last_group.get(t)
        r = self.d.call(SETTINGS + "UpdateSettings", timeout=CALL_DEADLINE_S,
                        group_defaults=[gd], remove_groups=[prev] if prev else [])
        self.last_group[t] = group_name(i)
        return r

    def health(self):
        try:
            return self.d.call(HEALTH, timeout=5).status
        except grpc.RpcError as e:
            return e.code()

    def kill_and_recover(self, load, n):
        """kill_and_recover SIGKILLs the postmaster and waits until the service is back.
        Returns (kill time, time health was SERVING again)."""
        old = self.postmaster_pid()
        self.assertIn(old, self.postgres_processes())
        before = load.count()
        os.kill(old, signal.SIGKILL)
        t_kill = time.time()
        seen = []
        back = None
        while time.time() < t_kill + RECOVERY_S:
            st = self.health()
            if not seen or seen[-1] != st:
                seen.append(st)
            if st == SERVING and NOT_SERVING in seen:
                back = time.time()
                break
            time.sleep(0.05)
        print("\nkill %d of postmaster %d: health %s; SERVING again %s" % (
            n, old, seen, "after %.2f s" % (back - t_kill) if back else "never"))
        self.assertIsNotNone(back, "not SERVING again within %.0f s of the kill:\n%s" % (
            RECOVERY_S, self.d.read_log()[-3000:]))
        # The daemon is the same process, and PostgreSQL a new one.
        self.assertIsNone(self.d.proc.poll())
        new = self.postmaster_pid()
        self.assertNotEqual(new, old)
        self.assertIn(new, self.postgres_processes())
        # Calls answer OK again, well within RECOVERY_S of the kill.
        self.assertTrue(self.d.call(SETTINGS + "GetSettings", timeout=5).settings.enabled)
        self.assertLess(time.time() - t_kill, RECOVERY_S)
        deadline = time.time() + 5
        while not any(r[2] == OK and r[0] >= back for r in load.results[before:]):
            self.assertLess(time.time(), deadline, "the load's calls do not succeed again")
            time.sleep(0.1)
        return t_kill, back

    def all_update_entries(self):
        entries, token = [], ""
        operation = (fx.protos().message("smime.v1.ListLogsRequest").DESCRIPTOR
                     .fields_by_name["operation"].enum_type
                     .values_by_name["OPERATION_UPDATE_SETTINGS"].number)
        while True:
            r = self.d.call(LOGS + "ListLogs", operation=operation, page_size=1000,
                            page_token=token)
            entries += list(r.entries)
            token = r.next_page_token
            if not token:
                return entries

    def test_postmaster_killed_under_load(self):
        daemon_pid = self.d.proc.pid
        load = fu.Load(self.update, 4).start()
        try:
            time.sleep(1.5)
            self.kill_and_recover(load, 1)
            time.sleep(1.5)
            # A second kill soon after: restarted again (after a longer backoff).
            self.kill_and_recover(load, 2)
            time.sleep(1.5)
        finally:
            results = load.stop()

        counts = fu.codes(results)
        print("%d calls: %s" % (len(results), {c.name: n for c, n in counts.items()}))
        failed = [r for r in results if r[2] != OK]
        for r in failed[:3]:
            print("  %s after %.2f s: %s" % (r[2].name, r[1] - r[0], r[3]))
        self.assertEqual([r for r in failed if r[2] != UNAVAILABLE], [],
                         "failures other than UNAVAILABLE")
        self.assertGreater(len(failed), 0, "no call saw a kill: nothing was tested")
        slow = [r for r in results if r[1] - r[0] > CALL_DEADLINE_S + 1]
        self.assertEqual(slow, [], "calls that hung past their deadline")

        # No acknowledged entry lost.
        acked = [r[4][1] for r in results if r[2] == OK]
        logged = set()
        for e in self.all_update_entries():
            for word in e.comment.replace(";", " ").replace(":", " ").split():
                if word.startswith(PREFIX):
                    logged.add(int(word[len(PREFIX):]))
        lost = sorted(set(acked) - logged)
        print("%d acknowledged, %d acknowledged without entry" % (len(acked), len(lost)))
        self.assertEqual(lost, [])

        # The daemon said what happened, twice, and was never restarted.
        log = self.d.read_log()
        print("".join(line + "\n" for line in log.splitlines() if "PostgreSQL" in line))
        self.assertEqual(log.count("killed by signal 9"), 2, log[-4000:])
        self.assertEqual(log.count("PostgreSQL restarted (pid"), 2, log[-4000:])
        self.assertEqual(self.d.proc.pid, daemon_pid)

        # SIGTERM: a clean exit, and nothing of PostgreSQL left in the data directory.
        self.assertEqual(self.d.stop(), 0)
        self.assertEqual(self.postgres_processes(), [])
        log = self.d.read_log()
        self.assertIn("PostgreSQL stopped", log)
        self.assertNotIn("restarting PostgreSQL (attempt", log[log.index("SIGTERM received"):])


if __name__ == "__main__":
    fx.main()
