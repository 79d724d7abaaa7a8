"""``siaga db``: migrate the store and say where it stands."""

from __future__ import annotations

import typer

from siaga.cli.common import ConfigOption, fail, load_or_exit
from siaga.store import StoreError, check_connection, create_engine_for, current, database_url, describe_url
from siaga.store import script_heads as code_heads
from siaga.store import upgrade as store_upgrade

app = typer.Typer(help="The store (SQLite or PostgreSQL): migrations and status.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(config: str = ConfigOption) -> None:
    """Apply every pending migration to the store named by the config."""
    loaded = load_or_exit(config)
    try:
        url = database_url(loaded)
        engine = create_engine_for(url)
        check_connection(engine)
        before = current(engine)
        after = store_upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    where = describe_url(url)
    if before == after:
        typer.echo(f"{where}: already up to date ({', '.join(sorted(after))})")
    else:
        typer.echo(f"{where}: upgraded to {', '.join(sorted(after))}")


@app.command("current")
def show_current(config: str = ConfigOption) -> None:
    """Print the store's URL (password hidden), its revisions and whether migrations are pending."""
    loaded = load_or_exit(config)
    try:
        url = database_url(loaded)
        engine = create_engine_for(url)
        check_connection(engine)
        at = current(engine)
    except StoreError as exc:
        fail(str(exc))
    missing = code_heads() - at
    typer.echo(f"{describe_url(url)}")
    typer.echo(f"at: {', '.join(sorted(at)) or '(empty: never migrated)'}")
    if missing:
        typer.echo(f"pending: {', '.join(sorted(missing))} (run `siaga db upgrade`)")
    else:
        typer.echo("up to date")
