"""Apprise URLs built from a channel's config parts, an address and its secrets. Pure (secrets passed in).

Telegram is not here: siaga speaks the Bot API itself (buttons, editing, a configurable base URL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from siaga.config.notify import (
    AppriseChannel,
    Channel,
    EmailChannel,
    EmailSecurity,
    NtfyChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
    WhatsAppChannel,
)
from siaga.config.secrets import SecretError
from siaga.errors import SiagaError


class ChannelError(SiagaError):
    """A channel cannot be used as configured (a missing secret, a bad URL)."""


def secret(spec: Channel, name: str, base_dir: Path | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The secret ``name`` of a channel: from ``name`` (``${ENV}``) or the file ``name_file``."""
    try:
        return spec.read_secret(name, base_dir, environ)
    except SecretError as exc:
        raise ChannelError(str(exc)) from None


def _q(text: str) -> str:
    return quote(text, safe="")


def _host_path(url: str) -> tuple[bool, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ChannelError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return parts.scheme == "https", f"{parts.netloc}{path}{query}"


def _with(base: str, params: dict[str, str]) -> str:
    if not params:
        return base
    sep = "&" if "?" in base else "?"
    return base + sep + urlencode(params, quote_via=quote)


Secret = Callable[[str], "str | None"]
"""A channel's secret by field name (``password``, ``token``...): from ``name`` or the file ``name_file``."""


def _email(spec: EmailChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    password = secret("password")
    if spec.security is EmailSecurity.ssl:
        scheme, mode, port = "mailtos", "ssl", spec.port or 465
    elif spec.security is EmailSecurity.starttls:
        scheme, mode, port = "mailtos", "starttls", spec.port or 587
    else:
        scheme, mode, port = "mailto", "insecure", spec.port or 25
    cred = ""
    if spec.username:
        cred = _q(spec.username) + (f":{_q(password)}" if password else "") + "@"
    return _with(
        f"{scheme}://{cred}{spec.host}:{port}",
        {"from": spec.sender, "to": address, "name": spec.sender_name, "mode": mode, "smtp": spec.host},
    )


def _ntfy(spec: NtfyChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    secure, hostpath = _host_path(spec.server_url)
    token = secret("token")
    params: dict[str, str] = {"priority": str(spec.priority)}
    if token:
        params["token"] = token
    return _with(f"{'ntfys' if secure else 'ntfy'}://{hostpath}/{_q(address)}", params)


def _slack(spec: SlackChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    url = secret("webhook_url")
    if not url:
        raise ChannelError("slack webhook URL is empty")
    return url


def _apprise(spec: AppriseChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    url = secret("url")
    if not url:
        raise ChannelError("apprise URL is empty")
    return url


def _webhook(spec: WebhookChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    secure, hostpath = _host_path(spec.url)
    token = secret("token")
    params = {f":{k}": str(v) for k, v in extra.items()}
    if address:
        params[":to"] = address
    if token:
        params["+Authorization"] = f"Bearer {token}"
    if "siaga_message" in extra:  # the receiver drops a message sent twice (a crash between sent and recorded)
        params["+Idempotency-Key"] = f"siaga-message-{extra['siaga_message']}"
    scheme = ("json" if spec.format == "json" else "form") + ("s" if secure else "")
    return _with(f"{scheme}://{hostpath}", params)


def _whatsapp(spec: WhatsAppChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    token = secret("token") or ""
    number = address.lstrip("+")
    if spec.provider == "meta":
        return f"whatsapp://{_q(token)}@{spec.phone_number_id}/{_q(number)}"
    assert spec.url is not None  # checked by the config model
    secure, hostpath = _host_path(spec.url)
    scheme = ("json" if spec.format == "json" else "form") + ("s" if secure else "")
    return _with(f"{scheme}://{hostpath}", {f"+{spec.auth_header}": token, f":{spec.number_field}": number})


def _telegram(spec: TelegramChannel, address: str, secret: Secret, extra: dict[str, str]) -> str:
    raise ChannelError("telegram channels are sent by siaga's bot client, not apprise")


# One line per channel type of the config: how its apprise URL is made.
URL_BUILDERS: dict[type, Callable[[Any, str, Secret, dict[str, str]], str]] = {
    EmailChannel: _email,
    NtfyChannel: _ntfy,
    SlackChannel: _slack,
    AppriseChannel: _apprise,
    WebhookChannel: _webhook,
    WhatsAppChannel: _whatsapp,
    TelegramChannel: _telegram,
}


def apprise_url(
    spec: Channel,
    address: str,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The apprise URL that delivers to ``address`` through ``spec`` (its builder in :data:`URL_BUILDERS`).

    ``extra``: fields added to the body of webhook-like channels (alert ids, recipient).
    """
    build = next((URL_BUILDERS[c] for c in type(spec).__mro__ if c in URL_BUILDERS), None)
    if build is None:  # pragma: no cover - every channel type of the config has a line
        raise ChannelError(f"unknown channel type {getattr(spec, 'type', '?')!r}")
    return build(spec, address, lambda name: secret(spec, name, base_dir, environ), dict(extra or {}))
