"""Service checks: probes (one module per type), confirmation, uptime over time, the scheduler.

Pure parts (``confirm``, ``uptime``, ``correlate``) take the clock as an argument and do no I/O.
"""
