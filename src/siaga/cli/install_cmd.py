"""``siaga install-service``: write the shipped systemd unit (with this installation's paths), the sysusers
file and the example environment file, then say what to run next.

The files come from ``deploy/systemd/`` (a wheel carries them as ``siaga/deploy/systemd/``). ``--root`` writes
under another directory (tests, packagers building an image); ``--dry-run`` prints instead of writing.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import typer

import siaga
from siaga.cli.common import ExitCode, fail
from siaga.i18n import _

UNIT_PATH = "etc/systemd/system/siaga.service"
SYSUSERS_PATH = "usr/lib/sysusers.d/siaga.conf"
ENV_PATH = "etc/siaga/siaga.env"
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")


@dataclass(frozen=True)
class ServiceFile:
    path: str  # relative to the root
    text: str
    mode: int
    keep_existing: bool = False  # secrets someone filled in are never overwritten


def shipped_dir() -> Path:
    """Where this installation keeps the shipped systemd files (the wheel's package data, else the checkout)."""
    here = Path(siaga.__file__).resolve().parent
    for candidate in (here / "deploy" / "systemd", here.parents[1] / "deploy" / "systemd"):
        if (candidate / "siaga.service").is_file():
            return candidate
    fail(_("the shipped systemd unit is missing from this installation ({path})").format(path=here))


def this_siaga() -> str:
    """The ``siaga`` executable of this installation (the one beside its Python, e.g. /opt/siaga/venv/bin)."""
    beside = Path(sys.executable).parent / "siaga"
    found = str(beside) if beside.is_file() else shutil.which("siaga")
    if not found:
        fail(_("cannot find this installation's siaga executable"))
    return os.path.abspath(found)


def render_unit(text: str, *, executable: str, config: str, user: str) -> str:
    """The shipped unit with ExecStart, User and Group of this installation."""
    out = ["# Written by `siaga install-service` from the unit siaga ships (deploy/systemd/siaga.service).",
           "# Details: docs/running.md, docs/deploy.md.", ""]
    for line in text[text.index("[Unit]"):].splitlines():
        if line.startswith("ExecStart="):
            line = f"ExecStart={executable} serve --config {config} --log-format json"
        elif line.startswith(("User=", "Group=")):
            line = f"{line.split('=', 1)[0]}={user}"
        out.append(line)
    return "\n".join(out) + "\n"


def service_files(source: Path, *, executable: str, config: str, user: str) -> list[ServiceFile]:
    unit = render_unit((source / "siaga.service").read_text(encoding="utf-8"), executable=executable,
                       config=config, user=user)
    sysusers = (source / "siaga.sysusers").read_text(encoding="utf-8").replace("\nu siaga ", f"\nu {user} ")
    env = (source / "siaga.env.example").read_text(encoding="utf-8")
    return [ServiceFile(UNIT_PATH, unit, 0o644), ServiceFile(SYSUSERS_PATH, sysusers, 0o644),
            ServiceFile(ENV_PATH, env, 0o600, keep_existing=True)]


def _write(target: Path, item: ServiceFile) -> None:
    target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, item.mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(item.text)
    os.chmod(target, item.mode)  # an existing file keeps its old mode otherwise


def install_service(
    user: str = typer.Option("siaga", "--user", help=_("The system user siaga runs as.")),
    config: str = typer.Option("/etc/siaga/siaga.yaml", "--config", "-c", help=_("The config the service reads.")),
    root: Path = typer.Option(Path("/"), "--root", help=_("Write under this directory (tests, packagers).")),
    dry_run: bool = typer.Option(False, "--dry-run", help=_("Print what would be written; write nothing.")),
) -> None:
    """Write the systemd unit, the sysusers file and the secrets file, then say what to run next."""
    if not _USER.match(user):
        fail(_("--user {user!r} is not a valid system user name").format(user=user), ExitCode.USAGE)
    if not config.startswith("/"):
        fail(_("--config must be an absolute path (got {path!r})").format(path=config), ExitCode.USAGE)
    files = service_files(shipped_dir(), executable=this_siaga(), config=config, user=user)
    for item in files:
        target = root / item.path
        if item.keep_existing and target.exists():
            typer.echo(_("kept {path} (it exists; it may hold secrets)").format(path=target))
        elif dry_run:
            typer.echo(_("would write {path} (mode {mode:o}):").format(path=target, mode=item.mode))
            typer.echo("".join(f"    {line}\n" for line in item.text.splitlines()), nl=False)
        else:
            _write(target, item)
            typer.echo(_("wrote {path} (mode {mode:o})").format(path=target, mode=item.mode))
    typer.echo(_("Next, as root:"))
    for step in ("systemd-sysusers",
                 f"install -d -m 0750 -o root -g {user} {os.path.dirname(config)}",
                 _("edit {env} (secrets) and {config}").format(env="/" + ENV_PATH, config=config),
                 f"siaga config check --strict --config {config}",
                 "systemctl daemon-reload",
                 "systemctl enable --now siaga",
                 "systemctl status siaga; journalctl -u siaga -f"):
        typer.echo(f"  {step}")


def register(app: typer.Typer) -> None:
    app.command("install-service", help=_("Write the systemd unit, sysusers and secrets files of this "
                                          "installation; --dry-run prints them."))(install_service)
