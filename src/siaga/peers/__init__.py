"""Peers: a room's siaga and the colocation's siaga watching each other (signed heartbeats both ways).

See docs/peers.md. ``signing`` (pure) signs and verifies requests between peers.
"""
