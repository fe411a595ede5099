"""Both vendors as the service reaches them: the Okdesk and Bitrix24 clients around one HTTP
client and the request budget every replica shares (`vendors`), the lanes that keep intake
first (`priority`), what the bot's removal from the portal stops (`bot_removal`), the
portals, each one's credentials behind one door (`portals`), a renamed portal's one redirect
followed (`renamed`), and the cap on each vendor's requests in flight, with the order an
invitation batch's requests wait in (`in_flight`).

May import: `bridge.config`, `bridge.okdesk`, `bot`, `storage`, `outbound`.
"""

__all__ = ["bot_removal", "in_flight", "portals", "priority", "vendors"]
