"""Layout factories: functions that return Dash components and hold no state."""
