"""The shape of the package: stages as subpackages, imports that only go one way.

Reads the source with `ast` (every import counts: top level, inside functions,
under `TYPE_CHECKING`), so a circle or a forbidden edge fails here before a
reader of the tree ever sees it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digest"
STAGES = ("fetch", "editorial", "render", "mail", "web", "state", "run", "loopback", "cli")
TOP_LEVEL = {
    "config",
    "configvalues",
    "credentials",
    "models",
    "errors",
    "logs",
    "tokens",
    "bundled",
    "deploy",
}
# What each stage may never import (its __init__ docstring says why).
FORBIDDEN = {
    "editorial": {"fetch", "state", "mail", "web", "run", "loopback"},
    "render": {"fetch", "state", "mail", "web", "run", "loopback", "editorial"},
    "state": {"fetch", "editorial", "render", "mail", "web", "run", "loopback"},
    "fetch": {"editorial", "render", "mail", "web", "run", "loopback"},
    "mail": {"fetch", "editorial", "web", "run", "loopback"},
    "web": {"fetch", "editorial", "run", "loopback"},
}
# The command line is the outermost layer: it may import every stage, and
# nothing imports it but `python -m digest` (and the `digest` script).
OUTERMOST = "cli"
MAY_IMPORT_OUTERMOST = {"digest.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def known_modules() -> set[str]:
    return {module_name(p) for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The digest modules `path` imports, resolved to module names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            # `from digest.fetch import gather` names a module; `from x import func` names x.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("digest"):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = known_modules()
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        # A package's own __init__ is imported with each of its modules: not an edge.
        edges[name] = {m for m in imports_of(path, known) if m != name and m != "digest"}
    return edges


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "digest"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_between_modules() -> None:
    assert find_cycle(graph()) is None


def test_no_import_circle_between_stages() -> None:
    folded: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph().items():
        folded[stage(source)] |= {stage(t) for t in targets if stage(t) != stage(source)}
    assert find_cycle(folded) is None


@pytest.mark.parametrize("source", sorted(FORBIDDEN))
def test_stage_imports_only_what_it_may(source: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if stage(module) == source
        for target in targets
        if stage(target) in FORBIDDEN[source]
    )
    assert wrong == []


def test_nothing_imports_the_command_line_but_main() -> None:
    edges = graph()
    assert any(stage(t) == OUTERMOST for t in edges["digest.__main__"])  # the check sees it
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in edges.items()
        if stage(module) != OUTERMOST and module not in MAY_IMPORT_OUTERMOST
        for target in targets
        if stage(target) == OUTERMOST
    )
    assert wrong == []


def test_the_tree_is_stages_and_a_few_top_level_modules() -> None:
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name[0] not in "_.")
    assert folders == sorted(STAGES)
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert top == TOP_LEVEL


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_says_what_it_owns_and_never_touches(name: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text("utf-8")))
    assert doc and "Owns:" in doc and "Never touches:" in doc


NO_IO = ("httpx", "sqlite3", "socket", "smtplib", "aiosmtpd", "urllib.request", "subprocess")
CLOCKS = ("now", "utcnow", "today", "time", "monotonic", "perf_counter")


@pytest.mark.parametrize("name", ["editorial", "render"])
def test_pure_stages_touch_no_network_database_or_clock(name: str) -> None:
    """Their decisions take data and a `now`: the same inputs give the same issue."""
    found = []
    for path in (PACKAGE / name).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                found += [f"{path.name} imports {m}" for m in modules if m.startswith(NO_IO)]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLOCKS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in ("datetime", "date", "time")
            ):
                found.append(f"{path.name}:{node.lineno} reads the clock")
    assert found == []
