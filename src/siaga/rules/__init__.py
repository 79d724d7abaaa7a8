"""Rules: pure functions and small state machines that turn readings and the clock into Conditions.

No I/O here: the clock is an argument, the config is data. See docs/sensing.md for the defaults.
"""

from siaga.rules.engine import RulesEngine
from siaga.rules.threshold import LevelMachine, LevelState

__all__ = ["LevelMachine", "LevelState", "RulesEngine"]
