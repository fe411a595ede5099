"""Calls to Bitrix24 that share requests: whatever the bot asks at about the same time travels
in one `batch` request (`shared`), each call keeping its own answer or error. Both messengers
(imbot v1 and imbot.v2) send through it.

May import: `bot.client`, `bot.users`, `bot.wire`, `outbound`.
"""

__all__ = ["shared"]
