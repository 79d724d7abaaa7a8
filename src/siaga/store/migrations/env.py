"""Alembic environment of siaga's store: the shared MetaData, every feature's tables, batch mode on SQLite.

siaga runs it from code (``siaga.store.upgrade``) with a connection in ``config.attributes``. Without
one (a developer running alembic by hand, see docs/architecture.md) it connects to ``SIAGA_DATABASE_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from siaga.store.schema import load_all_tables, metadata

load_all_tables()
config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("siaga's migrations run online only")
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from siaga.store.engine import create_engine_for

    url = config.get_main_option("sqlalchemy.url") or os.environ.get("SIAGA_DATABASE_URL")
    if not url:
        raise RuntimeError("set SIAGA_DATABASE_URL (or sqlalchemy.url) to run alembic by hand")
    engine = create_engine_for(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


_main()
