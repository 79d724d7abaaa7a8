"""siaga: keeps small data centres safe."""

__version__ = "0.1.0"
