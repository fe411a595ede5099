"""Settings, logging and counters: what every room reads and reports into.

`settings` (with `survey_settings` and `attention_settings` for the groups that outgrew it)
reads the environment; `durations` parses "24h"; `logs` makes every log line safe; `metrics`
holds the Prometheus counters; `sealed` seals the portals' secrets at rest under
`SECRETS_KEY` (`portal_settings`); `command_help` tells each command's `--help` what it needs;
`collection` sets the garbage collector for a long-running process.

May import: `bot` (its settings and texts), `storage`, `outbound`. No other room.
"""

__all__ = [
    "attention_settings",
    "collection",
    "command_help",
    "durations",
    "logs",
    "metrics",
    "sealed",
    "settings",
]
