"""``siaga db``: migrate the store and say where it stands."""

from __future__ import annotations

import typer

from siaga.cli.common import ConfigOption, fail, load_or_exit
from siaga.i18n import _

# The store (SQLAlchemy, Alembic) is imported inside the commands: other commands start faster.

app = typer.Typer(help=_("The store (SQLite or PostgreSQL): migrations and status."), no_args_is_help=True)


def upgrade(config: str = ConfigOption) -> None:
    from siaga.store import StoreError, check_connection, create_engine_for, current, database_url, describe_url
    from siaga.store import upgrade as store_upgrade

    loaded = load_or_exit(config)
    try:
        url = database_url(loaded)
        engine = create_engine_for(url)
        check_connection(engine)
        before = current(engine)
        after = store_upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    revisions = ", ".join(sorted(after))
    if before == after:
        typer.echo(_("{url}: already up to date ({revisions})").format(url=describe_url(url), revisions=revisions))
    else:
        typer.echo(_("{url}: upgraded to {revisions}").format(url=describe_url(url), revisions=revisions))


def show_current(config: str = ConfigOption) -> None:
    from siaga.store import StoreError, check_connection, create_engine_for, current, database_url, describe_url
    from siaga.store import script_heads as code_heads
    from siaga.store.migrate import known_revisions

    loaded = load_or_exit(config)
    try:
        url = database_url(loaded)
        engine = create_engine_for(url)
        check_connection(engine)
        at = current(engine)
    except StoreError as exc:
        fail(str(exc))
    missing = code_heads() - at
    unknown = at - known_revisions()
    typer.echo(describe_url(url))
    typer.echo(_("at: {revisions}").format(revisions=", ".join(sorted(at)) or _("(empty: never migrated)")))
    if unknown:
        typer.echo(
            _("unknown to this siaga: {revisions} (migrated by a newer version?)").format(
                revisions=", ".join(sorted(unknown))
            )
        )
    elif missing:
        typer.echo(
            _("pending: {revisions} (run `siaga db upgrade`)").format(revisions=", ".join(sorted(missing)))
        )
    else:
        typer.echo(_("up to date"))


app.command("upgrade", help=_("Apply every pending migration to the store named by the config."))(upgrade)
app.command(
    "current", help=_("Print the store's URL (password hidden), its revisions and whether migrations are pending.")
)(show_current)
