"""`python -m bridge.admin portal …`: connect portals, say which company goes where, list them.

`add` and `remove` talk to Bitrix24 (`bridge.admin.portal_add`); `map`, `unmap` and `list`
read and write the database only.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlmodel import Session

from bridge.admin import portal_add
from bridge.admin.context import Context, Exit
from bridge.config.settings import Settings
from bridge.outside.portals import ensure_default
from bridge.outside.vendors import budget_shape
from storage import budget, portals
from storage.db import transaction
from storage.portals import PortalState

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
    parsers["add"].add_argument("--api", choices=("v1", "v2"), default="v1")
    for name in ("map", "unmap"):
        parsers[name].add_argument("company_id", type=int, help="the Okdesk company's id")
    parsers["map"].add_argument("name", help="the portal's name (portal list)")
    parsers["remove"].add_argument("name", help="the portal's name (portal list)")


def run(ctx: Context, args: argparse.Namespace) -> Exit:
    """Run one `portal` subcommand."""
    command = args.portal_command
    # The settings' portal is `default` here too, before the service's first start.
    ensure_default(ctx.engine, ctx.settings, ctx.clock())
    if command == "add":
        return asyncio.run(portal_add.add(ctx, args.name, args.webhook_url, args.api))
    if command == "remove":
        return asyncio.run(portal_add.remove(ctx, args.name))
    if command == "map":
        return map_company(ctx, args.company_id, args.name)
    if command == "unmap":
        return unmap_company(ctx, args.company_id)
    return list_portals(ctx)


def map_company(ctx: Context, company_id: int, name: str) -> Exit:
    """Send the company's closures to the portal named `name`."""
    with transaction(ctx.engine) as session:
        portal = portals.portal_named(session, name=name)
        if portal is None or portal.state == PortalState.REMOVED:
            ctx.out.write(f"portal map: no portal named {name!r} (see portal list)\n")
            return Exit.FAILED
        portals.map_company(session, company_id=company_id, portal_id=portal.id)
    ctx.say(f"company {company_id}: its closures go to portal {name}")
    return Exit.OK


def unmap_company(ctx: Context, company_id: int) -> Exit:
    """Forget the company's portal."""
    with transaction(ctx.engine) as session:
        had = portals.unmap_company(session, company_id=company_id)
    if not had:
        ctx.out.write(f"portal unmap: company {company_id} is not mapped to a portal\n")
        return Exit.FAILED
    ctx.say(f"company {company_id}: no portal of its own now")
    return Exit.OK


def list_portals(ctx: Context) -> Exit:
    """One line per portal."""
    with transaction(ctx.engine) as session:
        rows = portals.all_portals(session)
        companies = portals.companies_per_portal(session)
        waiting = portals.waiting_per_portal(session, numbers=[r.id for r in rows])
        left = {r.id: _requests_left(session, ctx.settings, r.id) for r in rows}
    if not rows:
        ctx.say("no portal yet: the service stores `default` when it starts")
    ctx.say("name\tdomain\tstate\tcompanies\twaiting\trequests left")
    for row in rows:
        state = (
            row.state
            if row.blocked_until is None
            else f"{row.state} until {row.blocked_until:%Y-%m-%d %H:%M}Z"
        )
        ctx.say(
            f"{row.name}\t{row.domain}\t{state}\t{companies.get(row.id, 0)}\t"
            f"{waiting.get(row.id, 0)}\t{left[row.id]}"
        )
    return Exit.OK


def _requests_left(session: Session, settings: Settings, number: int) -> int:
    """Requests the portal's shared budget would grant now (`bridge.outside.vendors`)."""
    shape = budget_shape(settings, number)
    left = budget.tokens_left(
        session, name=shape.name, now=time.time(), burst=shape.burst, per_second=shape.per_second
    )
    return int(left)
