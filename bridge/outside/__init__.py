"""Both vendors as the service reaches them: the Okdesk and Bitrix24 clients around one HTTP
client and the request budget every replica shares (`vendors`), the lanes that keep intake
first (`priority`), what the bot's removal from the portal stops (`bot_removal`), the
portals, each one's credentials behind one door (`portals`), and a renamed portal's one
redirect followed (`renamed`).

May import: `bridge.config`, `bridge.okdesk`, `bot`, `storage`, `outbound`.
"""

__all__ = ["bot_removal", "portals", "priority", "vendors"]
