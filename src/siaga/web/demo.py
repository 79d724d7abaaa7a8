"""``siaga demo``: an account to log in to the dashboard with, its password new at every start.

Registered in ``DEMO_COMPONENTS``; the factory runs before anything starts, prints where to log in and
returns no component.
"""

from __future__ import annotations

from typing import Any

import typer

from siaga.i18n import _
from siaga.web.auth import accounts
from siaga.web.auth.passwords import new_secret

DEMO_USER = "demo"


def component(ctx: Any) -> None:
    password = new_secret(9)
    now = ctx.clock()
    with ctx.engine.begin() as conn:
        if accounts.get_user(conn, DEMO_USER) is None:
            accounts.add_user(conn, DEMO_USER, password, "admin", now, display_name="Demo", actor="demo")
        else:
            accounts.set_password(conn, DEMO_USER, password, now, actor="demo")
    url = f"http://{ctx.host}:{ctx.port}"
    typer.echo("  " + _("dashboard {url}   log in as {user} / {password}").format(
        url=f"{url}/", user=DEMO_USER, password=password))
    typer.echo("  " + _("API docs  {url}").format(url=f"{url}/api/v1/docs"))
