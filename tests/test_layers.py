"""The package's layers, held by reading every module's imports (no module is imported here).

- the core (connector/core) imports only the core and connector.errors;
- only connector/gateway.py imports the HubSpot SDK;
- the sandbox imports only the sandbox: it must catch the connector's mistakes, not share them;
- the webhook edge (connector/webhooks) never reaches the gateway, sync, writeback or consumer;
- no runtime import circle (imports under `if TYPE_CHECKING:` are type-only and left out).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "connector"

CORE_MAY_IMPORT = ("connector.core", "connector.errors")
SDK_IMPORTER = "connector.gateway"
WEBHOOKS_MUST_NOT = ("connector.gateway", "connector.sync", "connector.writeback", "connector.consumer")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. connector.core.scoring
    target: str  # what it imports, e.g. connector.store
    line: int

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def runtime_imports(path: Path, root: Path, modules: set[str]) -> list[Import]:
    """Every import in the file, at any depth, except those inside `if TYPE_CHECKING:` blocks.
    `from package import name` counts as importing package.name when that is a module."""
    name = module_name(path, root)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[Import] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                found.extend(Import(name, alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                for alias in child.names:
                    sub = f"{child.module}.{alias.name}"
                    found.append(Import(name, sub if sub in modules else child.module, child.lineno))
            visit(child)

    visit(tree)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def all_imports(root: Path = PACKAGE) -> list[Import]:
    files = sorted(root.rglob("*.py"))
    modules = {module_name(f, root) for f in files}
    return [imp for f in files for imp in runtime_imports(f, root, modules)]


def _within(target: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(target == p or target.startswith(p + ".") for p in prefixes)


def violations(imports: list[Import]) -> list[str]:
    """Each broken layer rule, naming the module, the line and what it imported."""
    broken = []
    for imp in imports:
        if _within(imp.module, "connector.core") and _within(imp.target, "connector") \
                and not _within(imp.target, CORE_MAY_IMPORT):
            broken.append(f"core must import only core and errors: {imp}")
        if _within(imp.target, "hubspot") and imp.module != SDK_IMPORTER:
            broken.append(f"only {SDK_IMPORTER} may import the HubSpot SDK: {imp}")
        if _within(imp.module, "connector.sandbox") and _within(imp.target, "connector") \
                and not _within(imp.target, "connector.sandbox"):
            broken.append(f"the sandbox must import only the sandbox: {imp}")
        if _within(imp.module, "connector.webhooks") and _within(imp.target, WEBHOOKS_MUST_NOT):
            broken.append(f"the webhook edge must not reach {imp.target}: {imp}")
    return broken


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles among the package's own modules (each found once, from its smallest member)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if _within(imp.target, "connector") and imp.target != imp.module:
            graph.setdefault(imp.module, set()).add(imp.target)
    cycles, seen = [], set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                key = frozenset(path)
                if key not in seen and min(path) == start:
                    seen.add(key)
                    cycles.append(path + [start])
            elif nxt not in path and nxt > start:
                walk(start, nxt, path + [nxt])

    for module in sorted(graph):
        walk(module, module, [module])
    return cycles


def test_given_the_package_then_every_layer_rule_holds():
    assert violations(all_imports()) == []


def test_given_the_package_then_no_runtime_import_circle():
    assert import_cycles(all_imports()) == []


def test_given_the_package_then_the_checker_saw_the_sdk_import_and_the_core():
    # Guard against a checker that silently reads nothing: the known imports must be found.
    imports = all_imports()
    assert any(i.module == SDK_IMPORTER and i.target == "hubspot" for i in imports)
    assert any(i.module == "connector.core.scoring" and i.target == "connector.core.rules" for i in imports)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "connector"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_given_a_core_module_importing_the_store_then_the_rule_is_broken(tmp_path):
    root = _tree(tmp_path, {"__init__.py": "", "core/__init__.py": "", "store/__init__.py": "",
                            "core/scoring.py": "from connector.store import Store\n"})
    assert violations(all_imports(root)) == [
        "core must import only core and errors: connector.core.scoring (line 1) imports connector.store"]


def test_given_sdk_sandbox_and_webhook_leaks_then_each_is_named(tmp_path):
    root = _tree(tmp_path, {"__init__.py": "", "sync.py": "import hubspot\n", "sandbox/__init__.py": "",
                            "sandbox/api.py": "def f():\n    from connector.gateway import Gateway\n",
                            "webhooks/__init__.py": "", "webhooks/receiver.py": "from connector import sync\n"})
    found = violations(all_imports(root))
    assert found == [
        "the sandbox must import only the sandbox: connector.sandbox.api (line 2) imports connector.gateway",
        "only connector.gateway may import the HubSpot SDK: connector.sync (line 1) imports hubspot",
        "the webhook edge must not reach connector.sync: connector.webhooks.receiver (line 1) imports connector.sync",
    ]


def test_given_a_circle_hidden_in_a_function_then_it_is_found_but_type_only_imports_are_not(tmp_path):
    root = _tree(tmp_path, {"__init__.py": "",
                            "a.py": "from connector import b\n",
                            "b.py": "def later():\n    from connector.a import thing\n",
                            "c.py": "from typing import TYPE_CHECKING\n"
                                    "if TYPE_CHECKING:\n    from connector.d import X\n",
                            "d.py": "from connector.c import Y\n"})
    assert import_cycles(all_imports(root)) == [["connector.a", "connector.b", "connector.a"]]
