"""Pure view models of the dashboard: built from the config and plain values, no I/O."""
