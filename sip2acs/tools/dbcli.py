# -*- test-case-name: tests.test_ils_sqlite -*-
"""
C{sip2acs db}: create the circulation database (a SQLite file or a
PostgreSQL database), load the demo data, import patrons, items, loan
rules and patron class names from CSV files, and copy a whole library from one database to
another.

Commands (each takes C{--database PATH-OR-URL}, default
C{sip2acs.sqlite3}, and C{--password-file FILE} for a PostgreSQL URL)::

    sip2acs db init [--institution ID] [--branch CODE] [--branch-name NAME]
                    [--currency USD]
    sip2acs db demo
    sip2acs db import patrons FILE.csv
    sip2acs db import items FILE.csv
    sip2acs db import rules FILE.csv [--replace]
    sip2acs db import classes FILE.csv
    sip2acs db import branches|fees|loans|holds FILE.csv
        (each import also takes [--create] [--institution ID] [--config FILE])
    sip2acs db copy SRC DST [--src-password-file FILE] [--dst-password-file FILE]

C{init} creates the database (or migrates an older one) and sets the
institution, its default branch (C{MAIN} for a new database) and its
currency (C{USD}). C{demo} loads the demo data of L{sip2acs.ils.sql.demo}
into a database without patrons or items. On SQLite both create a missing
database file, readable and writable by its owner only (mode 0600);
C{import} refuses a missing one unless given C{--create} (then it creates
it as C{init} would). A PostgreSQL database must exist (C{createdb});
every command creates or migrates sip2acs's tables in it, as the server
does. The password of a C{postgresql://user@host:port/dbname} URL (which
must hold none) comes from the C{--password-file} (the file an
institution's C{database-password-file} names), else from libpq's
C{PGPASSWORD}, C{~/.pgpass} or a service file. These commands run without
the server and may run while it does (each is one transaction).

C{copy} copies everything of L{sip2acs.ils.sql.copying} from SRC to DST
(either may be a SQLite file or a PostgreSQL URL), all or nothing, and
prints the rows per table.

The CSV formats are those of L{sip2acs.ils.sql.importing}.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import textwrap
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool

from sip2acs.config import ConfigError
from sip2acs.config.load import loadConfig
from sip2acs.ils.postgres import store as postgres
from sip2acs.ils.sql.copying import CopyFailed, CopyRefused, CopySummary, copyLibrary
from sip2acs.ils.sql.demo import loadDemo
from sip2acs.ils.sql.store import DatabaseError, Store, isPostgresURL
from sip2acs.ils.sqlite import store as sqlite
from sip2acs.ils.sqlite.importing import KINDS, CSVImportError, ImportSummary, importCSV
from sip2acs.tools import Subparsers

__all__ = ["register", "main", "openStore", "importCSV", "CSVImportError",
           "ImportSummary"]

DEFAULT_DATABASE = "sip2acs.sqlite3"

TIMEOUT = 10.0
"""
Seconds to wait for a PostgreSQL connection.
"""

ERRORS = (sqlite3.Error, psycopg.Error, DatabaseError, OSError, ValueError)
"""
What a command reports in one line (and exits 1) rather than as a
traceback.
"""


def _quietPsycopg() -> None:
    """
    Keep psycopg's own log records (e.g. "error ignored terminating
    <psycopg.Pipeline>" after a row PostgreSQL refused) off standard
    error: the command says what went wrong itself, in one sentence.
    Without a handler of their own they would reach Python's last-resort
    handler, at random depending on timing.
    """
    logger = logging.getLogger("psycopg")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@contextmanager
def openStore(database: str, passwordFile: str | None = None,
              create: bool = False) -> Iterator[tuple[Store, int, int]]:
    """
    Open and migrate the database C{database}, a SQLite file or a
    PostgreSQL URL, in the calling thread, and close it when the block
    ends.

    @param passwordFile: PostgreSQL: a file whose first line is the
        password (else libpq looks in its own places).
    @param create: SQLite: create a missing file (mode 0600); without it
        a missing file is an error.
    @return: A context of C{(store, schema version found before
        migrating, the current version)}; the store runs one transaction
        at a time.
    @raise DatabaseError: The database cannot be used; the message names
        it and says why.
    @raise ValueError: A bad PostgreSQL URL.
    """
    if not isPostgresURL(database):
        if passwordFile is not None:
            raise ValueError("a password file is for a PostgreSQL database only")
        conn, found = sqlite.openDatabase(database, create=create)
        try:
            yield sqlite.SQLiteStore(conn), found, len(sqlite.migrations())
        finally:
            conn.close()
        return
    location = postgres.Location.fromURL(database, passwordFile)
    _quietPsycopg()
    try:
        with location.connect(TIMEOUT) as connection:
            found = postgres.migrate(connection)
    except psycopg.Error as e:
        raise (postgres.explained(e, location) or e) from e
    pool = ConnectionPool(
        location.url, kwargs=location.connectArguments(TIMEOUT), min_size=1,
        max_size=1, timeout=TIMEOUT, name="sip2acs-db", open=False,
    )
    pool.open(wait=True, timeout=TIMEOUT)
    try:
        yield (postgres.PostgresStore(pool, location), found,
               len(postgres.migrations()))
    finally:
        pool.close()


def _open(args: argparse.Namespace,
          create: bool = False) -> AbstractContextManager[tuple[Store, int, int]]:
    return openStore(args.database, args.passwordFile, create=create)


def runInit(args: argparse.Namespace) -> int:
    """
    C{sip2acs db init}: create or migrate the database and set the
    institution.

    @return: The exit code.
    """
    try:
        with _open(args, create=True) as (store, found, version):
            institutionId, branch, currency = store.atomically(
                lambda: _initialise(store, args)
            )
    except ERRORS as e:
        return _fail("init", e)
    state = (
        "created" if found == 0 else
        "up to date" if found == version else "migrated from version %d" % (found,)
    )
    print(
        "%s: schema version %d (%s); institution %s, default branch %s,"
        " currency %s." % (args.database, version, state, institutionId, branch,
                           currency)
    )
    return 0


def _initialise(store: Store, args: argparse.Namespace) -> tuple[str, str, str]:
    """
    Set the institution, its default branch and currency, in the caller's
    transaction.

    @return: C{(institution id, default branch, currency)}.
    """
    institution = store.row(
        "SELECT id, currency, default_branch FROM institutions ORDER BY rowid LIMIT 1"
    )
    institutionId, currency, branch = (
        tuple(institution) if institution is not None else ("LIBRARY", "USD", None)
    )
    institutionId = args.institution or institutionId
    currency = (args.currency or currency).upper()
    branch = args.branch or branch or "MAIN"
    store.execute(
        "INSERT INTO branches (code, name) VALUES (?, ?) ON CONFLICT (code)"
        " DO UPDATE SET name = coalesce(?, branches.name)",
        (branch, args.branchName or branch, args.branchName),
    )
    if institution is not None and institution[0] != institutionId:
        store.execute(
            "UPDATE institutions SET id = ? WHERE id = ?",
            (institutionId, institution[0]),
        )
    store.execute(
        "INSERT INTO institutions (id, currency, default_branch) VALUES (?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET currency = excluded.currency,"
        " default_branch = excluded.default_branch",
        (institutionId, currency, branch),
    )
    return institutionId, branch, currency


def runDemo(args: argparse.Namespace) -> int:
    """
    C{sip2acs db demo}: load the demo data into a database without patrons
    or items.

    @return: The exit code.
    """
    try:
        with _open(args, create=True) as (store, _, _):
            loadDemo(store, datetime.now())
    except ERRORS as e:
        return _fail("demo", e)
    print(
        "%s: demo data loaded: patrons P0001-P0010 (PIN 1234), items"
        " I0001-I0021, branches MAIN and EAST. Try patron P0001 with item"
        " I0001." % (args.database,)
    )
    return 0


def runImport(args: argparse.Namespace) -> int:
    """
    C{sip2acs db import KIND FILE}: import a CSV file, all or nothing.

    @return: The exit code.
    """
    if args.replace and args.kind != "rules":
        return _fail("import", "--replace is only for rules")
    missing = not (isPostgresURL(args.database) or os.path.exists(args.database))
    if missing and not args.create:
        return _fail(
            "import",
            "the database %s does not exist; create it with sip2acs db init"
            " --database %s, or give --create" % (args.database, args.database),
        )
    try:
        institutions = _configuredInstitutions(args)
        with _open(args, create=args.create) as (store, found, _):
            if found == 0:
                store.atomically(lambda: _initialise(store, _defaults(args)))
            summary = importCSV(store, args.kind, args.file, replace=args.replace,
                                institutions=institutions)
    except CSVImportError as e:
        print("sip2acs db import: %s: nothing imported:" % (args.file,),
              file=sys.stderr)
        for error in e.errors:
            print("  %s: %s" % (args.file, error), file=sys.stderr)
        return 1
    except ERRORS as e:
        return _fail("import", e)
    for note in summary.notes:
        print(note)
    for warning in summary.warnings:
        print("sip2acs db import: warning: %s: %s" % (args.file, warning),
              file=sys.stderr)
    print(
        "%s: imported %d %s from %s (%d new, %d updated)."
        % (args.database, summary.rows, args.kind, args.file, summary.created,
           summary.updated)
    )
    if summary.newBranches:
        print("New branches: %s." % (", ".join(summary.newBranches),))
    if summary.newItemTypes:
        print("New item types (books until changed): %s."
              % (", ".join(summary.newItemTypes),))
    return 0


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    """
    The arguments of a C{db init} with its defaults, for C{import
    --create}.
    """
    return argparse.Namespace(institution=args.institution, currency=None,
                              branch=None, branchName=None)


def _configuredInstitutions(args: argparse.Namespace) -> list[str] | None:
    """
    The institution ids of C{--config}'s institutions whose database is
    C{--database} (all of them if none names it), or L{None} without
    C{--config}: then the database's own and C{--institution}.

    @raise ValueError: The configuration cannot be read.
    """
    if args.config is None:
        return [args.institution] if args.institution else None
    try:
        config = loadConfig(args.config)
    except ConfigError as e:
        raise ValueError("%s: %s" % (args.config, e)) from None
    ids = [
        institution.id for institution in config.institutions.values()
        if _sameDatabase(str(institution.options.get("database", "")), args.database)
    ]
    return ids or [institution.id for institution in config.institutions.values()]


def runCopy(args: argparse.Namespace) -> int:
    """
    C{sip2acs db copy SRC DST}: copy a whole library, all or nothing.

    @return: The exit code.
    """
    if _sameDatabase(args.src, args.dst):
        return _fail("copy", "SRC and DST are the same database")
    if not isPostgresURL(args.src) and not os.path.exists(args.src):
        return _fail("copy", "the database %s does not exist" % (args.src,))
    created = not isPostgresURL(args.dst) and not os.path.exists(args.dst)
    try:
        with openStore(args.src, args.srcPasswordFile) as (src, _, _), \
                openStore(args.dst, args.dstPasswordFile, create=True) as (dst, _, _):
            summary = copyLibrary(src, dst)
    except (CopyRefused, CopyFailed, *ERRORS) as e:
        if created:
            _remove(args.dst)
        message = str(e) if isinstance(e, (CopyRefused, CopyFailed)) else (
            "%s; nothing was copied" % (Store.refusal(e),)
        )
        return _fail("copy", message)
    print(_copyReport(args.src, args.dst, summary))
    return 0


def runBackup(args: argparse.Namespace) -> int:
    """
    C{sip2acs db backup DB FILE}: a consistent copy of a SQLite database,
    taken with SQLite's online backup while sip2acs serves from it.

    @return: The exit code.
    """
    if isPostgresURL(args.database):
        return _fail(
            "backup",
            "a PostgreSQL database is backed up with PostgreSQL's own tools"
            " (pg_dump, or a base backup of the cluster)",
        )
    if not os.path.exists(args.database):
        return _fail("backup", "the database %s does not exist" % (args.database,))
    if os.path.exists(args.file):
        return _fail("backup", "%s already exists; nothing was written" % (args.file,))
    try:
        pages = backupSQLite(args.database, args.file)
    except FileExistsError:
        return _fail("backup", "%s already exists; nothing was written" % (args.file,))
    except (OSError, sqlite3.Error) as e:
        _remove(args.file)
        return _fail("backup", "%s: %s; nothing was written" % (args.database, e))
    print("%s: backed up to %s (%d pages, integrity ok)" % (args.database, args.file, pages))
    return 0


def backupSQLite(database: str, target: str) -> int:
    """
    Copy SQLite database C{database} to the new file C{target} (mode 0600)
    with SQLite's online backup: a consistent snapshot, taken while other
    connections read and write (a write-ahead-log database keeps serving).
    The copy is checked with C{PRAGMA integrity_check}.

    @return: The number of pages copied.
    @raise OSError: C{target} exists or cannot be created.
    @raise sqlite3.Error: The copy failed or does not check.
    """
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source = sqlite3.connect("file:%s?mode=ro" % (os.path.abspath(database),), uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            (check,) = copy.execute("PRAGMA integrity_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError("the copy does not check: %s" % (check,))
            (pages,) = copy.execute("PRAGMA page_count").fetchone()
        finally:
            copy.close()
    finally:
        source.close()
    return int(pages)


def _sameDatabase(src: str, dst: str) -> bool:
    if isPostgresURL(src) or isPostgresURL(dst):
        return src == dst
    return os.path.realpath(src) == os.path.realpath(dst)


def _remove(path: str) -> None:
    """
    Remove a SQLite database file this command created, with its WAL
    files.
    """
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def _copyReport(src: str, dst: str, summary: CopySummary) -> str:
    lines = [
        "Copied %s to %s, all or nothing; rows in each table:" % (src, dst),
        "  %-16s %10s %10s" % ("table", "SRC", "DST"),
    ]
    for table in summary.tables:
        lines.append("  %-16s %10d %10d" % (table.name, table.source, table.copied))
    lines.append(
        "Every table of DST holds as many rows as SRC's; new ids follow the"
        " largest copied."
    )
    for name, rows in summary.skipped:
        lines.append(
            "Not copied: %s (%d rows), a table db copy does not know." % (name, rows)
        )
    return "\n".join(lines)


def _fail(command: str, error: object) -> int:
    text = Store.refusal(error) if isinstance(error, BaseException) else str(error)
    print("sip2acs db %s: error: %s" % (command, text), file=sys.stderr)
    return 1


def _columnsHelp() -> str:
    lines = ["columns (* = required; see the sip2acs.tools.dbcli documentation):"]
    for kind, spec in sorted(KINDS.items()):
        names = ", ".join(
            column.name + ("*" if column.required else "") for column in spec.columns
        )
        lines.append(textwrap.fill(
            "%s: %s" % (kind, names), width=78, initial_indent="  ",
            subsequent_indent="    ",
        ))
    return "\n".join(lines)


def _databaseOption(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database", default=DEFAULT_DATABASE, metavar="PATH-OR-URL",
        help="a SQLite database file, or a PostgreSQL database as"
        " postgresql://user@host:port/dbname (default: %(default)s)",
    )
    _passwordOption(parser, "--password-file", "passwordFile", "the PostgreSQL")


def _passwordOption(parser: argparse.ArgumentParser, option: str, dest: str,
                    which: str) -> None:
    parser.add_argument(
        option, dest=dest, metavar="FILE",
        help="%s database's password: the first line of FILE (the file"
        " database-password-file names); else PGPASSWORD, ~/.pgpass or a"
        " service file" % (which,),
    )


def register(subparsers: Subparsers) -> argparse.ArgumentParser:
    """
    Add the C{db} command to the C{sip2acs} command line.

    @param subparsers: The result of C{ArgumentParser.add_subparsers()}.
    @return: The C{db} parser. Parsed arguments get C{func}, a function
        taking them and returning the exit code.
    """
    db = subparsers.add_parser(
        "db",
        help="manage the circulation database (SQLite or PostgreSQL)",
        description="Create the circulation database (a SQLite file or a"
        " PostgreSQL database), load the demo data, import CSV files, or copy"
        " a library from one database to another.",
    )
    commands = db.add_subparsers(dest="dbCommand", metavar="COMMAND")
    commands.required = True

    init = commands.add_parser("init", help="create or migrate the database")
    _databaseOption(init)
    init.add_argument("--institution", metavar="ID",
                      help="the institution id (AO); LIBRARY for a new database")
    init.add_argument("--branch", metavar="CODE",
                      help="the default branch; MAIN for a new database")
    init.add_argument("--branch-name", dest="branchName", metavar="NAME",
                      help="the default branch's name")
    init.add_argument("--currency", metavar="CODE",
                      help="ISO 4217 currency code; USD for a new database")
    init.set_defaults(func=runInit)

    demo = commands.add_parser(
        "demo", help="load the demo patrons and items (see README)"
    )
    _databaseOption(demo)
    demo.set_defaults(func=runDemo)

    imports = commands.add_parser(
        "import", help="import patrons, items, rules, class names, branches, fees,"
        " loans or holds from a CSV file",
        description=textwrap.fill(
            "Import a CSV file (UTF-8, a header row naming the columns,"
            " separated by commas or semicolons), all or nothing: a bad row is"
            " reported with its line number and nothing is imported. Rows whose"
            " key exists update the record; each row of fees, loans and holds is"
            " a new one. Dates are YYYY-MM-DD (or YYYY-MM-DD HH:MM). Import a"
            " library in this order: branches, classes, rules, patrons, items,"
            " fees, loans, holds.",
            width=78,
        ),
        epilog=_columnsHelp(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imports.add_argument("kind", choices=sorted(KINDS))
    imports.add_argument("file", metavar="FILE.csv")
    imports.add_argument("--replace", action="store_true",
                         help="rules only: replace all existing rules")
    imports.add_argument("--create", action="store_true",
                         help="create a missing database first (as db init would)")
    imports.add_argument(
        "--institution", metavar="ID",
        help="the institution id the file's institution column should have"
        " (default: the database's); with --create, the new database's",
    )
    imports.add_argument(
        "--config", metavar="FILE",
        help="the sip2acs configuration: warn when the file's institution"
        " column differs from its institution for this database",
    )
    _databaseOption(imports)
    imports.set_defaults(func=runImport)

    copy = commands.add_parser(
        "copy", help="copy a whole library from one database to another",
        description=textwrap.fill(
            "Copy a whole library (institutions, branches, item types, loan"
            " rules, patrons with their hashed PINs, items, loans, holds, fees"
            " and payments, the transaction log) from SRC to DST, each a"
            " SQLite file or a postgresql://user@host:port/dbname URL, all or"
            " nothing. DST must hold no patrons, items or transactions (a new"
            " file, an empty PostgreSQL database, or one fresh from sip2acs db"
            " init: its institutions, branches, item types and rules are"
            " replaced by SRC's). The rows of each table are counted after"
            " the copy.",
            width=78,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument("src", metavar="SRC", help="the database copied from")
    copy.add_argument("dst", metavar="DST", help="the database copied to")
    _passwordOption(copy, "--src-password-file", "srcPasswordFile", "SRC's")
    _passwordOption(copy, "--dst-password-file", "dstPasswordFile", "DST's")
    copy.set_defaults(func=runCopy)

    backup = commands.add_parser(
        "backup",
        help="copy a SQLite database while sip2acs serves from it",
        description="Copy the SQLite database DB to the new file FILE (mode 0600)"
        " with SQLite's online backup: a consistent snapshot, taken while the"
        " server keeps serving; the copy is checked before the command says ok.",
    )
    backup.add_argument("database", metavar="DB", help="the SQLite database file")
    backup.add_argument("file", metavar="FILE", help="the backup to write (must not exist)")
    backup.set_defaults(func=runBackup)
    return db


def main(argv: list[str]) -> int:
    """
    Run one C{sip2acs db} command, as C{sip2acs db ARGV...} would: for
    tools that build databases (C{sip2acs bench}) without the whole
    command line.

    @param argv: The arguments after C{db}, e.g. C{["init", "--database", path]}.
    @return: The exit status.
    """
    parser = argparse.ArgumentParser(prog="sip2acs")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["db", *argv])
    return int(args.func(args))
