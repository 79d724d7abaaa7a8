"""Sources turn the outside world into readings. They validate and normalise; they never decide."""
