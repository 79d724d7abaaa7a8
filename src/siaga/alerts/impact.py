"""What an alert puts at stake: the inventory's answer, and only the inventory's.

``impact_resolver(inventory)`` gives the function the alert manager calls for a subject:
``Inventory.impact_for_alert`` (the subject's place, devices, services through ``depends_on``,
rupiah). Should the inventory fail on a subject, the alert still opens, with an empty impact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from siaga.config.models import SiteConfig
from siaga.inventory import Inventory, impact_for_alert
from siaga.vocab import Impact, SubjectKind

log = logging.getLogger(__name__)

ImpactOf = Callable[[SubjectKind, str], Impact]


def impact_resolver(source: Inventory | SiteConfig) -> ImpactOf:
    """The function that gives the impact of a subject, from ``source`` (an inventory, or a config
    to build one from)."""
    inventory = source if isinstance(source, Inventory) else Inventory.from_config(source)

    def impact_of(kind: SubjectKind, subject: str) -> Impact:
        try:
            return impact_for_alert(inventory, kind.value, subject)
        except Exception:  # an inventory that cannot answer must not stop an alert
            log.exception("impact of %s %s", kind.value, subject)
            return Impact()

    return impact_of
