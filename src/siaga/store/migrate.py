"""Alembic, run from code: the migrations ship inside the package, no alembic.ini on the user's side.

Every feature's migration starts from :data:`BASE_REVISION` with its own ``branch_labels``;
:func:`upgrade` goes to ``heads`` so the branches never have to chain on each other.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from siaga.i18n import _
from siaga.store.engine import StoreError, first_error_line

BASE_REVISION = "0001_base"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Taken by `upgrade` on PostgreSQL so that two siaga processes starting together migrate one at a time.
_PG_MIGRATION_LOCK = 0x5A1A6A


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (and at ``connection`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def script_heads() -> set[str]:
    """The head revisions the code knows (one per feature branch)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revisions() -> set[str]:
    """Every revision the code ships, of every feature branch."""
    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current(engine: Engine) -> set[str]:
    """The revisions the database is at (empty for a database never migrated)."""
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    except DBAPIError as exc:
        raise StoreError(_("cannot read the schema version: {reason}").format(reason=first_error_line(exc))) from None


def pending(engine: Engine) -> set[str]:
    """The heads the code has and the database does not yet (empty when up to date)."""
    return script_heads() - current(engine)


def upgrade(engine: Engine, target: str = "heads") -> set[str]:
    """Apply every pending migration (to ``heads`` by default); return the revisions now current."""
    unknown = current(engine) - known_revisions()
    if unknown:
        raise StoreError(
            _("the database is at {revisions}, which this siaga does not know: was it migrated by a newer version?")
            .format(revisions=", ".join(sorted(unknown)))
        )
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            command.upgrade(alembic_config(conn), target)
    except CommandError as exc:
        raise StoreError(_("cannot migrate the database: {reason}").format(reason=exc)) from None
    except DBAPIError as exc:
        raise StoreError(_("migration failed: {reason}").format(reason=first_error_line(exc))) from None
    return current(engine)
