"""The loaded configuration as people may see it (pure): secrets never shown.

Every value under a ``*_file`` key is shown as the reference it is (the path), never the file's
content; every ``${ENV}`` reference stays a reference (never expanded); a key that names a secret
(password, token, secret, api_key...) is masked whatever it holds; a URL with a password loses it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from siaga.config.models import SECRET_KEY, SiteConfig

MASK = "••••••"
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
_URL_PASSWORD = re.compile(r"^([a-z0-9+.-]+://[^/:@]+:)([^@/]+)(@)", re.IGNORECASE)
_SECRETISH = re.compile(r"(password|passwd|secret|token|api_key|apikey|private_key|credential|passphrase|key)$",
                        re.IGNORECASE)


def masked(data: Any, key: str = "") -> Any:
    """``data`` with every secret replaced by a mask or left as its reference."""
    if isinstance(data, dict):
        return {k: masked(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [masked(v, key) for v in data]
    if isinstance(data, str):
        if key.endswith("_file"):
            return data  # a path: the reference, never the content
        if _ENV_REF.match(data.strip()):
            return data  # a reference, never its value
        if SECRET_KEY.search(key) or _SECRETISH.search(key):
            return MASK
        if "${" in data:
            return data
        return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), data)
    return data


def config_as_dict(cfg: SiteConfig) -> dict[str, Any]:
    data = cfg.model_dump(mode="json", exclude_defaults=False, by_alias=True)
    return dict(masked(data))


def config_as_yaml(cfg: SiteConfig) -> str:
    return str(yaml.safe_dump(config_as_dict(cfg), sort_keys=False, allow_unicode=True, width=110))
