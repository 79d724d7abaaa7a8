"""The admin token that lets staff post status incidents (until the dashboard's logins take over).

It lives in a file: ``SIAGA_STATUS_TOKEN_FILE``, else ``<data_dir>/status-admin.token``, made on first
use with a random value, readable by its owner only. Send it as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from siaga.config import LoadedConfig

TOKEN_FILENAME = "status-admin.token"


def token_path(loaded: LoadedConfig) -> Path:
    given = os.environ.get("SIAGA_STATUS_TOKEN_FILE")
    if given:
        return Path(given)
    data = Path(loaded.config.store.data_dir).expanduser()
    return (data if data.is_absolute() else loaded.base_dir / data) / TOKEN_FILENAME


def read_or_create_token(path: Path) -> str:
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def token_matches(expected: str, header: str | None) -> bool:
    if not expected or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(expected.encode(), header[len("Bearer "):].strip().encode())
