"""Alembic environment: runs migrations on the engine handed in by newsletter.storage.db."""

from alembic import context
from sqlmodel import SQLModel

import newsletter.storage.models  # noqa: F401  (registers the tables)

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # pragma: no cover - only when alembic is called by hand
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///newsletter.db")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
