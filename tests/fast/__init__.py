"""The fast layer: the services against in-memory vendors and a fixed clock (no HTTP, no
waiting), so the workflow's behaviour is checked in seconds; tests/ around it keeps the wire."""
