"""A restic repository as siaga reaches it: location, -o options, password source, a name safe to print."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from siaga.config.backup import Target, TargetType
from siaga.config.secrets import SecretError, expand

_URL_SECRET = re.compile(r"(://[^/:@]+:)([^@/]+)(@)")


def mask_url(text: str) -> str:
    """``rest:https://u:secret@host/`` -> ``rest:https://u:***@host/``."""
    return _URL_SECRET.sub(r"\1***\3", text)


@dataclass(frozen=True)
class Repository:
    """Where restic finds one repository and how it opens it."""

    id: str
    location: str  # the -r argument, e.g. /srv/restic or sftp:user@host:/path
    options: tuple[str, ...] = ()  # -o key=value
    password_file: str | None = None
    password_env: str | None = None  # the NAME of ${NAME}
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment (none secret)
    offsite: bool = True

    @property
    def display(self) -> str:
        """The repository's name safe for logs and messages."""
        return f"{self.id} ({mask_url(self.location)})"

    @contextlib.contextmanager
    def password_path(self, environ: Mapping[str, str] | None = None) -> Iterator[str]:
        """A file restic reads the password from (RESTIC_PASSWORD_FILE, always): the configured one, or a
        private temporary file holding ``${ENV}`` for the duration of one run."""
        if self.password_file is not None:
            if not Path(self.password_file).is_file():
                raise SecretError(f"password file {self.password_file} of target {self.id} does not exist")
            yield self.password_file
            return
        if self.password_env is None:
            raise SecretError(f"target {self.id} has no password")
        secret = expand("${" + self.password_env + "}", environ)
        fd, path = tempfile.mkstemp(prefix="siaga-restic-", suffix=".pass")
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, secret.encode())
            os.close(fd)
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)


def sftp_command(target: Target, base_dir: Path | None = None) -> str:
    """The ssh command restic runs for an sftp target (port, identity, pinned host key, no prompts)."""
    args = [
        "ssh",
        "-p",
        str(target.port),
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=4",
    ]
    if target.identity_file:
        args += ["-i", str(_resolve(target.identity_file, base_dir)), "-o", "IdentitiesOnly=yes"]
    if target.known_hosts_file:
        args += [
            "-o",
            f"UserKnownHostsFile={_resolve(target.known_hosts_file, base_dir)}",
            "-o",
            "StrictHostKeyChecking=yes",
        ]
    dest = f"{target.user}@{target.host}" if target.user else str(target.host)
    args += [dest, "-s", "sftp"]
    return shlex.join(args)


def _resolve(path: str, base_dir: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else base_dir / p


def repository_for(target: Target, base_dir: Path | None = None) -> Repository:
    """The :class:`Repository` a configured target stands for."""
    options = list(target.restic_options)
    if target.type is TargetType.local:
        location = str(_resolve(str(target.path), base_dir))
    elif target.type is TargetType.sftp:
        dest = f"{target.user}@{target.host}" if target.user else str(target.host)
        location = f"sftp:{dest}:{target.path}"
        options.insert(0, f"sftp.command={sftp_command(target, base_dir)}")
    else:
        location = expand(str(target.url)) if str(target.url).startswith("${") else str(target.url)
    ref = target.secret_ref("password")
    password_env = ref.env if ref is not None else None
    password_file = str(_resolve(ref.file, base_dir)) if ref is not None and ref.file is not None else None
    return Repository(
        id=target.id,
        location=location,
        options=tuple(options),
        password_file=password_file,
        password_env=password_env,
        offsite=target.is_offsite,
    )
