"""Every secret a config points at, found from the models' types, and whether this machine has it.

A field typed ``EnvRef``, ``EnvText`` or ``SecretFile`` (``siaga.config.types``) is a reference: to an
environment variable, to text holding ``${NAME}`` parts, or to a file siaga reads when it starts
(a password, a token, an SSH key, a CA certificate). :func:`secret_references` lists them all, with
where they sit in the file; :func:`missing_secrets` says which of them cannot be had here. ``siaga
config check`` warns about them (``--strict``: exit 2) and ``siaga serve`` refuses to start.
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from siaga.config.errors import Loc
from siaga.config.types import ENV_PART, SecretUse
from siaga.i18n.messages import Message


@dataclass(frozen=True)
class Reference:
    """One reference of the config: ``how`` is ``env``, ``text`` or ``file``."""

    loc: Loc
    how: str
    value: str


def _use_in(annotation: Any) -> str | None:
    """The SecretUse marked anywhere in a field's type (inside Optional, dict values, lists)."""
    if typing.get_origin(annotation) is typing.Annotated:
        for meta in annotation.__metadata__:
            if isinstance(meta, SecretUse):
                return meta.how
    for arg in typing.get_args(annotation):
        if arg is not type(None) and not isinstance(arg, str | int | float | bool):
            found = _use_in(arg)
            if found is not None:
                return found
    return None


def _field_use(model: type[BaseModel], name: str) -> str | None:
    info = model.model_fields[name]
    for meta in info.metadata:
        if isinstance(meta, SecretUse):
            return meta.how
    return _use_in(info.annotation)


def _walk(value: Any, loc: Loc, how: str | None) -> Iterator[Reference]:
    if isinstance(value, BaseModel):
        cls = type(value)
        for name, info in cls.model_fields.items():
            child = getattr(value, name)
            if child is None:
                continue
            yield from _walk(child, (*loc, info.alias or name), _field_use(cls, name))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, (*loc, i), how)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*loc, str(key)), how)
    elif isinstance(value, str) and how is not None:
        yield Reference(loc, how, value)


def secret_references(cfg: BaseModel) -> list[Reference]:
    """Every ``${ENV}`` and secret file reference of ``cfg``, in the order of the models' fields."""
    return list(_walk(cfg, (), None))


def _unset(text: str, environ: Mapping[str, str]) -> list[str]:
    return [m.group(1) for m in ENV_PART.finditer(text) if m.group(1) not in environ]


def missing_secrets(
    cfg: BaseModel, base_dir: Path, environ: Mapping[str, str] | None = None
) -> list[tuple[Loc, Message]]:
    """``(loc, message)`` for every reference this machine cannot resolve: an unset variable, a file that
    is absent or unreadable (relative paths from ``base_dir``, the config's folder)."""
    env = os.environ if environ is None else environ
    out: list[tuple[Loc, Message]] = []
    for ref in secret_references(cfg):
        if ref.how in ("env", "text"):
            for name in _unset(ref.value, env):
                out.append((ref.loc, Message("config.secret.env_unset", {"name": name})))
            continue
        path = Path(ref.value)
        if not path.is_absolute():
            path = base_dir / path
        if not path.exists():
            out.append((ref.loc, Message("config.secret.no_file", {"path": str(path)})))
        elif not path.is_file():
            out.append((ref.loc, Message("config.secret.not_file", {"path": str(path)})))
        elif not os.access(path, os.R_OK):
            out.append((ref.loc, Message("config.secret.unreadable", {"path": str(path)})))
    return out


__all__ = ["Reference", "missing_secrets", "secret_references"]
