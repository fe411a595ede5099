"""`python -m bridge.admin portal …`: connect portals, say which company goes where, list them.

The work is `bridge.portals` (the /admin page does the same through it); this module reads
the arguments and prints the answer, or the one line that says why not.
"""

from __future__ import annotations

import argparse
import asyncio

from bridge.admin.context import Context, Exit
from bridge.outside.portals import ensure_default
from bridge.portals import connect, directory
from bridge.portals.texts import PortalError

HELP = {
    "add": "connect a portal by its incoming webhook: check it, register the bot, store it",
    "map": "ask this Okdesk company's people in this portal",
    "unmap": "forget the company's portal (its closures go to `default`, if there is one)",
    "list": "each portal: name, domain, state, companies, waiting surveys, requests left",
    "remove": "unregister the portal's bot, cancel its waiting surveys (history stays)",
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `portal` command and its own subcommands, each with --help."""
    top = commands.add_parser("portal", help="several Bitrix24 portals", description=__doc__)
    sub = top.add_subparsers(dest="portal_command", required=True, metavar="PORTAL_COMMAND")
    parsers = {name: sub.add_parser(name, help=h, description=h) for name, h in HELP.items()}
    parsers["add"].add_argument("name", help="a short name: a-z 0-9 - _ (e.g. acme)")
    parsers["add"].add_argument("webhook_url", help="https://<portal>/rest/<user>/<code>/")
    parsers["add"].add_argument(
        "--api",
        choices=("v1", "v2"),
        default="v1",
        help="the bot's API: v1 (events posted to PUBLIC_URL) or v2 (events fetched)",
    )
    parsers["add"].add_argument(
        "--member-id",
        help="pin the portal's installation (auth[member_id] of its events); "
        "without it, the first genuine event pins it",
    )
    for name in ("map", "unmap"):
        parsers[name].add_argument("company_id", type=int, help="the Okdesk company's id")
    parsers["map"].add_argument("name", help="the portal's name (portal list)")
    parsers["remove"].add_argument("name", help="the portal's name (portal list)")


def run(ctx: Context, args: argparse.Namespace) -> Exit:
    """Run one `portal` subcommand; a refusal is one line (exit 2 for bad usage, else 1)."""
    command = args.portal_command
    # The settings' portal is `default` here too, before the service's first start.
    ensure_default(ctx.engine, ctx.settings, ctx.clock())
    try:
        if command == "add":
            return asyncio.run(_add(ctx, args))
        if command == "remove":
            return asyncio.run(_remove(ctx, args.name))
        if command == "map":
            directory.map_company(ctx.engine, company_id=args.company_id, name=args.name)
            ctx.say(f"company {args.company_id}: its closures go to portal {args.name}")
        elif command == "unmap":
            directory.unmap_company(ctx.engine, company_id=args.company_id)
            ctx.say(f"company {args.company_id}: no portal of its own now")
        else:
            _list(ctx)
    except PortalError as exc:
        ctx.out.write(f"portal {command}: {exc.said('en')}\n")
        return Exit.USAGE if exc.usage else Exit.FAILED
    return Exit.OK


async def _add(ctx: Context, args: argparse.Namespace) -> Exit:
    name = args.name
    async with ctx.http() as http:
        done = await connect.add(
            ctx.engine,
            ctx.settings,
            http,
            name=name,
            url=args.webhook_url,
            api=args.api,
            member_id=args.member_id,
            clock=ctx.clock,
        )
    portal = done.portal
    ctx.say(f"portal {name}: number {portal.id}, domain {portal.domain}, API {portal.api}")
    if done.bot_token:
        ctx.say(f"bot {done.bot_id} with code {portal.bot_code!r}, bot token {done.bot_token}")
        ctx.say("events: fetched by the service (imbot.v2.Event.get; no PUBLIC_URL needed)")
    else:
        ctx.say(f"bot {done.bot_id} with code {portal.bot_code!r}, CLIENT_ID {done.client_id}")
        ctx.say(f"events: {done.events_url}")
    pinned = portal.member_id or "not pinned yet: its first genuine event pins it"
    ctx.say(f"member_id: {pinned}")
    ctx.say(f"secrets sealed with key {done.key_id}; map companies: portal map ID {name}")
    return Exit.OK


async def _remove(ctx: Context, name: str) -> Exit:
    async with ctx.http() as http:
        done = await connect.remove(ctx.engine, ctx.settings, http, name=name, clock=ctx.clock)
    if done.unregister_failed is not None:
        failed = done.unregister_failed
        said = f"the bot could not be unregistered ({failed}): remove it in Bitrix24"
    else:
        said = f"bot {done.bot_id} unregistered" if done.bot_id is not None else "it had no bot"
    ctx.say(f"portal {name} removed: {said}; {done.cancelled} waiting survey(s) cancelled")
    return Exit.OK


def _list(ctx: Context) -> None:
    """One line per portal."""
    lines = directory.portal_lines(ctx.engine, ctx.settings)
    if not lines:
        ctx.say("no portal yet: the service stores `default` when it starts")
    ctx.say("name\tdomain\tstate\tcompanies\twaiting\trequests left")
    for line in lines:
        state = (
            line.state
            if line.blocked_until is None
            else f"{line.state} until {line.blocked_until:%Y-%m-%d %H:%M}Z"
        )
        ctx.say(
            f"{line.name}\t{line.domain}\t{state}\t{line.companies}\t"
            f"{line.waiting}\t{line.requests_left}"
        )
