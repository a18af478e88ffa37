"""
The package's layers import only downwards (README, "What is here"):

    tools -> app, ops, config -> transports -> acs -> ils -> client -> sip

A module may import from its own layer and from any layer below it; the
shared helpers at the top of the package (C{sip2acs.passwords},
C{sip2acs._version}) from anywhere. This test reads every module's
imports (without importing it) and names each one that goes upwards.
"""

import ast
import pathlib

from twisted.trial.unittest import SynchronousTestCase

import sip2acs

PACKAGE = pathlib.Path(sip2acs.__file__).parent

LAYERS = {
    "sip": 0,
    "client": 1,
    "ils": 2,
    "acs": 3,
    "transports": 4,
    "config": 5,
    "ops": 5,
    "app": 6,
    "tools": 7,
}
"""
Each subpackage's height: a module may import from packages of its own
height or lower. C{ops} and C{config} sit side by side.
"""

SHARED = {"passwords", "_version", "histogram", "testing", "observers", "quicklog", "__main__"}
"""
Top-level modules: helpers anyone may use (passwords, the version, the histogram) and
the shims kept for names published before the layers (testing,
observers), and C{python -m sip2acs} (__main__), which import from above
and are imported by no module of the package.
"""


def _typeCheckingOnly(tree: ast.AST) -> set[ast.AST]:
    """
    The nodes inside C{if TYPE_CHECKING:} blocks (not their C{else}): the
    imports there are for the type checker and never run, so a layer may
    name a type from above (e.g. a config class) that way.
    """
    inside: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            for statement in node.body:
                inside.update(ast.walk(statement))
    return inside


def _imports(path: pathlib.Path, runtime: bool = True) -> list[tuple[int, str]]:
    """
    The C{sip2acs} modules C{path} imports, with their line numbers.

    @param runtime: Leave out the imports under C{if TYPE_CHECKING:}.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _typeCheckingOnly(tree) if runtime else set()
    found = []
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "sip2acs"]


def _layer(module: str) -> str | None:
    """
    The layer of a dotted C{sip2acs} module name, or L{None} for the
    package itself and its shared top-level modules.
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


class LayerTests(SynchronousTestCase):
    """
    Imports flow one way.
    """

    def test_everyPackageHasALayer(self) -> None:
        """
        Every subpackage is in L{LAYERS} and every top-level module in
        L{SHARED}: a new one must be placed.
        """
        unplaced = sorted(
            p.name
            for p in PACKAGE.iterdir()
            if (p.is_dir() and (p / "__init__.py").exists() and p.name not in LAYERS)
            or (p.suffix == ".py" and p.stem not in SHARED | {"__init__"})
        )
        self.assertEqual(unplaced, [])

    def test_importsGoDown(self) -> None:
        """
        No module imports from a layer above its own.
        """
        upwards = []
        for path in sorted(PACKAGE.rglob("*.py")):
            relative = path.relative_to(PACKAGE.parent).with_suffix("")
            layer = _layer(".".join(relative.parts))
            if layer is None:
                continue
            for line, name in _imports(path):
                target = _layer(name)
                if target is not None and LAYERS[target] > LAYERS[layer]:
                    upwards.append("%s:%d imports %s" % (relative, line, name))
        self.assertEqual(upwards, [])

    def test_sharedModulesAreNotShims(self) -> None:
        """
        No module of a layer imports the shims kept for old names.
        """
        shims = []
        for path in sorted(PACKAGE.rglob("*.py")):
            for line, name in _imports(path, runtime=False):
                if name in ("sip2acs.testing", "sip2acs.observers"):
                    shims.append("%s:%d imports %s" % (path.name, line, name))
        self.assertEqual(shims, [])

    def test_typeCheckingImportsAreNotRunTimeImports(self) -> None:
        """
        An import under C{if TYPE_CHECKING:} (or C{typing.TYPE_CHECKING})
        does not count as a run-time import; one in its C{else} does.
        """
        path = pathlib.Path(self.mktemp())
        path.write_text(
            "import typing\n"
            "from typing import TYPE_CHECKING\n"
            "from sip2acs.acs import session\n"
            "if TYPE_CHECKING:\n"
            "    from sip2acs.config import ListenerConfig\n"
            "if typing.TYPE_CHECKING:\n"
            "    import sip2acs.app.tap\n"
            "else:\n"
            "    import sip2acs.ops.admin\n",
            encoding="utf-8",
        )
        self.assertEqual(
            _imports(path), [(3, "sip2acs.acs"), (9, "sip2acs.ops.admin")]
        )
        self.assertEqual(
            sorted(name for _, name in _imports(path, runtime=False)),
            ["sip2acs.acs", "sip2acs.app.tap", "sip2acs.config", "sip2acs.ops.admin"],
        )
