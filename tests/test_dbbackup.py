"""
Tests for C{sip2acs db backup}: a SQLite database copied while another
connection writes to it, as a running server does.
"""

import os
import sqlite3
import stat

from twisted.trial.unittest import SynchronousTestCase

from tests.test_dbcopy import runDB


class BackupTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.database = self.mktemp()
        code, _, err = runDB("demo", "--database", self.database)
        self.assertEqual(code, 0, err)

    def test_whileWriting(self) -> None:
        """
        A backup taken while another connection holds a write transaction
        open (WAL mode, as the server runs) has every committed row and
        none of the uncommitted one; the file is mode 0600 and checks.
        """
        writer = sqlite3.connect(self.database, isolation_level=None)
        self.addCleanup(writer.close)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE patrons SET name = 'Uncommitted' WHERE barcode = 'P0001'")
        target = self.mktemp()
        code, out, err = runDB("backup", self.database, target)
        self.assertEqual(code, 0, err)
        self.assertIn("backed up to %s" % (target,), out)
        self.assertIn("integrity ok", out)
        writer.execute("ROLLBACK")
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
        copy = sqlite3.connect(target)
        self.addCleanup(copy.close)
        (name,) = copy.execute("SELECT name FROM patrons WHERE barcode = 'P0001'").fetchone()
        self.assertEqual(name, "Alice Able")
        source = sqlite3.connect(self.database)
        self.addCleanup(source.close)
        for table in ("patrons", "items", "loans"):
            query = "SELECT count(*) FROM %s" % (table,)
            self.assertEqual(copy.execute(query).fetchone(), source.execute(query).fetchone())

    def test_refusals(self) -> None:
        """
        An existing FILE, a missing DB and a PostgreSQL URL are refused in
        one sentence each, and nothing is written.
        """
        target = self.mktemp()
        with open(target, "w") as f:
            f.write("keep me")
        code, _, err = runDB("backup", self.database, target)
        self.assertEqual(code, 1)
        self.assertIn("already exists; nothing was written", err)
        with open(target) as f:
            self.assertEqual(f.read(), "keep me")
        code, _, err = runDB("backup", self.mktemp(), self.mktemp())
        self.assertEqual(code, 1)
        self.assertIn("does not exist", err)
        code, _, err = runDB("backup", "postgresql://sip@db/library", self.mktemp())
        self.assertEqual(code, 1)
        self.assertIn("pg_dump", err)
