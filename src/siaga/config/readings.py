"""The ``readings:`` section of siaga.yaml: what the ingest path accepts and how long readings are kept."""

from __future__ import annotations

from pydantic import Field

from siaga.config.types import Seconds, Strict


class ReadingsConfig(Strict):
    """Ingest limits and retention of sensor readings."""

    raw_retention: Seconds | None = Field(
        default=30 * 86400.0, description="How long raw readings are kept (default 30d; null: forever)."
    )
    minute_retention: Seconds | None = Field(
        default=365 * 86400.0, description="How long the 1-minute rollups are kept (default 365d; null: forever)."
    )
    hour_retention: Seconds | None = Field(
        default=None, description="How long the 1-hour rollups are kept (default: forever)."
    )
    rollup_every: Seconds = Field(
        default=30.0, ge=0.2, le=3600,
        description="How often the minute and hour rollups are brought up to date (and complete minutes sent "
        "to a watching peer).",
    )
    flush_interval: Seconds = Field(
        default=1.0, gt=0, le=60, description="Accepted readings are written to the store at least this often."
    )
    max_future: Seconds = Field(
        default=300.0, description="Readings stamped further than this in the future are refused (clock skew)."
    )
    max_age: Seconds = Field(
        default=7 * 86400.0, description="Readings older than this when they arrive are refused."
    )
    faulty_after: int = Field(
        default=5, ge=1, le=10_000,
        description=(
            "Refused readings in a row from one sensor (out of range, not a number, bad timestamp...) that raise "
            "a 'sensor faulty' warning; as many good readings in a row resolve it."
        ),
    )
