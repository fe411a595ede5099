"""The team's chat (ALERT_DIALOG_ID): what the bot tells the team there, each message posted
once across replicas and crashes (`posting`): an alert about each low rating, edited as the
person adds words and when someone presses «Беру» (`alerts`, `taking`), and the weekly digest
(`digest`, on the report's figures, due by `schedule`).

May import: `bridge.config`, `bridge.rules`, `bridge.okdesk`, `bridge.outside`, `bridge.report`,
`bot`, `storage`, `outbound`.
"""

__all__ = ["digest", "posting", "schedule", "taking"]
