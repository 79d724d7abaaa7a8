"""``siaga demo``: siaga on the embedded Bontang example, in a folder of its own."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import typer

from siaga.cli.common import fail, load_or_exit
from siaga.cli.serve_cmd import LogFormat, LogLevel, start, with_web
from siaga.i18n import _

DEMO_DIR = "siaga-demo"
# Secret files the demo does not fake: nothing in the demo uses them (its backups go to local folders).
_NOT_FAKED = ("identity_file", "known_hosts_file")
_SECRET_PATH = re.compile(r"(?P<key>\w+_file): /etc/siaga/(?P<rest>[^\s,}]+)")
# The demo backs up for real, with restic, into folders of its own: the colocation's SFTP server becomes a
# folder (still counted off site, so the dashboard shows what a verified off-site copy looks like), the NAS
# another; the portal's files are a few sample files; the database job is left out (no PostgreSQL to dump).
_SFTP_TARGET = re.compile(r"    type: sftp\n(?:    (?:host|port|user|path|identity_file|known_hosts_file):.*\n)+")
_NAS_PATH = re.compile(r"    path: /mnt/nas-1/restic/bontang\n    password: \$\{SIAGA_NAS_RESTIC_PASSWORD\}\n")
_PORTAL_PATHS = re.compile(r"    paths: \[/var/www/bontangkota, /etc/nginx\]\n    exclude: \[\"/var/www/bontangkota/")
_DB_JOB = re.compile(r"  - id: db-utama\n(?:    .*\n)+")
DEMO_FILES: dict[str, str] = {
    "data/www/bontangkota/index.php": "<?php echo 'Selamat datang di portal Kota Bontang';\n",
    "data/www/bontangkota/uploads/pengumuman-banjir.txt": "Pengumuman: waspada hujan deras 16 Juli 2025.\n",
    "data/www/bontangkota/tema/gaya.css": "body { font-family: sans-serif; }\n",
    "data/nginx/nginx.conf": "server { listen 80; server_name bontangkota.go.id; root /var/www/bontangkota; }\n",
}


def example_text() -> str:
    """The embedded example site (examples/bontang.yaml) as shipped in the package."""
    return (resources.files("siaga") / "examples" / "bontang.yaml").read_text(encoding="utf-8")


def demo_text(example: str, root: Path | None = None) -> tuple[str, dict[str, str]]:
    """The example with its secret files under the demo folder's secrets/ (the example keeps /etc/siaga).

    Returns the text and the demo secret files to write (path relative to the demo folder -> content), so
    the demo starts without warnings about files a newcomer does not have.
    """
    files: dict[str, str] = {}

    def local(match: re.Match[str]) -> str:
        path = "secrets/" + match["rest"].removeprefix("secrets/")
        if match["key"] not in _NOT_FAKED:
            files.setdefault(path, f"demo-{Path(path).name}")
        return f"{match['key']}: {path}"

    text = _SECRET_PATH.sub(local, example)
    return _demo_backups(text, files, (root or Path(DEMO_DIR)).resolve()), files


def _demo_backups(text: str, files: dict[str, str], here: Path) -> str:
    """The example's backups as the demo runs them: restic into folders under the demo folder ``here``."""
    text = _SFTP_TARGET.sub(
        "    type: local\n    path: backup/colo-kaltim\n"
        "    offsite: true   # siaga demo: this folder stands in for the colocation's SFTP server\n", text, count=1)
    if _NAS_PATH.search(text):
        text = _NAS_PATH.sub("    path: backup/nas-lokal\n    password_file: secrets/restic/nas-lokal.pass\n",
                             text, count=1)
        files.setdefault("secrets/restic/nas-lokal.pass", "demo-nas-lokal.pass")
    text = _PORTAL_PATHS.sub(
        f"    paths: [{here}/data/www/bontangkota, {here}/data/nginx]\n    exclude: [\"{here}/data/www/bontangkota/",
        text, count=1)
    text = _DB_JOB.sub("", text, count=1)
    files.update(DEMO_FILES)
    return text


def _scenario_notes(until_s: float) -> list[tuple[float, str]]:
    """What the simulator's scenario tells in its first ``until_s`` seconds."""
    try:
        from siaga.sources.simulator import load_scenario

        steps = load_scenario().steps
    except Exception:  # the banner does without the story rather than fail
        return []
    return [(s.at, _(s.note)) for s in steps if s.note and s.at <= until_s]


def _has_command(name: str) -> bool:
    from siaga.cli.main import app

    return any(c.name == name for c in app.registered_commands)


def banner(config_path: Path, site_name: str, url: str, store: str, duration: float | None) -> str:
    """What the demo prints before it starts: where things are, what happens, what to look at."""
    lines = [
        _("siaga demo: {site} (the example site, examples/bontang.yaml)").format(site=site_name),
        "  " + _("config     {path}   (rewritten from the example at every start)").format(path=config_path),
        "  " + _("store      {url}").format(url=store),
        "  " + _("health     {url}").format(url=f"{url}/healthz"),
        "  " + _("messages   logged here, not sent: nothing leaves this machine"),
        "  " + _("backups    one backup and one restore drill with restic at start, into {path}").format(
            path=config_path.parent / "backup"),
    ]
    for command in ("inventory", "impact R1"):
        if _has_command(command.split()[0]):
            lines.append("  " + _("try        {command}").format(command=f"siaga {command} --config {config_path}"))
    if duration is None:
        lines.append(_("Stop with Ctrl-C."))
    else:
        lines.append(_("Stops by itself after {seconds} s.").format(seconds=f"{duration:g}"))
    notes = _scenario_notes(60)
    if notes:
        lines.append(_("In the first minute (the rain over Bontang of 16 July 2025, replayed):"))
        lines += [f"  {at:>3.0f} s  {note}" for at, note in notes]
        lines.append("  " + _("a leak above rack R1 fires a critical alert: the people on call are paged at once "
                              "(\"demo: would send on telegram to ...\" in the log, recorded as not sent); "
                              "acknowledge it in the dashboard:"))
    return "\n".join(lines)


def demo(
    directory: Path = typer.Option(Path(DEMO_DIR), "--dir", help=_("Folder for the demo's config and data.")),
    host: str | None = typer.Option(None, "--host", help=_("Address to listen on (default: the example's).")),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help=_("TCP port (default: the example's).")
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0, help=_("Stop by itself after this many seconds.")
    ),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help=_("json lines or text, to stderr.")),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", help=_("Least important level logged.")),
) -> None:
    from siaga import netguard
    from siaga.store import database_url, describe_url

    netguard.install(force=True)  # the demo never sends anything off this machine
    config_path = directory / "siaga.yaml"
    try:
        text, files = demo_text(example_text(), directory)
        directory.mkdir(parents=True, exist_ok=True)
        config_path.write_text(text, encoding="utf-8")
        for name, content in files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content + "\n", encoding="utf-8")
            path.chmod(0o600)
    except OSError as exc:
        fail(_("cannot write the demo config {path}: {reason}").format(path=config_path, reason=exc.strerror or exc))
    loaded = with_web(load_or_exit(config_path), host, port)
    cfg = loaded.config
    url = f"http://{cfg.web.host}:{cfg.web.port}"
    typer.echo(banner(config_path, cfg.site.name, url, describe_url(database_url(loaded)), duration))
    start(
        loaded, log_format=log_format.value, log_level=log_level.value, duration=duration, demo=True,
        host=host, port=port,
    )


def register(app: typer.Typer) -> None:
    app.command("demo", help=_("Run siaga on the Bontang example site (SQLite in --dir); Ctrl-C stops it."))(demo)
