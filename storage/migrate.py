"""Schema migrations (alembic): applied on start, and by `python -m storage.migrate`."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An alembic configuration for `database_url`, without an alembic.ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Bring the schema of `database_url` to the newest revision."""
    command.upgrade(alembic_config(database_url), "head")


def main() -> None:
    """Apply migrations to DATABASE_URL (or --database-url)."""
    parser = argparse.ArgumentParser(description="Apply database migrations.")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "sqlite:///./data/rating.db"),
        help="defaults to DATABASE_URL, else the embedded SQLite file",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    upgrade(args.database_url)
    logging.getLogger(__name__).info("migrations applied")


if __name__ == "__main__":
    main()
