"""`POST /_fake/delete_bot {"bot_id": N}`: the portal's administrator deletes our bot by hand
(Applications → Chat bots), as happens on a client's portal without our knowing. The bot and
its commands go, and Bitrix24 posts ONIMBOTDELETE to the bot's EVENT_BOT_DELETE handler
(bitrix24.md §4), with `data[BOT_ID]`, `data[BOT_CODE]` and the portal's `auth` block. With no
`bot_id`, the portal's first bot."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.fakes._common import read_json_object
from sandbox.fakes.bitrix.people import Pairs, PeopleMethods, deliver
from sandbox.fakes.bitrix.php import as_str

# The portal's administrator, who deleted it (`auth[user_id]` when events carry tokens).
ADMINISTRATOR = 1


def deleted_by_hand(fake: PeopleMethods, bot_id: int | None) -> tuple[str, bytes] | None:
    """Delete the bot; where Bitrix24 posts ONIMBOTDELETE and its body (None: no such bot)."""
    bot = fake.bots.get(bot_id) if bot_id else next(iter(fake.bots.values()), None)
    if bot is None:
        return None
    url = as_str(bot.get("EVENTS", {}).get("ONIMBOTDELETE"))
    del fake.bots[bot["ID"]]
    for command_id in [k for k, c in fake.commands.items() if c["BOT_ID"] == bot["ID"]]:
        del fake.commands[command_id]
    pairs: Pairs = [
        ("event", "ONIMBOTDELETE"),
        ("event_handler_id", 439),
        ("data[BOT_ID]", bot["ID"]),
        ("data[BOT_CODE]", bot["CODE"]),
    ]
    tail = fake._tail(ADMINISTRATOR, as_str(bot["CLIENT_ID"]))
    return url, urlencode(pairs + tail).encode()


def removal_route(fake: PeopleMethods) -> Route:
    """The control route that deletes a bot by hand and delivers the event."""

    async def delete_bot(request: Request) -> JSONResponse:
        data = await read_json_object(request)
        found = deleted_by_hand(fake, int(data["bot_id"]) if data.get("bot_id") else None)
        if found is None:
            return JSONResponse({"deleted": False, "status": None})
        url, body = found
        status = await deliver(url, body) if url else None
        return JSONResponse({"deleted": True, "status": status})

    return Route("/_fake/delete_bot", delete_bot, methods=["POST"])
