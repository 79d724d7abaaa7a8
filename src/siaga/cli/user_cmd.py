"""``siaga user`` and ``siaga token``: people who log in to the dashboard, and API tokens."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from sqlalchemy import Engine

from siaga.cli.common import ConfigOption, ExitCode, JsonOption, LangOption, fail, load_or_exit, use_language
from siaga.i18n import _
from siaga.store import StoreError, check_connection, create_engine_for, database_url, upgrade, utcnow
from siaga.web.auth import accounts
from siaga.web.auth.roles import Role, parse_scopes

user_app = typer.Typer(help="People who log in to the dashboard (viewer, operator, admin).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens with scopes (read, ack, admin, ingest); shown once.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


def _engine(config: str, lang: str | None = None) -> Engine:
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    try:
        engine = create_engine_for(database_url(loaded))
        check_connection(engine)
        upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    return engine


def _read_password(password_file: Path | None, name: str) -> str:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            fail(f"{password_file}: cannot read the password file: {exc.strerror or exc}", ExitCode.USAGE)
    return str(typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True))


PasswordFile = typer.Option(None, "--password-file", help="Read the password from this file (else it is asked).")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="Login name (letters, digits, '.', '-', '_')."),
    role: Role = typer.Option(Role.viewer, "--role", help="viewer, operator or admin."),
    display_name: str = typer.Option(None, "--name", help="Full name shown in the dashboard."),
    language: str = typer.Option(None, "--language", help="id or en (default: the site's)."),
    password_file: Path = PasswordFile,
    config: str = ConfigOption,
) -> None:
    """Create a person who can log in."""
    engine = _engine(config)
    password = _read_password(password_file, name)
    try:
        with engine.begin() as conn:
            user = accounts.add_user(conn, name, password, role, utcnow(), display_name=display_name,
                                     language=language, actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"added {user.name} ({user.role.value})")


@user_app.command("list")
def user_list(as_json: bool = JsonOption, lang: str | None = LangOption, config: str = ConfigOption) -> None:
    """List the people who can log in."""
    engine = _engine(config, lang)
    with engine.connect() as conn:
        users = accounts.list_users(conn)
    if as_json:
        typer.echo(json.dumps([{"name": u.name, "display_name": u.display_name, "role": u.role.value,
                                "language": u.language, "disabled": u.disabled,
                                "created_at": u.created_at.isoformat()} for u in users], indent=1, ensure_ascii=False))
        return
    if not users:
        typer.echo(_("no accounts yet: siaga user add NAME --role admin"))
    for u in users:
        flag = " " + _("(disabled)") if u.disabled else ""
        typer.echo(f"{u.name:<20} {u.role.value:<9} {u.display_name or ''}{flag}")


@user_app.command("passwd")
def user_passwd(name: str, password_file: Path = PasswordFile, config: str = ConfigOption) -> None:
    """Set a new password (ends the person's sessions)."""
    engine = _engine(config)
    password = _read_password(password_file, name)
    try:
        with engine.begin() as conn:
            accounts.set_password(conn, name, password, utcnow(), actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"password of {name} changed")


@user_app.command("role")
def user_role(name: str, role: Role = typer.Argument(..., help="viewer, operator or admin."),
              config: str = ConfigOption) -> None:
    """Change a person's role."""
    engine = _engine(config)
    try:
        with engine.begin() as conn:
            user = accounts.set_role(conn, name, role, utcnow(), actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"{user.name} is now {user.role.value}")


@user_app.command("disable")
def user_disable(name: str, config: str = ConfigOption) -> None:
    """Stop a person from logging in (ends their sessions)."""
    engine = _engine(config)
    try:
        with engine.begin() as conn:
            accounts.set_disabled(conn, name, True, utcnow(), actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"{name} disabled")


@user_app.command("enable")
def user_enable(name: str, config: str = ConfigOption) -> None:
    """Let a disabled person log in again."""
    engine = _engine(config)
    try:
        with engine.begin() as conn:
            accounts.set_disabled(conn, name, False, utcnow(), actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"{name} enabled")


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="What the token is for, e.g. grafana."),
    scope: list[str] = typer.Option(["read"], "--scope", help="read, ack, admin or ingest; repeat for several."),
    config: str = ConfigOption,
) -> None:
    """Create an API token and print it once (only its hash is kept)."""
    engine = _engine(config)
    try:
        scopes = parse_scopes(scope)
        with engine.begin() as conn:
            secret, token = accounts.create_token(conn, name, scopes, utcnow(), actor="cli")
    except (accounts.AccountError, ValueError) as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"token {token.id} ({', '.join(sorted(s.value for s in token.scopes))}); keep it, it is shown once:")
    typer.echo(secret)


@token_app.command("list")
def token_list(as_json: bool = JsonOption, lang: str | None = LangOption, config: str = ConfigOption) -> None:
    """List API tokens (never their secrets)."""
    engine = _engine(config, lang)
    with engine.connect() as conn:
        tokens = accounts.list_tokens(conn)
    if as_json:
        when = {"created_at", "expires_at", "last_used_at", "revoked_at"}
        typer.echo(json.dumps([
            {"id": t.id, "name": t.name, "prefix": t.prefix, "scopes": sorted(s.value for s in t.scopes),
             "created_by": t.created_by, **{k: (getattr(t, k).isoformat() if getattr(t, k) else None) for k in when}}
            for t in tokens], indent=1, ensure_ascii=False))
        return
    if not tokens:
        typer.echo(_("no API tokens"))
    for t in tokens:
        state = _("revoked") if t.revoked_at else _("active")
        scopes = ",".join(sorted(s.value for s in t.scopes))
        typer.echo(f"{t.id:>4} {t.prefix}…  {t.name:<20} {scopes:<20} {state}")


@token_app.command("revoke")
def token_revoke(token_id: int, config: str = ConfigOption) -> None:
    """Revoke an API token."""
    engine = _engine(config)
    try:
        with engine.begin() as conn:
            accounts.revoke_token(conn, token_id, utcnow(), actor="cli")
    except accounts.AccountError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(f"token {token_id} revoked")
