"""The audit as text for the terminal and as an HTML or PDF report."""

from __future__ import annotations

import datetime as dt

from siaga.audit.scoring import GRADE_LABELS, STATUS_LABELS, AuditResult, Status
from siaga.i18n import translator
from siaga.reports.render import html_to_pdf, render_html

_MARKS = {Status.passed: "✔", Status.partial: "◐", Status.failed: "✘", Status.not_applicable: "·"}


def as_text(result: AuditResult) -> str:
    t = translator(result.language)
    lines = [
        f"{t.gettext('Room readiness audit')}: {result.site}",
        f"{t.gettext('Score')}: {result.score:.0f}/100 — {t.gettext(GRADE_LABELS[result.grade])}",
        "",
    ]
    for f in result.findings:
        lines.append(f"{_MARKS[f.status]} [{f.weight:>2}] {f.title}: {t.gettext(STATUS_LABELS[f.status])}")
        if f.status in (Status.failed, Status.partial):
            lines += [f"      - {e}" for e in f.evidence[:8]]
            if len(f.evidence) > 8:
                lines.append("      - " + t.gettext("and {count} more").format(count=len(f.evidence) - 8))
            lines.append(f"      → {f.recommendation}")
    return "\n".join(lines) + "\n"


def as_html(result: AuditResult, *, timezone: str, generated_at: dt.datetime | None = None) -> str:
    applicable = [f for f in result.findings if f.status is not Status.not_applicable]
    context = {
        "result": result,
        "grade_labels": GRADE_LABELS,
        "status_labels": STATUS_LABELS,
        "passed": sum(1 for f in applicable if f.status is Status.passed),
        "applicable": len(applicable),
        "generated_at": generated_at or result.at,
    }
    return render_html("audit.html", context, lang=result.language, timezone=timezone)


def as_pdf(result: AuditResult, *, timezone: str) -> bytes:
    return html_to_pdf(as_html(result, timezone=timezone))
