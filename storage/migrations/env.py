"""Alembic environment: runs migrations on the engine built by `storage.db`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from storage import tables  # noqa: F401  (registers the tables on the metadata)
from storage.db import create_db_engine

config = context.config
engine = create_db_engine(config.attributes["database_url"], pool_size=1)
try:
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together must not run the same migration twice.
            connection.exec_driver_sql("SELECT pg_advisory_lock(81723450)")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
finally:
    engine.dispose()
