"""kek_rotation_test: smimed --rotate-kek re-wraps every stored private key under a new
key-encryption key, in one transaction, and installs the new key file: keys imported
before still sign, mail encrypted before still decrypts, the old key is refused on the
database, and every refusal (daemon running, key file too open, a key wrapped under
another KEK) changes nothing. A repeated run finds nothing to do, or finishes the file
step of an interrupted one."""

import os
import re
import stat
import subprocess
import unittest

import grpc

import mail_fixture as mf
import smimed_fixture as fx

SETTINGS = "smime.v1.SettingsService/"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def rotate(*args):
    """rotate runs smimed --rotate-kek with |args| and returns the CompletedProcess."""
    return subprocess.run([fx.runfile("service/smimed")] + list(args), capture_output=True,
                          text=True, timeout=60)


def psql(data_dir, sql):
    """psql runs |sql| on the embedded PostgreSQL of a running daemon (trust auth on its
    socket) and returns the output."""
    out = subprocess.run(["psql", "-h", data_dir, "-U", "smimed", "-d", "smimed", "-At", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError("psql: " + out.stderr)
    return out.stdout.strip()


def new_check_of(stdout):
    m = re.search(r"new key-encryption key: check value ([0-9a-f]{16})", stdout)
    if m is None:
        raise AssertionError("no new check value in:\n" + stdout)
    return m.group(1)


class KekRotationTest(unittest.TestCase):
    def setUp(self):
        self.pki = mf.Pki()
        self.d = fx.Daemon().start()
        fx.enable(self.d)
        # Alice from her PKCS#12, carol from PEM certificate and key: two stored keys.
        r = self.d.call(mf.CERTS + "ImportCertificates", data=self.pki.read("alice.p12"),
                        password="secret")
        self.assertTrue(r.private_key_imported)
        r = self.d.call(mf.CERTS + "ImportCertificates",
                        data=self.pki.read("carol.pem") + self.pki.read("carol.key"))
        self.assertTrue(r.private_key_imported)
        self.kek = os.path.join(self.d.data_dir, "kek.key")
        self.old_check = self.d.call(SETTINGS + "GetSettings").status.kek_check_value

    def tearDown(self):
        self.d.cleanup()
        self.pki.cleanup()

    def assert_unchanged(self, old_kek):
        self.assertEqual(read(self.kek), old_kek)
        self.assertEqual([n for n in os.listdir(self.d.data_dir) if "retired" in n], [])

    def test_rotate_data_dir(self):
        d = self.d
        msg = mf.message(frm="Alice <alice@example.com>", to="carol@example.com")
        before = d.call(mf.MSG + "SignEncrypt", message=msg, sign=True, encrypt=True).message
        old_kek = read(self.kek)
        new = os.path.join(d.data_dir, "kek.key.new")

        # While the daemon runs: refused by the data directory's lock, and by the
        # database's advisory lock for --database-url; the new file is not even created.
        r = rotate("--data-dir", d.data_dir, "--rotate-kek", new)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("another smimed is running", r.stderr)
        self.assertIn("nothing was changed", r.stderr)
        url = "host=%s dbname=smimed user=smimed" % d.data_dir
        r = rotate("--database-url", url, "--kek-file", self.kek, "--rotate-kek", new)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("smimed is running on this database", r.stderr)
        self.assertIn("advisory lock 495756993899", r.stderr)
        self.assertFalse(os.path.exists(new))

        # A key wrapped under another KEK (here: a row marked so) stops the rotation,
        # named, before anything is re-wrapped.
        carol_id = psql(d.data_dir, "SELECT pk.certificate_id FROM private_keys pk JOIN "
                                    "certificates c ON c.id = pk.certificate_id "
                                    "WHERE c.subject ILIKE '%carol%'")
        psql(d.data_dir, "UPDATE private_keys SET kek_check = 'feedfacefeedface' "
                         "WHERE certificate_id = %s" % carol_id)
        self.assertEqual(d.stop(), 0)
        r = rotate("--data-dir", d.data_dir, "--rotate-kek", new)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("certificate id %s (kek_check \"feedfacefeedface\")" % carol_id, r.stderr)
        self.assertIn("Nothing was changed in the database", r.stderr)
        self.assert_unchanged(old_kek)

        # A new key file others may read is refused, naming it.
        loose = os.path.join(d.data_dir, "loose.key")
        with open(loose, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(loose, 0o640)
        r = rotate("--data-dir", d.data_dir, "--rotate-kek", loose)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("new key-encryption key: KEK file %s is readable by others" % loose,
                      r.stderr)
        self.assert_unchanged(old_kek)

        # Put carol's row back (the daemon's database is only reachable while it runs).
        d.start()
        psql(d.data_dir, "UPDATE private_keys SET kek_check = '%s' WHERE certificate_id = %s"
             % (self.old_check, carol_id))
        # A daemon whose key was rotated under it (as when PostgreSQL restarted and its
        # advisory lock was lost) refuses to store a key wrapped under the retired one.
        psql(d.data_dir, "UPDATE key_encryption_key SET check_value = 'feedfacefeedface'")
        code, detail = fx.code_of(lambda: d.call(
            mf.CERTS + "ImportCertificates",
            data=self.pki.read("carol.pem") + self.pki.read("carol.key")))
        self.assertEqual(code, grpc.StatusCode.FAILED_PRECONDITION, detail)
        self.assertIn("key-encryption key is now feedfacefeedface", detail)
        self.assertIn("restart smimed with the new key file", detail)
        psql(d.data_dir, "UPDATE key_encryption_key SET check_value = '%s'" % self.old_check)
        self.assertEqual(d.stop(), 0)

        # The rotation.
        r = rotate("--data-dir", d.data_dir, "--rotate-kek", new)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Re-wrapped 2 private key(s)", r.stdout)
        self.assertIn("check value %s" % self.old_check, r.stdout)
        new_check = new_check_of(r.stdout)
        self.assertNotEqual(new_check, self.old_check)
        self.assertIn("smimed --data-dir %s" % d.data_dir, r.stdout)
        retired = os.path.join(d.data_dir, "kek.key.retired-" + self.old_check)
        self.assertEqual(read(retired), old_kek)
        self.assertNotEqual(read(self.kek), old_kek)
        self.assertEqual(read(self.kek), read(new))
        for path in (self.kek, retired, new):
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

        # Again: nothing to do.
        r = rotate("--data-dir", d.data_dir, "--rotate-kek", new)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Nothing to do", r.stdout)
        self.assertEqual(read(self.kek), read(new))

        # The old key no longer opens this database.
        old_daemon = fx.Daemon(data_dir=d.data_dir, extra_args=["--kek-file", retired])
        with self.assertRaises(AssertionError) as ctx:
            old_daemon.start(timeout=30)
        self.assertIn("the database was set up with another key-encryption key",
                      str(ctx.exception))
        old_daemon.log.close()

        # Started as before: the new key; old and new mail both work.
        d.start()
        self.assertEqual(d.call(SETTINGS + "GetSettings").status.kek_check_value, new_check)
        opened = d.call(mf.MSG + "DecryptVerify", message=before)
        self.assertEqual(opened.layers[0].decryption_status, 1)
        self.assertEqual(opened.layers[-1].signature_status, 1, opened.layers[-1].comment)
        after = d.call(mf.MSG + "SignEncrypt", message=msg, sign=True, encrypt=True).message
        opened = d.call(mf.MSG + "DecryptVerify", message=after)
        self.assertEqual(opened.layers[0].decryption_status, 1)
        self.assertEqual(opened.layers[-1].signature_status, 1, opened.layers[-1].comment)

    def test_rotate_kek_file_then_resume(self):
        """With --kek-file the files are the operator's to switch; a --data-dir run
        afterwards finds the database done and only installs the key (as after an
        interruption between the commit and the file step)."""
        d = self.d
        self.assertEqual(d.stop(), 0)
        old_kek = read(self.kek)
        new = os.path.join(d.data_dir, "next.key")
        r = rotate("--data-dir", d.data_dir, "--kek-file", self.kek, "--rotate-kek", new)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Re-wrapped 2 private key(s)", r.stdout)
        self.assertIn("with --kek-file %s" % new, r.stdout)
        new_check = new_check_of(r.stdout)
        self.assertEqual(read(self.kek), old_kek)
        self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o600)

        r = rotate("--data-dir", d.data_dir, "--rotate-kek", new)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("an earlier run re-wrapped its keys", r.stdout)
        self.assertEqual(read(self.kek), read(new))
        self.assertEqual(read(os.path.join(d.data_dir, "kek.key.retired-" + self.old_check)),
                         old_kek)

        d.start()
        self.assertEqual(d.call(SETTINGS + "GetSettings").status.kek_check_value, new_check)
        msg = mf.message(frm="Alice <alice@example.com>", to="carol@example.com")
        out = d.call(mf.MSG + "SignEncrypt", message=msg, sign=True, encrypt=True).message
        self.assertEqual(d.call(mf.MSG + "DecryptVerify", message=out).layers[0].decryption_status, 1)

    def test_rotate_database_url(self):
        """--database-url: refused while a replica runs; then re-wraps, leaves the files
        to the operator, and replicas start with the new key only."""
        d = self.d
        msg = mf.message(frm="Alice <alice@example.com>", to="carol@example.com")
        before = d.call(mf.MSG + "SignEncrypt", message=msg, sign=True, encrypt=True).message
        self.assertEqual(d.stop(), 0)
        old_kek = read(self.kek)
        # The embedded cluster, run by hand as an external PostgreSQL would be.
        # (As root, as the user smimed, like the daemon's own.)
        pg = ["/usr/lib/postgresql/15/bin/pg_ctl", "-D", os.path.join(d.data_dir, "pgdata"),
              "-w", "-l", os.path.join(d.data_dir, "pg-by-hand.log")]
        if os.geteuid() == 0:
            pg = ["/usr/sbin/runuser", "-u", "smimed", "--"] + pg
        subprocess.run(pg + ["-o", "-k %s -c listen_addresses=" % d.data_dir, "start"],
                       check=True, capture_output=True, timeout=60)
        replica = None
        try:
            url = "host=%s dbname=smimed user=smimed" % d.data_dir
            sock_dir = os.path.join(os.path.dirname(d.data_dir), "replica")
            replica = fx.Daemon(data_dir=sock_dir, database_url=url, kek_file=self.kek).start()
            new = os.path.join(os.path.dirname(d.data_dir), "kek-new.key")
            r = rotate("--database-url", url, "--kek-file", self.kek, "--rotate-kek", new)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("smimed is running on this database", r.stderr)
            self.assertFalse(os.path.exists(new))
            self.assertEqual(replica.stop(), 0)

            r = rotate("--database-url", url, "--kek-file", self.kek, "--rotate-kek", new)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Re-wrapped 2 private key(s)", r.stdout)
            self.assertIn("with --kek-file %s" % new, r.stdout)
            new_check = new_check_of(r.stdout)
            self.assertEqual(read(self.kek), old_kek)
            self.assertEqual(stat.S_IMODE(os.stat(new).st_mode), 0o600)

            stale = fx.Daemon(data_dir=sock_dir, database_url=url, kek_file=self.kek)
            with self.assertRaises(AssertionError) as ctx:
                stale.start(timeout=30)
            self.assertIn("another key-encryption key", str(ctx.exception))
            stale.log.close()
            replica = fx.Daemon(data_dir=sock_dir, database_url=url, kek_file=new).start()
            self.assertEqual(replica.call(SETTINGS + "GetSettings").status.kek_check_value,
                             new_check)
            opened = replica.call(mf.MSG + "DecryptVerify", message=before)
            self.assertEqual(opened.layers[0].decryption_status, 1)
            out = replica.call(mf.MSG + "SignEncrypt", message=msg, sign=True).message
            self.assertEqual(replica.call(mf.MSG + "DecryptVerify", message=out)
                             .layers[-1].signature_status, 1)
        finally:
            if replica is not None:
                replica.stop()
            subprocess.run(pg + ["-m", "fast", "stop"], capture_output=True, timeout=60)


if __name__ == "__main__":
    fx.main()
