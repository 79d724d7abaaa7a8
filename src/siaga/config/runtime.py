"""The ``runtime:`` section of siaga.yaml: how ``siaga serve`` looks after its own components."""

from __future__ import annotations

from pydantic import Field

from siaga.config.types import Seconds, Strict


class RuntimeSettings(Strict):
    """Restarts of components that fail, and when their trouble pages people."""

    restart_max_pause: Seconds = Field(
        default=30.0, ge=1, le=3600,
        description="A component that fails is started again after 1 s, then a pause doubling up to this.",
    )
    healthy_after: Seconds = Field(
        default=5.0, gt=0, le=3600,
        description="A restarted component counts as healthy again after running this long without failing.",
    )
    degraded_page_after: Seconds = Field(
        default=15.0, ge=0, le=86400,
        description=(
            "A component restarting this long pages 'siaga degraded: <component>, since ...' through the "
            "normal channels (resolved once it is healthy again)."
        ),
    )
    lease: Seconds = Field(
        default=5.0, ge=0.5, le=300,
        description=(
            "Several siaga processes on one PostgreSQL: a singleton duty (sending, the Telegram bot, checks, "
            "backups) runs in the process holding its lease; a holder that stops renewing (every third of "
            "this) is replaced by a live process after this long. Ignored on SQLite (one process)."
        ),
    )
    witness_grace: Seconds = Field(
        default=300.0, ge=0, le=86400,
        description=(
            "An alert of what a siaga process sees by itself (a sensor faulty, the broker unreachable, the "
            "store unavailable, siaga degraded, a peer silent) that only ended processes saw is resolved by a "
            "live process once they have been gone this long and it has run this long itself: a process "
            "restarted meanwhile that still sees the fault takes the alert up (no 'resolved' then a new page)."
        ),
    )
    rule_shards: int = Field(
        default=8, ge=1, le=256,
        description=(
            "Several siaga processes on one PostgreSQL: the sensors' rules are evaluated in this many shards, "
            "each held (under a lease, role rules/<n>) by one process, which gets the readings the others "
            "receive (PostgreSQL NOTIFY). Ignored on SQLite (one process evaluates everything)."
        ),
    )
