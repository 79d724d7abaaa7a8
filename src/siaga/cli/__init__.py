"""The ``siaga`` command line: one module per command group, registered in :mod:`siaga.cli.main`."""
