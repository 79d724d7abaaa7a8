"""Fixtures of the cluster tests: the webhook receiver that counts pages, a migrated PostgreSQL engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from siaga.store import create_engine_for, upgrade

from .cluster import Pages


@pytest.fixture
def pages() -> Iterator[Pages]:
    p = Pages()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL database."""
    e = create_engine_for(postgres_url)
    upgrade(e)
    try:
        yield e
    finally:
        e.dispose()
