"""Sensor readings in the store: batched writes, rollups, retention and queries."""
