"""The words every config model is written in: ``Strict``, ``Slug``, ``Duration``, ``Seconds`` and the
secret references (``EnvRef``, ``SecretFile``, ``SecretPairs``, ``SecretRef``).

This module imports nothing of siaga: every config module builds on it, none of them on each other's
base classes, so there is no import cycle in ``siaga.config``.

- **One duration grammar** everywhere a duration appears: ``90s``, ``5m``, ``1h30m``, ``2d``, ``1w``,
  ``1.5h``, ``500ms`` (parts in falling order, each unit once; ``min`` is ``m``), or a number of seconds.
  ``Duration`` holds it as a ``timedelta``; ``Seconds`` as a float of seconds, for the options whose
  name ends in ``_s`` and the rule settings that count in seconds. Both read the same text.
- **One secret vocabulary**: a secret is never written inline. ``x: ${ENV}`` (``EnvRef``: the whole value
  is one reference) or ``x_file: /path`` (``SecretFile``: read when used, relative to the config's
  folder). A model lists its pairs in ``secret_pairs`` (``SecretPairs`` checks them: not both; one of them
  when required). Other text that may hold ``${ENV}`` parts (a database URL) is ``EnvText``.
  :func:`siaga.config.secret_refs.secret_references` finds every one of them in a config.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from siaga.config.errors import Refusal

SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

Slug = Annotated[
    str,
    Field(pattern=SLUG, description="A short id chosen by you: letters, digits, '-', '_' or '.'."),
]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- durations ------------------------------------------------------------------------------------

DURATION_HINT = "write 90s, 5m, 1h30m, 2d or 1w, or a number of seconds"
_UNITS: dict[str, float] = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|w|d|h|m|s)")
_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")


@dataclass(frozen=True)
class DurationText:
    """Marks a field as a duration (docs/config.md shows its type as ``duration``)."""

    seconds: bool = False


def _duration_error(value: Any) -> ValueError:
    return Refusal("config.duration", value=repr(value))


def parse_duration(value: Any) -> dt.timedelta:
    """The one duration grammar: ``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"``, ``"1w"``, ``"1.5h"``, ``"500ms"``,
    or a number of seconds (``90``, ``"90"``, ``1.5``); a ``timedelta`` passes through. Never negative."""
    if isinstance(value, dt.timedelta):
        if value < dt.timedelta(0):
            raise Refusal("config.duration.negative")
        return value
    if isinstance(value, bool):
        raise _duration_error(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise _duration_error(value)
        if value < 0:
            raise Refusal("config.duration.negative")
        return dt.timedelta(seconds=float(value))
    if not isinstance(value, str):
        raise _duration_error(value)
    if _NUMBER.match(value):
        return dt.timedelta(seconds=float(value))
    total, pos, last = 0.0, 0, math.inf
    text = value.rstrip()
    while pos < len(text):
        m = _PART.match(text, pos)
        if m is None:
            raise _duration_error(value)
        unit = "m" if m.group(2) == "min" else m.group(2)
        size = _UNITS[unit]
        if size >= last:
            raise Refusal("config.duration.order", value=repr(value))
        last = size
        total += float(m.group(1)) * size
        pos = m.end()
    if last is math.inf:
        raise _duration_error(value)
    return dt.timedelta(seconds=total)


def parse_seconds(value: Any) -> float:
    """:func:`parse_duration` in seconds."""
    return parse_duration(value).total_seconds()


def format_duration(value: dt.timedelta) -> str:
    """A timedelta the way it is written in siaga.yaml: ``1d4h``, ``15m``, ``42s`` (whole seconds)."""
    total = int(value.total_seconds())
    if total <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts)


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration), DurationText()]
"""A duration held as a ``timedelta``."""

Seconds = Annotated[float, BeforeValidator(parse_seconds), DurationText(seconds=True)]
"""A duration held as float seconds (the same grammar as :data:`Duration`)."""


# --- secrets --------------------------------------------------------------------------------------

ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
ENV_PART = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_key|apikey|private_key)$", re.IGNORECASE)
"""Keys whose value is a secret: written inline, they are refused."""


@dataclass(frozen=True)
class SecretUse:
    """Marks a field that points at something siaga reads when it starts.

    ``env``: the value is one ``${NAME}``; ``text``: ``${NAME}`` parts in it are expanded; ``file``: a file
    that must exist on this machine (a secret, a key, a certificate)."""

    how: str


def _env_only(value: str, info: ValidationInfo) -> str:
    if not ENV_REF.match(value.strip()):
        name = info.field_name or "this value"
        raise Refusal("config.secret.env_only", name=name, env="${SIAGA_...}", file=f"{name}_file")
    return value.strip()


EnvRef = Annotated[str, AfterValidator(_env_only), SecretUse("env")]
"""A secret given as ``${NAME}``: the environment variable NAME holds it."""

EnvText = Annotated[str, SecretUse("text")]
"""Text whose ``${NAME}`` parts are taken from the environment when used (a URL with a password)."""

SecretFile = Annotated[str, SecretUse("file")]
"""A file siaga reads (a secret, a key, a certificate); relative paths from the config's folder."""


class SecretPairs(Strict):
    """A model holding secrets as ``x: ${ENV}`` / ``x_file: path`` pairs, listed in ``secret_pairs``
    (name -> required). One validator checks every pair of every such model."""

    secret_pairs: ClassVar[dict[str, bool]] = {}

    @model_validator(mode="before")
    @classmethod
    def _secret_pairs(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for name, required in cls.secret_pairs.items():
                inline, path = values.get(name), values.get(f"{name}_file")
                if inline is not None and path is not None:
                    raise Refusal("config.secret.both", name=name, file=f"{name}_file")
                if required and inline is None and path is None:
                    raise Refusal("config.secret.none", file=f"{name}_file", env=f"{name}: ${{ENV_VAR}}")
        return values

    def secret_ref(self, name: str) -> SecretRef | None:
        """Where the secret ``name`` comes from, or None when neither of the pair is set."""
        inline, path = getattr(self, name, None), getattr(self, f"{name}_file", None)
        if inline is not None:
            return SecretRef(name, env=str(inline).strip()[2:-1])
        if path is not None:
            return SecretRef(f"{name}_file", file=str(path))
        return None

    def read_secret(self, name: str, base_dir: Any = None, environ: Any = None) -> str | None:
        """The secret ``name`` itself (None when neither of the pair is set); relative files from ``base_dir``.
        Raises :class:`siaga.config.secrets.SecretError` when it cannot be had."""
        ref = self.secret_ref(name)
        return None if ref is None else ref.read(base_dir, environ)


@dataclass(frozen=True)
class SecretRef:
    """Where one secret comes from: the environment variable ``env`` or the file ``file``."""

    key: str
    env: str | None = None
    file: str | None = None

    def read(self, base_dir: Any = None, environ: Any = None) -> str:
        """The secret itself; :class:`siaga.config.secrets.SecretError` when it cannot be had."""
        from siaga.config.secrets import expand, read_secret_file

        if self.env is not None:
            return expand("${" + self.env + "}", environ)
        assert self.file is not None
        return read_secret_file(self.file, base_dir)


__all__ = [
    "DURATION_HINT",
    "ENV_PART",
    "ENV_REF",
    "SECRET_KEY",
    "SLUG",
    "Duration",
    "DurationText",
    "EnvRef",
    "EnvText",
    "Seconds",
    "SecretFile",
    "SecretPairs",
    "SecretRef",
    "SecretUse",
    "Slug",
    "Strict",
    "format_duration",
    "parse_duration",
    "parse_seconds",
]
