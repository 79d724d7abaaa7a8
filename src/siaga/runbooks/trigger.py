"""Which runbooks an alert transition triggers. Pure.

A trigger names a rule (``leak`` also matches ``leak.ceiling``: the rule's family), an optional subject and
an optional lowest severity. The subject matches the alert's own subject (a sensor, a UPS, a peer) or the
place the alert's impact names (its rack or room): ``subject: R1`` is any leak on a sensor of rack R1.
Only an alert that starts firing (or rises in severity while firing) triggers.
"""

from __future__ import annotations

from collections.abc import Iterable

from siaga.alerts.model import Alert, Transition
from siaga.config.runbooks import Runbook, Trigger
from siaga.vocab import Severity

STARTS = frozenset({"firing", "severity"})


def rule_matches(wanted: str, rule: str) -> bool:
    return rule == wanted or rule.startswith(wanted + ".")


def alert_matches(trigger: Trigger, alert: Alert) -> bool:
    if not rule_matches(trigger.rule, alert.rule):
        return False
    if trigger.subject is not None:
        places = {alert.subject, alert.impact.rack, alert.impact.room}
        if trigger.subject not in places:
            return False
    return trigger.severity is None or alert.severity.rank >= Severity(trigger.severity).rank


def triggered(books: Iterable[Runbook], transition: Transition) -> list[Runbook]:
    """The runbooks ``transition`` triggers, in config order."""
    if transition.event not in STARTS or transition.alert.state.value != "firing":
        return []
    return [b for b in books if b.trigger is not None and alert_matches(b.trigger, transition.alert)]


__all__ = ["alert_matches", "rule_matches", "triggered"]
