"""The ``notification``, ``escalation`` and ``maintenance`` sections of siaga.yaml, and people's contacts.

- ``notification.channels``: named senders (a Telegram bot, a WhatsApp gateway, an SMTP server, ntfy,
  Slack, a JSON webhook, any apprise URL). Secrets come from ``*_file`` paths or ``${ENV}`` references.
- ``people[].contacts`` and ``notification.groups[].contacts``: channel id -> address on that channel
  (a Telegram chat id, a phone number, an e-mail address, an ntfy topic...).
- ``escalation``: ordered policies; the first whose ``match`` fits an alert decides who is told, when,
  on which channels, until someone acknowledges.
- ``maintenance``: windows during which matching alerts are recorded but nobody is paged.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from siaga.config.errors import Refusal
from siaga.config.site import Criticality
from siaga.config.types import Duration, EnvRef, SecretFile, SecretPairs, Slug, Strict, parse_duration
from siaga.vocab import Severity


class _Channel(SecretPairs):
    name: str | None = Field(default=None, description="How the channel is shown to people.")


class TelegramChannel(_Channel):
    """A Telegram bot. Messages carry Acknowledge and Resolve buttons; the bot also receives the presses."""

    secret_pairs: ClassVar[dict[str, bool]] = {"bot_token": True}

    type: Literal["telegram"] = Field(description="Channel type: telegram.")
    bot_token: EnvRef | None = Field(default=None, description="The bot's token as ${ENV_VAR}.")
    bot_token_file: SecretFile | None = Field(
        default=None, description="A file holding the bot's token (from @BotFather)."
    )
    api_base_url: str = Field(
        default="https://api.telegram.org",
        description="Base URL of the Telegram Bot API (a local Bot API server or a test stand-in).",
    )
    buttons: bool = Field(default=True, description="Put Acknowledge and Resolve buttons under each alert.")
    poll: bool = Field(
        default=True, description="Run the bot: long-poll for button presses and /link commands."
    )


class WhatsAppChannel(_Channel):
    """WhatsApp: the Meta Cloud API, or an HTTP gateway (Fonnte, Wablas, WAHA...) that takes a number and a text."""

    secret_pairs: ClassVar[dict[str, bool]] = {"token": True}

    type: Literal["whatsapp"] = Field(description="Channel type: whatsapp.")
    provider: Literal["meta", "gateway"] = Field(
        default="gateway", description="meta (WhatsApp Cloud API) or gateway (an HTTP sending service)."
    )
    token: EnvRef | None = Field(default=None, description="Access token as ${ENV_VAR}.")
    token_file: SecretFile | None = Field(default=None, description="A file holding the access token.")
    phone_number_id: str | None = Field(default=None, description="meta: the sending phone number's id.")
    url: str | None = Field(default=None, description="gateway: the URL messages are POSTed to.")
    format: Literal["json", "form"] = Field(default="form", description="gateway: body as json or form.")
    number_field: str = Field(default="target", description="gateway: the body field of the phone number.")
    auth_header: str = Field(default="Authorization", description="gateway: the header carrying the token.")

    @model_validator(mode="before")
    @classmethod
    def _token(cls, values: Any) -> Any:
        if isinstance(values, dict):
            provider = values.get("provider", "gateway")
            if provider == "meta" and not values.get("phone_number_id"):
                raise Refusal("config.notify.meta")
            if provider == "gateway" and not values.get("url"):
                raise Refusal("config.notify.gateway")
        return values


class EmailSecurity(StrEnum):
    starttls = "starttls"
    ssl = "ssl"
    none = "none"


class EmailChannel(_Channel):
    """E-mail through an SMTP server; messages get the full form (what is at stake, the timeline)."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": False}

    type: Literal["email"] = Field(description="Channel type: email.")
    host: str = Field(description="SMTP server host name.")
    port: int | None = Field(default=None, ge=1, le=65535, description="SMTP port (default: by security).")
    security: EmailSecurity = Field(default=EmailSecurity.starttls, description="starttls, ssl or none.")
    username: str | None = Field(default=None, description="SMTP user name, when the server wants one.")
    password: EnvRef | None = Field(default=None, description="SMTP password as ${ENV_VAR}.")
    password_file: SecretFile | None = Field(default=None, description="A file holding the SMTP password.")
    sender: str = Field(description="From address.", examples=["siaga@bontangkota.go.id"])
    sender_name: str = Field(default="siaga", description="From name.")


class NtfyChannel(_Channel):
    """ntfy (a self-hosted or ntfy.sh push server); the address is the topic."""

    secret_pairs: ClassVar[dict[str, bool]] = {"token": False}

    type: Literal["ntfy"] = Field(description="Channel type: ntfy.")
    server_url: str = Field(default="https://ntfy.sh", description="Base URL of the ntfy server.")
    token: EnvRef | None = Field(default=None, description="Access token as ${ENV_VAR}.")
    token_file: SecretFile | None = Field(default=None, description="A file holding the access token.")
    priority: Literal["min", "low", "default", "high", "max"] = Field(default="high", description="Priority.")


