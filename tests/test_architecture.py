"""The shape of the code: which package may import which, no cycles, and small modules.

`bridge` uses `bot`, `outbound` and `storage`; `bot` knows Bitrix24 and nothing of ours;
`storage` knows only its tables; `outbound` is what both vendor clients share. The tools
(`harness`, `bench`, `sandbox`) never import the tests, and `harness` runs without pytest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "bridge", "outbound", "storage", "sandbox", "harness", "bench")
MAY_IMPORT = {
    "bot": {"bot", "outbound"},
    "outbound": {"outbound"},
    "storage": {"storage"},
    "bridge": {"bridge", "bot", "outbound", "storage"},
    "sandbox": {"sandbox", "bridge", "bot", "outbound", "storage"},
    "harness": {"harness", "sandbox", "bridge", "bot", "outbound", "storage"},
    "bench": set(PACKAGES),
}
# What the tests and the tools share runs without the test runner (bench is started on its own).
NEVER_IMPORT = {"harness": {"pytest", "_pytest"}, "bench": {"pytest", "_pytest"}}
MODULE_LINES, TEST_FILE_LINES, FUNCTION_LINES = 300, 450, 40


def _modules(*tops: str) -> Iterator[Path]:
    for top in tops:
        yield from sorted(p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _ours(names: set[str], modules: set[str]) -> set[str]:
    return {name for name in names if name in modules}


@pytest.mark.parametrize("top", [p for p in PACKAGES if (ROOT / p).is_dir()])
def test_each_package_imports_only_what_it_may(top: str) -> None:
    wrong = {
        f"{_name(path)} imports {name}"
        for path in _modules(top)
        for name in _imports(path)
        if name.split(".")[0] in (*PACKAGES, "tests") and name.split(".")[0] not in MAY_IMPORT[top]
    }
    assert not wrong


@pytest.mark.parametrize("top", sorted(NEVER_IMPORT))
def test_the_tools_run_without_pytest(top: str) -> None:
    wrong = {
        f"{_name(path)} imports {name}"
        for path in _modules(top)
        for name in _imports(path)
        if name.split(".")[0] in NEVER_IMPORT[top]
    }
    assert not wrong


def test_the_fakes_know_nothing_of_ours() -> None:
    """The fake vendors are written from the wire references alone: sharing our code would let
    them share our assumptions."""
    wrong = {
        f"{_name(path)} imports {name}"
        for path in _modules("sandbox/fakes")
        for name in _imports(path)
        if name.split(".")[0] in (*PACKAGES, "tests") and not name.startswith("sandbox.fakes")
    }
    assert not wrong


def test_no_module_imports_another_in_a_circle() -> None:
    paths = list(_modules("bot", "bridge", "outbound", "storage"))
    names = {_name(p) for p in paths}
    graph = {_name(p): _ours(_imports(p), names) - {_name(p)} for p in paths}
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        assert module not in trail, " -> ".join([*trail[trail.index(module) :], module])
        if module not in done:
            for imported in sorted(graph[module]):
                visit(imported, [*trail, module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])


def _too_long(path: Path, limit: int) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{_name(path)}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    ]


def test_modules_and_functions_are_small() -> None:
    """The sandbox's fakes and the harness are code like ours: 300 lines a module at most."""
    code = list(_modules(*PACKAGES))
    tests = list(_modules("tests"))
    too_big = [
        f"{_name(p)}: {n} lines"
        for paths, limit in ((code, MODULE_LINES), (tests, TEST_FILE_LINES))
        for p in paths
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    ]
    too_long = [line for p in code + tests for line in _too_long(p, FUNCTION_LINES)]
    assert not too_big
    assert not too_long
