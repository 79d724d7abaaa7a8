"""What this siaga knows of each peer, and whether the peer's silence is an alarm (pure: clock passed in).

A peer is *heard* when a signed heartbeat from it arrives; *silent* when nothing was heard for longer
than its window, or at once when its /healthz refuses the connection (its host answers, siaga does
not) after it had said nothing of a stop. A signed goodbye (a planned stop) makes its silence no alarm
until it is heard again. Silence is never "fine": a peer never heard since this siaga started is
silent once the window has passed since the start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from siaga.config.peers import Peer, PeerRole
from siaga.vocab import Severity

SILENT_RULE = "peer.silent"  # a watched room is silent: critical, paged by the colocation
UNREACHABLE_RULE = "peer.unreachable"  # the watching colocation cannot be reached: warning, at the room


@dataclass(frozen=True)
class PeerState:
    """The last word of one peer: its summary, when it was heard, and what this siaga made of it."""

    peer: str
    started_at: dt.datetime  # when this siaga began watching (silence counts from here at first)
    last_heartbeat_at: dt.datetime | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    goodbye_at: dt.datetime | None = None
    refused_at: dt.datetime | None = None  # /healthz: connection refused (the host answers, siaga not)
    alarm_since: dt.datetime | None = None  # the silence alert is active since
    sent_ok_at: dt.datetime | None = None  # our last heartbeat the peer accepted

    def heard(self, at: dt.datetime, summary: dict[str, Any], *, goodbye: bool = False) -> PeerState:
        return replace(self, last_heartbeat_at=at, summary=summary, goodbye_at=at if goodbye else None,
                       refused_at=None)

    def quiet_since(self) -> dt.datetime:
        return self.last_heartbeat_at or self.started_at

    def age(self, now: dt.datetime) -> float | None:
        """Seconds since the last heartbeat (None: never heard)."""
        return None if self.last_heartbeat_at is None else max(0.0, (now - self.last_heartbeat_at).total_seconds())


def is_silent(state: PeerState, peer: Peer, now: dt.datetime) -> bool:
    """Whether ``peer``'s silence is an alarm now.

    Silence counts from the last heartbeat, but never from before this siaga started watching: a siaga
    that restarts (its peers' last states reloaded from the store) gives each peer a full window to be
    heard, unless the alarm was already on (it stays on until the peer is heard again).
    """
    if state.goodbye_at is not None:
        return False
    heard = state.last_heartbeat_at
    if state.alarm_since is not None and (heard is None or heard < state.alarm_since):
        return True  # not heard since the alarm (also when the alarm was reloaded after a restart)
    if state.refused_at is not None and state.last_heartbeat_at is not None:
        return True
    return now - max(state.quiet_since(), state.started_at) > peer.silence_window


@dataclass(frozen=True)
class Decision:
    """Raise (active) or clear the peer's alert, with its rule, severity and parameters."""

    active: bool
    rule: str
    severity: Severity
    params: dict[str, Any]


def rule_of(peer: Peer) -> tuple[str, Severity]:
    if peer.role is PeerRole.watches:
        return SILENT_RULE, Severity.critical
    return UNREACHABLE_RULE, Severity.warning


def last_known(summary: dict[str, Any]) -> dict[str, Any]:
    """What the peer said last: its open alerts (rule on subject), how many services were down."""
    alerts = [a for a in summary.get("alerts", []) if isinstance(a, dict)]
    listed = ", ".join(f"{a.get('rule')} {a.get('subject')}" for a in alerts[:5])
    if len(alerts) > 5:
        listed += f", +{len(alerts) - 5}"
    return {"alert_count": len(alerts), "alerts": listed or "-",
            "services_down": len(summary.get("services_down", []) or [])}


def assess(state: PeerState, peer: Peer, now: dt.datetime) -> tuple[PeerState, Decision | None]:
    """The state after looking at the clock, and the alert to raise or clear (None: nothing changes)."""
    silent = is_silent(state, peer, now)
    rule, severity = rule_of(peer)
    if silent and state.alarm_since is None:
        since = state.quiet_since()
        params = {"peer": peer.id, "name": peer.name or peer.id, "since": since.isoformat(),
                  "refused": state.refused_at is not None, **last_known(state.summary)}
        return replace(state, alarm_since=now), Decision(True, rule, severity, params)
    if not silent and state.alarm_since is not None:
        return replace(state, alarm_since=None), Decision(False, rule, severity,
                                                          {"peer": peer.id, "name": peer.name or peer.id})
    return state, None


__all__ = ["SILENT_RULE", "UNREACHABLE_RULE", "Decision", "PeerState", "assess", "is_silent", "last_known", "rule_of"]
