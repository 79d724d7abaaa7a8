"""Warm standbys at the colocation: a service's newest verified snapshot restored into a standby web root and
database, switched in atomically, started or reloaded, checked with the service's own checks; its freshness
as a rule; the recovery drill that measures the time to switch (see docs/standby.md)."""
