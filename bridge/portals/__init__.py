"""Connecting the clients' Bitrix24 portals, for the command (`python -m bridge.admin portal`)
and the /admin page alike: add or remove a portal through its incoming webhook (`connect`),
say which Okdesk company goes to which portal and list what each portal is doing
(`directory`), the page's section of them (`section`), and say why a step was refused, in
Russian or English (`texts`).

May import: `bridge.config`, `bridge.rules`, `bridge.outside`, `bot`, `storage`, `outbound`.
"""

__all__ = ["connect", "directory", "section", "texts"]
