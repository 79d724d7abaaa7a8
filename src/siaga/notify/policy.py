"""Which escalation policy covers an alert, and is the alert high-stake? Pure."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from siaga.alerts.model import Alert
from siaga.config.models import Criticality
from siaga.config.notify import AlertMatch, EscalationPolicy, Stake


def _any(patterns: Sequence[str], value: str) -> bool:
    return not patterns or any(fnmatchcase(value, p) for p in patterns)


def matches(match: AlertMatch, alert: Alert) -> bool:
    """Does ``alert`` fall under ``match`` (severity, rule, subject and kind)?"""
    return (
        alert.severity.rank >= match.severity_at_least.rank
        and _any(match.rules, alert.rule)
        and _any(match.subjects, alert.subject)
        and (not match.kinds or alert.subject_kind.value in match.kinds)
    )


def select_policy(policies: Sequence[EscalationPolicy], alert: Alert) -> EscalationPolicy | None:
    """The first policy whose match covers ``alert``; None: nobody is paged."""
    for policy in policies:
        if matches(policy.match, alert):
            return policy
    return None


def high_stake(stake: Stake | None, alert: Alert) -> bool:
    """True when what ``alert`` puts at risk crosses the policy's rupiah or criticality threshold."""
    if stake is None:
        return False
    impact = alert.impact
    if stake.value_at_least is not None and impact.value_at_risk >= stake.value_at_least:
        return True
    if stake.criticality_at_least is not None and impact.worst_criticality:
        try:
            worst = Criticality(impact.worst_criticality)
        except ValueError:
            return False
        return worst.rank >= stake.criticality_at_least.rank
    return False