class SlackChannel(_Channel):
    """A Slack incoming webhook; the address (if any) is a channel name such as #ruang-server."""

    secret_pairs: ClassVar[dict[str, bool]] = {"webhook_url": True}

    type: Literal["slack"] = Field(description="Channel type: slack.")
    webhook_url: EnvRef | None = Field(default=None, description="The webhook URL as ${ENV_VAR}.")
    webhook_url_file: SecretFile | None = Field(default=None, description="A file holding the webhook URL.")


class WebhookChannel(_Channel):
    """A JSON (or form) POST to your own endpoint: {title, message, type, alert ids, recipient}."""

    secret_pairs: ClassVar[dict[str, bool]] = {"token": False}

    type: Literal["webhook"] = Field(description="Channel type: webhook.")
    url: str = Field(description="http(s) URL to POST to.", examples=["https://noc.bontangkota.go.id/hooks/siaga"])
    format: Literal["json", "form"] = Field(default="json", description="json or form.")
    token: EnvRef | None = Field(default=None, description="Bearer token as ${ENV_VAR}.")
    token_file: SecretFile | None = Field(default=None, description="A file holding the bearer token.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise Refusal("config.notify.url")
        return value


class AppriseChannel(_Channel):
    """Any service apprise knows (SMS gateways, Discord, Teams, Matrix...), by its apprise URL."""

    secret_pairs: ClassVar[dict[str, bool]] = {"url": True}

    type: Literal["apprise"] = Field(description="Channel type: apprise.")
    url: EnvRef | None = Field(default=None, description="The apprise URL as ${ENV_VAR} (it holds credentials).")
    url_file: SecretFile | None = Field(default=None, description="A file holding the apprise URL.")


Channel = Annotated[
    TelegramChannel | WhatsAppChannel | EmailChannel | NtfyChannel | SlackChannel | WebhookChannel | AppriseChannel,
    Field(discriminator="type"),
]

CHANNELS_WITHOUT_ADDRESS = ("slack", "webhook", "apprise")
"""Channel types whose config says where messages go; a contact's address on them is optional."""

Contacts = dict[Slug, str]


class Group(Strict):
    """A group to tell: a Telegram or WhatsApp group chat, a team mailbox, or just a list of people."""

    id: Slug
    name: str = Field(description="The group's name.")
    members: list[Slug] = Field(default_factory=list, description="Ids of the people in it (for rights and notices).")
    contacts: Contacts = Field(
        default_factory=dict, description="Channel id -> address of the group on it (a group chat id, a list address)."
    )


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"


class HolidayRule(StrEnum):
    ignore = "ignore"
    exclude = "exclude"
    only = "only"


_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


class TimeWindow(Strict):
    """Recurring hours in the site's time zone (an end before the start runs past midnight)."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), description="Days it applies (mon..sun).")
    start: str = Field(default="00:00", description="Local start time HH:MM.")
    end: str = Field(default="24:00", description="Local end time HH:MM (24:00 = end of day).")
    holidays: HolidayRule = Field(
        default=HolidayRule.ignore,
        description="ignore: holidays are like other days; exclude: not on holidays; only: only on holidays.",
    )

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        m = _HHMM.match(value)
        if not m or (m.group(1) == "24" and m.group(2) != "00"):
            raise Refusal("config.notify.time_of_day", value=repr(value))
        return value


class StormControl(Strict):
    """How a flood of alerts is folded into a few messages (never dropped)."""

    group_window: Duration = Field(
        default=dt.timedelta(seconds=30),
        description="After a message about an incident, more alerts of it wait this long and go out as one message.",
    )
    rate_per_minute: int = Field(
        default=6, ge=1, description="At most this many messages a minute to one address on one channel."
    )
    max_listed: int = Field(
        default=15, ge=1, description="A message lists at most this many alerts, then says how many more."
    )


class Delivery(Strict):
    """Retries of a message on its channel before falling back to the next channel."""

    attempts: int = Field(default=4, ge=1, le=50, description="Tries on one channel before falling back.")
    backoff: Duration = Field(default=dt.timedelta(seconds=2), description="Wait before the second try.")
    backoff_max: Duration = Field(default=dt.timedelta(minutes=2), description="Longest wait between tries.")
    timeout: Duration = Field(default=dt.timedelta(seconds=15), description="Longest one try may take.")
    concurrency: int = Field(default=8, ge=1, le=100, description="Messages sent at the same time.")


class AckLinks(Strict):
    """One-tap acknowledgement links in messages."""

    ttl: Duration = Field(default=dt.timedelta(hours=24), description="How long a link works.")
    key_file: str | None = Field(
        default=None,
        description="File of the signing key (created on first start); default: ack.key in store.data_dir.",
    )


class TelegramBot(Strict):
    """The Telegram bot that receives button presses and /link commands."""

    channel: Slug = Field(description="Id of the telegram channel whose bot this is.")
    link_code_ttl: Duration = Field(default=dt.timedelta(minutes=15), description="How long a /link code works.")
    poll_timeout: int = Field(default=25, ge=0, le=50, description="Seconds one getUpdates long poll waits.")


class Notification(Strict):
    """Channels, groups, time windows and how messages are delivered."""

    channels: dict[Slug, Channel] = Field(default_factory=dict, description="Named channels (senders).")
    groups: list[Group] = Field(default_factory=list, description="Groups to tell.")
    windows: dict[Slug, TimeWindow] = Field(
        default_factory=dict, description="Named time windows (office hours, nights...) used by escalation steps."
    )
    holidays: list[dt.date] = Field(default_factory=list, description="Public holidays (YYYY-MM-DD).")
    storm: StormControl = Field(default_factory=StormControl, description="Grouping of alert storms.")
    delivery: Delivery = Field(default_factory=Delivery, description="Retries and timeouts.")
    ack: AckLinks = Field(default_factory=AckLinks, description="Acknowledgement links.")
    telegram_bot: TelegramBot | None = Field(default=None, description="The Telegram bot for buttons and /link.")


class AlertMatch(Strict):
    """Which alerts a policy (or maintenance window) covers; every given list must match."""

    severity_at_least: Severity = Field(default=Severity.warning, description="info, warning or critical.")
    rules: list[str] = Field(
        default_factory=list, description="Rule names or patterns (leak, temperature.*); empty: all."
    )
    subjects: list[str] = Field(default_factory=list, description="Subject ids or patterns; empty: all.")
    kinds: list[Literal["sensor", "service", "backup", "system"]] = Field(
        default_factory=list, description="Subject kinds: sensor, service, backup, system; empty: all."
    )


class Stake(Strict):
    """What makes an alert high-stake: steps marked at_once_if_high_stake are then due at once."""

    value_at_least: int | None = Field(
        default=None, ge=0, description="Rupiah value of the devices at risk.", examples=[1_000_000_000]
    )
    criticality_at_least: Criticality | None = Field(
        default=Criticality.vital, description="The most critical service at risk (low, medium, high, vital)."
    )


class Step(Strict):
    """One step: whom to tell, on which channels, how long after the alert fired."""

    after: Duration = Field(default=dt.timedelta(0), description="Delay after the alert fired, unacknowledged.")
    people: list[Slug] = Field(default_factory=list, description="Ids of people to tell.")
    groups: list[Slug] = Field(default_factory=list, description="Ids of groups to tell.")
    channels: list[Slug] = Field(
        default_factory=list, description="Channels to use (all at once); empty: every channel of the recipient."
    )
    fallback: list[Slug] = Field(
        default_factory=list, description="Channels tried in order when a channel of this step fails."
    )
    when: list[Slug] = Field(default_factory=list, description="Only inside one of these time windows.")
    unless: list[Slug] = Field(default_factory=list, description="Never inside one of these time windows.")
    at_once_if_high_stake: bool = Field(
        default=False, description="Due at once (no delay) when the alert is high-stake (see stake)."
    )

    @model_validator(mode="after")
    def _someone(self) -> Step:
        if not self.people and not self.groups:
            raise Refusal("config.notify.step_who")
        return self


class EscalationPolicy(Strict):
    """Who is told, when, until someone acknowledges."""

    id: Slug
    name: str | None = Field(default=None, description="A longer name.")
    match: AlertMatch = Field(default_factory=AlertMatch, description="The alerts this policy covers.")
    steps: list[Step] = Field(min_length=1, description="Ordered steps.")
    repeat_every: Duration | None = Field(
        default=None, description="Page the last step again this often while nobody acknowledges."
    )
    repeat_limit: int = Field(default=3, ge=0, description="At most this many repeats.")
    repage_acknowledged_after: Duration | None = Field(
        default=None, description="Page again when acknowledged but still firing this long after."
    )
    stake: Stake | None = Field(default=None, description="What makes an alert high-stake for this policy.")
    notify_acknowledged: bool = Field(default=True, description="Tell those paged when someone acknowledges.")
    notify_resolved: bool = Field(default=True, description="Tell those paged when the alert resolves.")


__all__ = [
    "CHANNELS_WITHOUT_ADDRESS",
    "AckLinks",
    "AlertMatch",
    "AppriseChannel",
    "Channel",
    "Contacts",
    "Delivery",
    "Duration",
    "EmailChannel",
    "EscalationPolicy",
    "Group",
    "Notification",
    "NtfyChannel",
    "SlackChannel",
    "Stake",
    "Step",
    "StormControl",
    "TelegramBot",
    "TelegramChannel",
    "TimeWindow",
    "WebhookChannel",
    "WhatsAppChannel",
    "parse_duration",
]
