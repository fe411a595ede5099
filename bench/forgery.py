"""Attacks by someone holding the bot's handler URL (issue 23, points 1 and 6), each beside its
baseline in one run:

    .venv/bin/python -m bench.forgery [--closures 20]

1. A forged typed «5» in the survey person's name, with `DIALOG_ID` set to the attacker's own
   chat: how many messages with survey buttons reached the attacker's chat, and with how many
   survey tokens.
2. Twenty events whose `DIALOG_ID` is 62 KiB long: what they were answered and how much the
   SQLite file grew, beside twenty ordinary events.
3. Closures invited with the portal's real limit on (burst 50, then 2 requests a second):
   seconds until all are invited, with no attack and while forged replies with junk access
   tokens arrive five a second in the name of a person who has surveys waiting.
The service and the fakes run as processes on 127.0.0.1, SQLite. Nothing is asserted: it
prints the figures. Run it in an older checkout to measure the code before.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.attacks import Tickets, attacking, service_and_fakes
from bench.report import table
from harness.constants import EVENTS_TOKEN, USER_ID, WEBHOOK_TOKEN
from harness.payloads import closed_webhook, reply_body
from harness.processes import (
    Fakes,
    Service,
)
from harness.senders import EVENTS, WEBHOOK

ATTACKER = "44"
FORM = {"content-type": "application/x-www-form-urlencoded"}


# The portal's host, which every event names (the fake portal listens on the loopback).
PORTAL = "127.0.0.1"


def forged_reply(text: str, dialog_id: str, message_id: int) -> bytes:
    """A typed reply in the survey person's name, from our portal, with a junk access token."""
    fields = {
        "data[PARAMS][DIALOG_ID]": dialog_id,
        "auth[domain]": PORTAL,
        "auth[access_token]": "junk" + "0" * 28,
    }
    return reply_body(text, message_id, **fields)


def post_event(client: httpx.Client, service: Service, body: bytes) -> int:
    """POST an event to the bot's handler URL, as whoever holds it; the answer's status."""
    url = service.url + EVENTS
    return client.post(url, params={"token": EVENTS_TOKEN}, content=body, headers=FORM).status_code


def close(client: httpx.Client, service: Service, issues: list[int]) -> None:
    """Closure webhooks for these tickets."""
    for issue in issues:
        client.post(
            service.url + WEBHOOK, params={"token": WEBHOOK_TOKEN}, json=closed_webhook(issue)
        )


def invited(fakes: Fakes, client: httpx.Client) -> list[dict[str, object]]:
    """The bot messages the fake portal holds."""
    state = client.get(f"{fakes.bitrix}/_fake/state").json()
    return [m for m in state["messages"].values() if "AUTHOR_ID" not in m]


def leaked(fakes: Fakes, client: httpx.Client) -> str:
    """Messages in the attacker's chat, and the survey tokens their buttons carry."""
    messages = [m for m in invited(fakes, client) if str(m.get("DIALOG_ID")) == ATTACKER]
    keyboards = json.dumps([m.get("KEYBOARD") for m in messages])
    tokens = set(re.findall(r'"COMMAND_PARAMS": "([\w-]+):[1-5]"', keyboards))
    return f"{len(messages)} messages, {len(tokens)} survey tokens"


def growth(
    client: httpx.Client, service: Service, db: Path, dialog_id: str, name: str
) -> list[tuple[str, str]]:
    """Twenty events with this DIALOG_ID: their answers, and what the database grew by."""
    before = stored(db)
    answers = Counter(
        post_event(client, service, forged_reply("5", dialog_id, 88100 + n)) for n in range(20)
    )
    time.sleep(1)
    grown = stored(db) - before
    return [(f"{name}: answers, stored", f"{dict(answers)}, {grown / 1024:.0f} KiB")]


def stored(db: Path) -> int:
    """Bytes the SQLite database holds in use: its pages, less the free ones."""
    with sqlite3.connect(db, timeout=30) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def wait_invited(fakes: Fakes, client: httpx.Client, count: int, bound: float = 120) -> float:
    """Seconds until the portal holds `count` invitations (bound: gave up)."""
    began = time.perf_counter()
    while time.perf_counter() - began < bound:
        if len(invited(fakes, client)) >= count:
            return time.perf_counter() - began
        time.sleep(0.1)
    return bound


def forging(service: Service) -> Callable[[threading.Event], None]:
    """Forged replies with junk tokens, five a second."""

    def send(stop: threading.Event) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                post_event(client, service, forged_reply("5", str(USER_ID), 90000 + n))
                time.sleep(0.2)

    return send


def measure(service: Service, fakes: Fakes, db: Path, closures: int) -> list[tuple[str, str]]:
    """Each figure beside its baseline, in this order, on one service."""
    tickets = Tickets()
    rows: list[tuple[str, str]] = []
    with httpx.Client(timeout=30) as client:
        close(client, service, tickets.take(1))
        wait_invited(fakes, client, 1)
        status = post_event(client, service, forged_reply("5", ATTACKER, 88001))
        time.sleep(3)
        rows.append(("1. forged «5» aimed at the attacker's chat: answer", str(status)))
        rows.append(("   reached the attacker's chat", leaked(fakes, client)))
        rows += growth(client, service, db, str(USER_ID), "2. 20 ordinary events")
        # The whole request is 62 KiB, under the 64 KiB body limit.
        huge = "chat" + "9" * (58 * 1024)
        rows += growth(client, service, db, huge, "   20 with a 62 KiB DIALOG_ID")
        client.post(f"{fakes.bitrix}/_fake/rate_limit", json={"enabled": True, "burst": 50})
        time.sleep(25)  # the bucket drains the lookups of the steps above
        issued = len(invited(fakes, client))
        close(client, service, tickets.take(closures))
        seconds = wait_invited(fakes, client, issued + closures)
        rows.append((f"3. {closures} closures invited, no attack", f"{seconds:.1f} s"))
        time.sleep(25)
        issued = len(invited(fakes, client))
        with attacking(forging(service)):
            time.sleep(15)  # the forged replies' checks have had time to spend the budget
            issued = len(invited(fakes, client))
            close(client, service, tickets.take(closures))
            seconds = wait_invited(fakes, client, issued + closures)
        rows.append(("   under 5 forged replies a second", f"{seconds:.1f} s"))
    return rows


def run(tmp: Path, closures: int) -> list[tuple[str, str]]:
    """Start the fakes and the service on SQLite, attack it, and the figures as rows."""
    db = tmp / "rating.db"
    with service_and_fakes(tmp, f"sqlite:///{db}") as (service, fakes):
        return measure(service, fakes, db, closures)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.forgery", description=__doc__)
    parser.add_argument("--closures", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-forgery-") as directory:
        rows = run(Path(directory), args.closures)
    table("Attacks with the handler URL, each beside its baseline (SQLite)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
