# -*- test-case-name: tests.test_ils_sqlite -*-
"""
C{sip2acs db}: create the embedded SQLite database, load the demo data and
import patrons, items and loan rules from CSV files.

Commands (each takes C{--database PATH}, default C{sip2acs.sqlite3})::

    sip2acs db init [--institution ID] [--branch CODE] [--branch-name NAME]
                    [--currency USD]
    sip2acs db demo
    sip2acs db import patrons FILE.csv
    sip2acs db import items FILE.csv
    sip2acs db import rules FILE.csv [--replace]

C{init} creates the database (or migrates an older one) and sets the
institution, its default branch (C{MAIN} for a new database) and its
currency (C{USD}). C{demo} loads the demo data of L{sip2acs.ils.sqlite.demo} into
a database without patrons or items. Both create a missing database file,
readable and writable by its owner only (mode 0600); C{import} needs an
existing one. These commands run without the server and may run while it
does (SQLite serialises the writers).

The CSV formats are those of L{sip2acs.ils.sqlite.importing}.
"""

import argparse
import os
import sqlite3
import sys
import textwrap
from datetime import datetime

from sip2acs.ils.sql.store import isPostgresURL
from sip2acs.ils.sqlite.demo import loadDemo
from sip2acs.ils.sqlite.importing import KINDS, CSVImportError, ImportSummary, importCSV
from sip2acs.ils.sqlite.store import DatabaseError, migrations, openDatabase
from sip2acs.tools import Subparsers

__all__ = ["register", "main", "importCSV", "CSVImportError", "ImportSummary"]

DEFAULT_DATABASE = "sip2acs.sqlite3"


def _open(args: argparse.Namespace, create: bool = False) -> tuple[sqlite3.Connection, int]:
    """
    Open the database of C{args}; C{init} and C{demo} create it (mode
    0600) when missing, C{import} needs it to exist.

    @raise DatabaseError: The database is a PostgreSQL URL: these commands
        do not manage one yet.
    """
    if isPostgresURL(args.database):
        raise DatabaseError(
            "%s is a PostgreSQL database: sip2acs db works on SQLite files only"
            " for now; sip2acs creates the PostgreSQL tables itself when the"
            " server starts" % (args.database,)
        )
    return openDatabase(args.database, create=create)


def runInit(args: argparse.Namespace) -> int:
    """
    C{sip2acs db init}: create or migrate the database and set the
    institution.

    @return: The exit code.
    """
    try:
        conn, found = _open(args, create=True)
    except (sqlite3.Error, DatabaseError, OSError) as e:
        return _fail("init", e)
    try:
        version = len(migrations())
        conn.execute("BEGIN IMMEDIATE")
        institution = conn.execute(
            "SELECT id, currency, default_branch FROM institutions"
            " ORDER BY rowid LIMIT 1"
        ).fetchone()
        institutionId, currency, branch = institution or ("LIBRARY", "USD", None)
        institutionId = args.institution or institutionId
        currency = (args.currency or currency).upper()
        branch = args.branch or branch or "MAIN"
        conn.execute(
            "INSERT INTO branches (code, name) VALUES (?, ?) ON CONFLICT (code)"
            " DO UPDATE SET name = coalesce(?, name)",
            (branch, args.branchName or branch, args.branchName),
        )
        if institution is not None and institution[0] != institutionId:
            conn.execute(
                "UPDATE institutions SET id = ? WHERE id = ?",
                (institutionId, institution[0]),
            )
        conn.execute(
            "INSERT INTO institutions (id, currency, default_branch) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET currency = excluded.currency,"
            " default_branch = excluded.default_branch",
            (institutionId, currency, branch),
        )
        conn.commit()
    except (sqlite3.Error, ValueError) as e:
        conn.rollback()
        conn.close()
        return _fail("init", e)
    conn.close()
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


def runDemo(args: argparse.Namespace) -> int:
    """
    C{sip2acs db demo}: load the demo data into a database without patrons
    or items.

    @return: The exit code.
    """
    try:
        conn, found = _open(args, create=True)
    except (sqlite3.Error, DatabaseError, OSError) as e:
        return _fail("demo", e)
    try:
        loadDemo(conn, datetime.now())
    except (sqlite3.Error, ValueError) as e:
        return _fail("demo", e)
    finally:
        conn.close()
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
    try:
        conn, found = _open(args)
    except DatabaseError as e:
        if not (os.path.exists(args.database) or isPostgresURL(args.database)):
            return _fail(
                "import",
                "%s; create it with: sip2acs db init --database %s" % (e, args.database),
            )
        return _fail("import", e)
    except (sqlite3.Error, OSError) as e:
        return _fail("import", e)
    try:
        summary = importCSV(conn, args.kind, args.file, replace=args.replace)
    except CSVImportError as e:
        print("sip2acs db import: %s: nothing imported:" % (args.file,),
              file=sys.stderr)
        for error in e.errors:
            print("  %s: %s" % (args.file, error), file=sys.stderr)
        return 1
    except (sqlite3.Error, OSError) as e:
        return _fail("import", e)
    finally:
        conn.close()
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


def _fail(command: str, error: object) -> int:
    print("sip2acs db %s: error: %s" % (command, error), file=sys.stderr)
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
        "--database", default=DEFAULT_DATABASE, metavar="PATH",
        help="the SQLite database file (default: %(default)s)",
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
        help="manage the embedded SQLite circulation database",
        description="Create the embedded SQLite database, load the demo data"
        " or import CSV files.",
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
        "import", help="import patrons, items or rules from a CSV file",
        description=textwrap.fill(
            "Import a CSV file (UTF-8, a header row naming the columns), all"
            " or nothing: a bad row is reported with its line number and"
            " nothing is imported. Rows whose key exists update the record.",
            width=78,
        ),
        epilog=_columnsHelp(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imports.add_argument("kind", choices=sorted(KINDS))
    imports.add_argument("file", metavar="FILE.csv")
    imports.add_argument("--replace", action="store_true",
                         help="rules only: replace all existing rules")
    _databaseOption(imports)
    imports.set_defaults(func=runImport)
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
