"""
A library on disk for tests that run a real server: CSV files loaded with
C{sip2acs db init} and C{db import}, as an operator would.
"""

import os

from sip2acs.tools import cli

__all__ = ["makeLibrary", "writeFile"]


def writeFile(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def makeLibrary(workdir, patrons, items, rules=None, institution="KT"):
    """
    Create C{workdir/library.sqlite3}: institution C{institution}, branch
    C{MAIN}, and the given rows.

    @param patrons: C{(barcode, name)} pairs.
    @param items: C{(barcode, title)} pairs.
    @param rules: The text of a rules CSV file replacing the default
        rules, or L{None} to keep them.
    @return: The database path.
    @raise AssertionError: If a command fails.
    """
    database = os.path.join(workdir, "library.sqlite3")
    commands = [
        ["db", "init", "--database", database, "--institution", institution,
         "--branch", "MAIN"],
    ]
    if rules is not None:
        path = os.path.join(workdir, "rules.csv")
        writeFile(path, rules)
        commands.append(["db", "import", "rules", path, "--replace", "--database", database])
    for kind, header, rows in (("patrons", "barcode,name", patrons),
                               ("items", "barcode,title", items)):
        path = os.path.join(workdir, kind + ".csv")
        writeFile(path, header + "\n" + "".join("%s,%s\n" % row for row in rows))
        commands.append(["db", "import", kind, path, "--database", database])
    for argv in commands:
        status = cli.main(argv)
        if status != 0:
            raise AssertionError("sip2acs %s exited with %d" % (" ".join(argv), status))
    return database
