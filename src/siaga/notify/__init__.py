"""Telling people: escalation, storm control, messages, acknowledgement, delivery through an outbox.

The pure core (``windows``, ``policy``, ``planner``, ``storm``, ``maintenance``, ``render``, ``ack``,
``urls``) takes the clock as an argument and does no I/O. The edges (``outbox``, ``sender``,
``service``, ``telegram``, ``web``) keep state in the store and talk to the outside world.
"""
