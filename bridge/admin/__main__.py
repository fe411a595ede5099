"""`python -m bridge.admin COMMAND`: the administrator's questions, answered.

Exit codes: 0 done, 1 a check failed or nothing was found (or the survey is in a state the
command does not act on), 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO

import httpx

from bridge.admin import check, portal_views, repairs, send_test, views
from bridge.admin.context import Context, Exit
from bridge.config.command_help import settings_help
from bridge.config.settings import Settings, settings_or_exit
from storage.db import create_db_engine
from storage.migrate import upgrade_or_exit
from storage.tables import SurveyState

Command = Callable[[Context, argparse.Namespace], Exit]
# The commands that talk to Okdesk or Bitrix24: with example settings they would only fail slowly.
ASKS_VENDORS = ("check", "send-test")
COMMANDS: dict[str, tuple[str, Command]] = {
    "status": ("surveys and jobs by state, failed ones with reasons", lambda c, _a: _status(c)),
    "retry-failed": ("queue failed work again", lambda c, _a: repairs.retry_command(c)),
    "check": (
        "check the setup against Okdesk and Bitrix24 and say what to fix",
        lambda c, _a: asyncio.run(check.run_checks(c)),
    ),
    "send-test": (
        "send the Bitrix24 user with this e-mail a test invitation (nothing goes to Okdesk)",
        lambda c, a: asyncio.run(send_test.send_test(c, a.email)),
    ),
    "list": (
        "the latest surveys, newest first",
        lambda c, a: views.list_surveys(c, a.state, a.limit),
    ),
    "show": (
        "every survey of a ticket, with its jobs",
        lambda c, a: views.show_ticket(c, a.ticket),
    ),
    "resend": (
        "send the ticket's invitation again (awaiting or undeliverable)",
        lambda c, a: repairs.resend(c, a.ticket),
    ),
    "cancel": (
        "withdraw the ticket's waiting survey without a rating",
        lambda c, a: repairs.cancel(c, a.ticket),
    ),
    "export": ("surveys as CSV on stdout (no e-mails, no tests)", lambda c, a: _export(c, a)),
}


PRINTS = {
    "status": "a count of surveys and jobs by state, then each failed one with its reason",
    "retry-failed": "how many failed jobs were queued again, and any that could not be",
    "check": "one line per check, `ok` or `FAIL` with what to fix; exit 1 if any failed",
    "send-test": "whom the test invitation was queued for, and the message as the person sees it",
    "list": "the latest surveys, one line each, newest first",
    "show": "every survey of the ticket with its jobs and their errors",
    "resend": "the survey queued again, or why not",
    "cancel": "the survey withdrawn, or why not",
    "export": "CSV (one row per survey, no e-mails, no tests) on stdout",
}


def _status(ctx: Context) -> Exit:
    ctx.say(views.status(ctx.engine))
    return Exit.OK


def _export(ctx: Context, args: argparse.Namespace) -> Exit:
    until = None if args.to is None else args.to + timedelta(days=1)
    return views.export_csv(ctx, args.since, until)


def _day(value: str) -> datetime:
    """A YYYY-MM-DD date as the UTC midnight it begins with."""
    return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)


def parser() -> argparse.ArgumentParser:
    """The command line: one subcommand each, each with its --help."""
    top = argparse.ArgumentParser(
        prog="python -m bridge.admin",
        description=__doc__,
        epilog=settings_help(
            "plain text on stdout (export: CSV); `check` and `send-test` also call Okdesk and "
            "Bitrix24, the others read the database only."
        ),
    )
    top.add_argument(
        "--env-file",
        metavar="PATH",
        help="read the settings from this file instead of ./.env (the environment still wins); "
        "`python -m sandbox` prints the one of its service",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub = {
        name: commands.add_parser(name, help=h, description=h, epilog=settings_help(PRINTS[name]))
        for name, (h, _) in COMMANDS.items()
    }
    sub["send-test"].add_argument("email", help="the person's e-mail address in Bitrix24")
    sub["list"].add_argument("--state", type=SurveyState, choices=list(SurveyState))
    sub["list"].add_argument("--limit", type=int, default=50, help="at most this many (50)")
    portal_views.add_parser(commands)
    for name in ("show", "resend", "cancel"):
        sub[name].add_argument("ticket", type=int, help="the Okdesk ticket number")
    sub["export"].add_argument(
        "--from",
        dest="since",
        metavar="YYYY-MM-DD",
        type=_day,
        help="created on or after, YYYY-MM-DD (UTC)",
    )
    sub["export"].add_argument(
        "--to", metavar="YYYY-MM-DD", type=_day, help="created on or before, YYYY-MM-DD (UTC)"
    )
    return top


def run(
    argv: list[str],
    settings: Settings,
    out: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Run one command on these settings (tests pass the fakes' transport)."""
    args = parser().parse_args(argv)
    if getattr(args, "limit", 1) < 1:
        sys.stderr.write("--limit must be at least 1\n")
        return Exit.USAGE
    engine = create_db_engine(settings.database_url, pool_size=1)
    try:
        context = Context(engine, settings, out, transport)
        if args.command == "portal":
            return int(portal_views.run(context, args))
        return int(COMMANDS[args.command][1](context, args))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: usage is checked before the settings are read."""
    arguments = sys.argv[1:] if argv is None else argv
    parsed = parser().parse_args(arguments)
    command = parsed.command
    settings = settings_or_exit(parsed.env_file)
    if command in ASKS_VENDORS and settings.placeholders():
        sys.stderr.write(
            f"{', '.join(settings.placeholders())} still hold the example values of example.env: "
            "set them in .env first\n"
        )
        return Exit.USAGE
    upgrade_or_exit(settings.database_url)
    return run(arguments, settings, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
