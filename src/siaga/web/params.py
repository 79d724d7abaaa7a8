"""Path parameters shared by the routes: ids checked against their column's range before any query.

A row id is a ``BigId`` (BIGINT on PostgreSQL, a 64-bit INTEGER on SQLite) and starts at 1: an id outside
1..2**63-1 is refused with 422 in the one error shape (it reached the driver and answered 500).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A row id (1 to 2^63-1).")]
