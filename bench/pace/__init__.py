"""Keeping pace with the vendors' limits: a wave of clicks and a burst of closures at realistic
latency (`figures`), and several portals side by side (`portals`)."""
