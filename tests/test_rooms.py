"""The rooms of `bridge`: each imports only the rooms below it, through their doors; the core is
pure; no folder is crowded; and the drawing in the README and docs/architecture.md is true.

A room is a package of `bridge` (`bridge.survey.replies` belongs to `bridge.survey`). Its door is
its `__init__`'s `__all__`: the modules another room may import. The tests reach into any module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.test_architecture import ROOT, _imports, _modules, _name

# Lowest first: each room may import the rooms named beside it, and `bot`, `storage`, `outbound`.
MAY_IMPORT = {
    "config": set(),
    "okdesk": set(),
    "rules": {"okdesk"},
    "outside": {"config", "okdesk"},
    "survey": {"config", "okdesk", "rules", "outside"},
    "report": {"config"},
    "portals": {"config", "rules", "outside"},
    "team": {"config", "okdesk", "rules", "outside", "survey", "report"},
    "worker": {"config", "okdesk", "rules", "outside", "survey", "report", "team"},
    "web": {"config", "okdesk", "rules", "outside", "survey", "worker", "report", "team"}
    | {"portals"},
    "admin": {"config", "okdesk", "rules", "outside", "survey", "worker", "report", "team"}
    | {"portals", "web"},
}
# The pure core decides; it never reaches the network, a database session or the web framework.
IO = ("httpx", "sqlalchemy", "sqlmodel", "fastapi", "starlette", "uvicorn", "storage.db", "asyncio")
FOLDER_MODULES = 12
CODE = ("bot", "bridge", "outbound", "storage", "sandbox", "harness", "bench")


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bridge" and len(parts) > 1 and parts[1] in MAY_IMPORT else None


def _room_imports() -> set[tuple[str, str, str]]:
    """(importing room, imported room, imported module) for every import between rooms."""
    found = set()
    for path in _modules("bridge"):
        room = _room(_name(path))
        for name in _imports(path):
            other = _room(name)
            if room and other and other != room:
                found.add((room, other, name))
    return found


def test_the_rooms_are_the_packages_of_bridge() -> None:
    packages = {p.parent.name for p in (ROOT / "bridge").glob("*/__init__.py")}
    assert packages == set(MAY_IMPORT)


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_each_room_imports_only_the_rooms_below_it(room: str) -> None:
    wrong = {
        f"bridge.{room} imports {name}"
        for importer, other, name in _room_imports()
        if importer == room and other not in MAY_IMPORT[room]
    }
    assert not wrong


def _door(room: str) -> set[str]:
    tree = ast.parse((ROOT / "bridge" / room / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    return set()


def test_a_room_is_entered_by_its_door() -> None:
    """Another room imports only the modules a room names in its `__all__`."""
    wrong = {
        f"bridge.{importer} reaches into {name}"
        for importer, other, name in _room_imports()
        if name != f"bridge.{other}" and name.split(".")[2] not in _door(other)
    }
    assert not wrong


def test_every_door_opens_onto_a_module() -> None:
    for room in MAY_IMPORT:
        for name in _door(room):
            here = ROOT / "bridge" / room
            assert (here / f"{name}.py").exists() or (here / name / "__init__.py").exists()


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_each_room_says_what_it_owns_and_may_import(room: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / "bridge" / room / "__init__.py").read_text()))
    assert doc and "May import" in doc


def test_the_core_does_no_io() -> None:
    wrong = {
        f"{_name(path)} imports {name}"
        for path in _modules("bridge/rules")
        for name in _imports(path)
        if any(name == io or name.startswith(f"{io}.") for io in IO)
    }
    assert not wrong


def test_no_folder_holds_more_than_twelve_modules() -> None:
    crowded = {}
    for top in CODE:
        for folder in {p.parent for p in (ROOT / top).rglob("*.py")}:
            if "migrations" in folder.parts:
                continue
            modules = [p for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")]
            if len(modules) > FOLDER_MODULES:
                crowded[str(folder.relative_to(ROOT))] = len(modules)
    assert not crowded


def _drawing(path: Path) -> tuple[set[str], set[tuple[str, str]]]:
    text = path.read_text(encoding="utf-8")
    block = re.search(r"<!-- rooms -->\s*```mermaid\n(.*?)```", text, re.S)
    assert block, f"{path.name} has no drawing of the rooms"
    rooms = set(re.findall(r"^\s*(\w+)\[", block.group(1), re.M))
    arrows = set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)", block.group(1), re.M))
    return rooms, arrows


def _reaches(arrows: set[tuple[str, str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        here = todo.pop()
        for source, target in arrows:
            if source == here and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md"])
def test_the_drawing_shows_the_rooms_and_their_arrows(page: str) -> None:
    """Every room is drawn; every import between rooms follows the arrows (perhaps through a room
    between); and no arrow is drawn that no import takes."""
    rooms, arrows = _drawing(ROOT / page)
    assert rooms == set(MAY_IMPORT)
    imports = {(importer, other) for importer, other, _ in _room_imports()}
    assert {(a, b) for a, b in imports if b not in _reaches(arrows, a)} == set()
    assert arrows - imports == set()
