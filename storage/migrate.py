"""Schema migrations (alembic): applied on start, and by `python -m storage.migrate`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import OperationalError

from storage.db import create_db_engine, normalize_url, unsupported_kind, use_incremental_vacuum

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_DATABASE_URL = "sqlite:///./data/rating.db"


def alembic_config(database_url: str) -> Config:
    """An alembic configuration for `database_url`, without an alembic.ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Bring the schema of `database_url` to the newest revision (and a SQLite file made
    before incremental auto-vacuum to it, once: `storage.db.use_incremental_vacuum`)."""
    command.upgrade(alembic_config(database_url), "head")
    engine = create_db_engine(database_url, pool_size=1)
    try:
        use_incremental_vacuum(engine)
    finally:
        engine.dispose()


def upgrade_or_exit(database_url: str) -> None:
    """`upgrade`, or exit 1 with one clear line when the database cannot be reached."""
    try:
        upgrade(database_url)
    except OperationalError as exc:
        sys.stderr.write(
            f"cannot reach the database {describe(database_url)}: {_first_line(exc)}\n"
            "Check DATABASE_URL and that the database server is running.\n"
        )
        raise SystemExit(1) from None


class _StorageSettings(BaseSettings):
    """DATABASE_URL from the environment or `.env`, as the service reads it."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")
    database_url: str = DEFAULT_DATABASE_URL


def describe(database_url: str) -> str:
    """The database URL without its password, fit to print."""
    return normalize_url(database_url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> int:
    """Apply migrations to DATABASE_URL (from the environment, `.env`, or --database-url)."""
    parser = argparse.ArgumentParser(
        prog="python -m storage.migrate",
        description="Apply database migrations to DATABASE_URL (read like the service does).",
        epilog="settings: DATABASE_URL from the environment or ./.env (default "
        f"{DEFAULT_DATABASE_URL}); nothing else. Prints: the database migrated, its password "
        "hidden. The service migrates on start too; this is for a separate deploy step.",
    )
    parser.add_argument("--database-url", help="overrides DATABASE_URL and .env")
    args = parser.parse_args(argv)
    url = args.database_url or _StorageSettings().database_url
    why_not = unsupported_kind(url)
    if why_not is not None:
        sys.stderr.write(f"DATABASE_URL: {why_not}\n")
        return 2
    upgrade_or_exit(url)
    sys.stdout.write(f"migrations applied to {describe(url)}\n")
    return 0


def _first_line(exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return (text.strip().splitlines() or ["unreachable"])[0][:300]


if __name__ == "__main__":
    sys.exit(main())
