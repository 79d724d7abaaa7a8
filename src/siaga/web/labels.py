"""Words the pages look up at run time (``_(alert.state)``), marked here so the catalogs carry them."""

from __future__ import annotations

from siaga.i18n import N_

LABELS: tuple[str, ...] = (
    # alert states and severities
    N_("pending"), N_("firing"), N_("acknowledged"), N_("resolved"), N_("active"), N_("all"),
    N_("info"), N_("warning"), N_("critical"),
    # service criticality and check states
    N_("low"), N_("medium"), N_("high"), N_("vital"), N_("up"), N_("down"), N_("unknown"),
    # sensor states
    N_("ok"), N_("alarm"), N_("stale"),
    # timeline entries
    N_("created"), N_("noted"), N_("note"), N_("notification"), N_("severity_changed"),
    N_("notification.planned"), N_("notification.skipped"), N_("notified"), N_("notify_failed"),
    N_("notification.withheld"), N_("notify_folded"), N_("notify_silenced"), N_("notify_resumed"),
    N_("notify_demo"), N_("demo"), N_("notify_possibly_sent"), N_("possibly_sent"),
    # page titles
    N_("Room map"), N_("No room in the configuration."),
)
