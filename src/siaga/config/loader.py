"""Read ``siaga.yaml``: YAML with line numbers, pydantic validation, cross checks, secrets policy.

Every problem comes out as a :class:`ConfigProblem` naming the file, the line and the field path.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from siaga.config.errors import ConfigError, ConfigProblem, Loc, Refusal, dotted
from siaga.config.models import SiteConfig
from siaga.config.references import check_references
from siaga.config.types import ENV_REF, SECRET_KEY
from siaga.i18n.messages import Message

URL_PASSWORD = re.compile(r"^[a-z0-9+.-]+://[^/:@]+:([^@/]+)@", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from."""

    config: SiteConfig
    path: Path
    lines: _LineIndex | None = field(default=None, compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def line_of(self, loc: Loc) -> int:
        """The line of ``loc`` in the file (1 when the file's tree is not at hand)."""
        return self.lines.line(loc) if self.lines is not None else 1

    def start_problems(self, environ: Mapping[str, str] | None = None) -> list[ConfigProblem]:
        """What keeps ``siaga serve`` from running this config on this machine, each on its line: every
        ``*_file`` and ``${ENV}`` reference it cannot resolve, and every part only ``siaga demo`` runs."""
        from siaga.config.secret_refs import missing_secrets
        from siaga.config.sources import demo_only_sources

        found = missing_secrets(self.config, self.base_dir, environ) + demo_only_sources(self.config)
        problems = [ConfigProblem.of(str(self.path), self.line_of(loc), dotted(loc), msg) for loc, msg in found]
        return sorted(problems, key=lambda p: p.line)


class _LineIndex:
    """Finds the line of a value (or of a key) in the composed YAML tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, loc: Loc, *, key: bool = False) -> int:
        node = self.root
        if node is None:
            return 1
        best = node.start_mark.line + 1
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        nxt = k if (last and key) else v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                nxt = node.value[part]
            if nxt is None:
                continue  # a tag pydantic adds to its locations: stay on the node we have
            node = nxt
            best = node.start_mark.line + 1
        return best


def _duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[tuple[Loc, int, Message]]:
    out: list[tuple[Loc, int, Message]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            name = str(k.value)
            if name in seen:
                out.append(
                    (
                        (*loc, name),
                        k.start_mark.line + 1,
                        Message("config.duplicate", {"key": repr(name), "first": seen[name]}),
                    )
                )
            else:
                seen[name] = k.start_mark.line + 1
            out += _duplicate_keys(v, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicate_keys(item, (*loc, i))
    return out


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The config model class found at ``loc`` (to suggest a field name)."""
    current: Any = SiteConfig
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        elif isinstance(part, int):
            args = typing.get_args(current)
            if not args:
                return None
            current = args[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _unwrap(arg)
    if origin is list:
        return tp
    return tp


PYDANTIC_KINDS: dict[str, str] = {
    "greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le",
    "string_too_short": "min_length", "string_too_long": "max_length", "too_short": "min_length",
    "too_long": "max_length", "literal_error": "expected", "enum": "expected",
    "string_pattern_mismatch": "pattern", "int_parsing": "", "int_type": "", "int_from_float": "",
    "float_parsing": "", "float_type": "", "bool_parsing": "", "bool_type": "", "string_type": "",
    "list_type": "", "dict_type": "", "model_type": "", "model_attributes_type": "",
}
"""pydantic's error types worded by siaga (``config.value.<type>``), with the ``ctx`` value each names."""


def _message(err: Any, loc: Loc) -> Message | str:
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        name = str(loc[-1])
        if parent is not None:
            close = difflib.get_close_matches(name, list(parent.model_fields), n=1)
            if close:
                return Message("config.unknown_key.close", {"key": repr(name), "close": repr(close[0])})
            return Message("config.unknown_key.known", {"key": repr(name), "known": ", ".join(parent.model_fields)})
        return Message("config.unknown_key", {"key": repr(name)})
    if kind == "missing":
        return Message("config.missing")
    refusal = (err.get("ctx") or {}).get("error")
    if isinstance(refusal, Refusal):
        return refusal.why
    shown = "input" in err and not isinstance(err["input"], dict | list)
    if kind in PYDANTIC_KINDS:
        params: dict[str, Any] = {}
        if PYDANTIC_KINDS[kind]:
            params["limit"] = str((err.get("ctx") or {}).get(PYDANTIC_KINDS[kind], "?"))
        key = f"config.value.{kind}"
        if shown:
            params["got"] = repr(err["input"])
            key += ".got"
        return Message(key, params)
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    shown = "input" in err and not isinstance(err["input"], dict | list)
    if kind not in ("value_error", "assertion_error") and shown:
        msg += f" (got {err['input']!r})"
    return msg


def _clean_loc(raw: tuple[Any, ...], data: Any) -> Loc:
    """Drop the tags pydantic inserts (union members, validators) from an error location."""
    out: list[str | int] = []
    node = data
    for part in raw:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and not isinstance(node, dict | list):
            continue
        elif isinstance(node, dict) and part == node.get("type"):
            continue  # the tag of a discriminated union (checks: http, tcp...): not a key
        elif isinstance(node, dict) and isinstance(part, str) and not any(c in part for c in "[]-"):
            out.append(part)  # a missing or unknown key: name it
            node = None
    return tuple(out)


def _secret_findings(data: Any, loc: Loc = ()) -> list[tuple[Loc, Message]]:
    out: list[tuple[Loc, Message]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            here = (*loc, str(k))
            if isinstance(v, str) and SECRET_KEY.search(str(k)) and not ENV_REF.match(v.strip()):
                out.append((here, Message("config.inline_secret", {
                    "file": f"{k}_file: /etc/siaga/{k}", "env": f"{k}: ${{SIAGA_{str(k).upper()}}}"})))
            elif isinstance(v, str) and URL_PASSWORD.match(v) and not ENV_REF.match(v.strip()):
                out.append((here, Message("config.inline_url_password", {"env": "${SIAGA_DATABASE_URL}"})))
            else:
                out += _secret_findings(v, here)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _secret_findings(v, (*loc, i))
    return out


MAX_ALIAS_VALUES = 100_000
"""YAML aliases (``*name``) may repeat at most this many values in all: a "billion laughs" file is refused."""


def _alias_growth(root: yaml.Node | None, filename: str) -> ConfigProblem | None:
    """How far aliases blow the composed tree up, counted without expanding it (shared nodes counted once
    per use, memoised): a problem when the expanded tree is more than MAX_ALIAS_VALUES larger than the
    file's own nodes, or when an alias refers to a node that holds it."""
    if root is None:
        return None
    expanded: dict[int, int] = {}
    own: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            on_path.discard(key)
            expanded[key] = 1 + sum(expanded[id(c)] for c in children)
            continue
        if key in expanded:
            continue
        if key in on_path:
            line = node.start_mark.line + 1
            return ConfigProblem.of(filename, line, "", Message("config.alias_loop"))
        own.add(key)
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                line = child.start_mark.line + 1
                return ConfigProblem.of(filename, line, "", Message("config.alias_loop"))
            if id(child) not in expanded:
                stack.append((child, False))
    if expanded[id(root)] - len(own) > MAX_ALIAS_VALUES:
        line = root.start_mark.line + 1
        if isinstance(root, yaml.MappingNode):  # name the first section that blows up
            line = next((k.start_mark.line + 1 for k, v in root.value if expanded[id(v)] > MAX_ALIAS_VALUES), line)
        return ConfigProblem.of(filename, line, "", Message("config.alias_bomb", {"count": MAX_ALIAS_VALUES}))
    return None


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (the wheels do): ~10x the pure-Python one, which took a minute for a
site with 20,000 checks."""


def _parse(text: str, filename: str) -> tuple[SiteConfig, _LineIndex]:
    try:
        root = yaml.compose(text, Loader=_LOADER)  # parsed once: the data is constructed from these nodes
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem.of(filename, line, "", Message("config.yaml", {"error": problem}))]) from None
    bomb = _alias_growth(root, filename)
    if bomb is not None:
        raise ConfigError([bomb])
    index = _LineIndex(root)  # both before the data is constructed: that flattens merge keys in the nodes
    duplicates = list(_duplicate_keys(root))
    try:
        data = _LOADER("").construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem.of(filename, line, "", Message("config.yaml", {"error": problem}))]) from None
    if data is None:
        raise ConfigError([ConfigProblem.of(filename, 1, "", Message("config.empty"))])
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem.of(filename, index.line(()), "", Message("config.top_level"))])
    language = _site_language(data)

    problems = [ConfigProblem.of(filename, line, dotted(loc), msg) for loc, line, msg in duplicates]
    inline = _secret_findings(data)
    problems += [ConfigProblem.of(filename, index.line(loc), dotted(loc), msg) for loc, msg in inline]
    told = {loc for loc, _msg in inline}
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _clean_loc(tuple(err["loc"]), data)
            if loc in told:
                continue  # an inline secret, said once already
            is_key = err["type"] == "extra_forbidden"
            problems.append(
                ConfigProblem.of(filename, index.line(loc, key=is_key), dotted(loc), _message(err, loc))
            )
        raise ConfigError(sorted(problems, key=lambda p: p.line), language=language) from None
    problems += [
        ConfigProblem.of(filename, index.line(loc), dotted(loc), msg) for loc, msg in check_references(cfg)
    ]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line), language=language)
    return cfg, index


def _site_language(data: dict[Any, Any]) -> str | None:
    """``site.language`` as the file writes it, when it is one siaga speaks (to word the file's problems in it)."""
    from siaga.i18n import LANGUAGES

    site = data.get("site")
    wanted = site.get("language") if isinstance(site, dict) else None
    return wanted if isinstance(wanted, str) and wanted in LANGUAGES else None


def parse_config(text: str, filename: str = "siaga.yaml") -> SiteConfig:
    """Validate config text; raise :class:`ConfigError` naming file, line and field of each problem."""
    return _parse(text, filename)[0]


def load_config(path: str | Path) -> LoadedConfig:
    """Read and validate the config file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem.of(str(p), 0, "", Message("config.no_file"))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        unreadable = Message("config.unreadable", {"error": str(exc)})
        raise ConfigError([ConfigProblem.of(str(p), 0, "", unreadable)]) from None
    cfg, lines = _parse(text, str(p))
    return LoadedConfig(cfg, p.absolute(), lines)
