"""The ``readings:`` section of siaga.yaml: what the ingest path accepts and how long readings are kept."""

from __future__ import annotations

from pydantic import Field

from siaga.config.rules import Duration, RulesModel


class ReadingsConfig(RulesModel):
    """Ingest limits and retention of sensor readings."""

    raw_retention: Duration | None = Field(
        default=30 * 86400.0, description="How long raw readings are kept (default 30d; null: forever)."
    )
    minute_retention: Duration | None = Field(
        default=365 * 86400.0, description="How long the 1-minute rollups are kept (default 365d; null: forever)."
    )
    hour_retention: Duration | None = Field(
        default=None, description="How long the 1-hour rollups are kept (default: forever)."
    )
    flush_interval: Duration = Field(
        default=1.0, gt=0, le=60, description="Accepted readings are written to the store at least this often."
    )
    max_future: Duration = Field(
        default=300.0, description="Readings stamped further than this in the future are refused (clock skew)."
    )
    max_age: Duration = Field(
        default=7 * 86400.0, description="Readings older than this when they arrive are refused."
    )
