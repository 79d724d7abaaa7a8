"""Backups: restic driven with care, database dumps streamed into it, retention, checks and restore drills."""
