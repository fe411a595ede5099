"""The image's files, read as Docker reads them (no Docker engine runs here): the build context
keeps secrets, history and local environments out, yet holds what the Dockerfile copies, and the
service runs as a user of its own, not root."""

from __future__ import annotations

import fnmatch
import re

import pytest

from harness.constants import ROOT


def _ignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out of the build context (last match wins)."""
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
        bare = pattern.removeprefix("**/")
        candidates = suffixes if pattern.startswith("**/") else prefixes
        if any(fnmatch.fnmatchcase(c, bare) for c in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        ".git/config",
        ".venv/bin/python",
        "data/rating.db",
        "bridge/__pycache__/app.cpython-311.pyc",
        ".mypy_cache/x",
        "tests/conftest.py",
    ],
)
def test_secrets_history_and_caches_stay_out_of_the_build_context(path: str) -> None:
    assert _ignored(path)


def test_what_the_dockerfile_copies_is_in_the_build_context() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    sources = re.findall(r"^COPY\s+(\S+)\s", dockerfile, flags=re.MULTILINE)
    assert "requirements.txt" in sources and "bridge" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source) and not _ignored(f"{source}/__init__.py"), source
    assert not _ignored("example.env")


def test_the_service_runs_as_its_own_user_not_root() -> None:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")


def test_the_compose_file_says_how_to_register_the_bot_and_run_admin_commands() -> None:
    header = (ROOT / "docker-compose.yaml").read_text().split("services:")[0]
    for command in ("bot.register", "bridge.admin check", "bridge.admin send-test"):
        assert f"docker compose run --rm rating python -m {command}" in header, command
