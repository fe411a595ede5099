"""Okdesk, the helpdesk: its data as we read it (`data`, `context`), its REST API (`client`)
with contacts' e-mails kept for a minute (`contacts`),
the marks our comments carry (`marks`), and the helpdesk the rest of the bridge talks to
(`helpdesk`).

May import: `outbound`. No other room.
"""

__all__ = ["client", "data", "helpdesk", "marks"]
