"""What an engineer does in Okdesk that fires a webhook: change a ticket's status. The account's
webhook for «Изменение статуса заявки» posts `{"event", "issue"}` as JSON once (okdesk.md §2:
no signature, no retry); the contact sits at `issue.client.contact`, without an e-mail."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from sandbox.fakes._common import read_json_object

STATUS_NAMES = {
    "opened": "Открыта",
    "in_progress": "В работе",
    "completed": "Решена",
    "closed": "Закрыта",
}
# The account's time zone: Okdesk writes times with its offset (okdesk.md §5).
ACCOUNT_ZONE = timezone(timedelta(hours=3))
ENGINEER = {"id": 52, "first_name": "Алексей", "last_name": "Карпенко", "patronymic": "Сергеевич"}
ASSIGNEE = {"group": {"id": 1, "name": "Сервис"}, "employee": ENGINEER}


class Helpdesk(Protocol):
    """What the webhook routes need of the fake Okdesk."""

    issues: dict[int, dict[str, Any]]
    contacts: dict[int, dict[str, Any]]
    companies: dict[int, str]
    webhook_url: str


def _okdesk_time(moment: datetime) -> str:
    """A time as Okdesk writes it: milliseconds and the account's offset."""
    return moment.astimezone(ACCOUNT_ZONE).isoformat(timespec="milliseconds")


def _client(
    issue: dict[str, Any], contacts: dict[int, dict[str, Any]], companies: dict[int, str]
) -> dict[str, Any]:
    """`issue.client`: the company (named as seeded, else the reference's) and the contact,
    without an e-mail."""
    contact_id = (issue.get("contact") or {}).get("id")
    contact = contacts.get(int(contact_id)) if contact_id is not None else None
    if contact is None:
        return {"company": None, "contact": None}
    names = {key: contact.get(key, "") for key in ("first_name", "last_name", "patronymic")}
    number = contact.get("company_id")
    company = {"id": number, "name": companies.get(int(number or 0), "ООО Ромашка")}
    return {"company": company, "contact": {"id": contact["id"], **names}}


def status_webhook(
    issue: dict[str, Any],
    old_status: dict[str, Any],
    contacts: dict[int, dict[str, Any]],
    companies: dict[int, str] | None = None,
) -> dict[str, Any]:
    """The `new_ticket_status` webhook for a ticket (in its REST shape) that just moved."""
    client = _client(issue, contacts, companies or {})
    author = {**client["contact"], "type": "contact"} if client["contact"] else None
    event: dict[str, Any] = {"event_type": "new_ticket_status"}
    event["author"] = {**ENGINEER, "type": "employee"}
    event.update(old_status=old_status, new_status=issue["status"], comment=None)
    event.update(attachments=None, parameters=[], time_entries=[])
    event.update(old_assignee=ASSIGNEE, new_assignee=ASSIGNEE)
    rate = issue.get("rate")
    body: dict[str, Any] = {"id": issue["id"], "title": issue.get("title", "")}
    body["description"] = ""
    body.update(parent_id=None, child_ids=[], planned_execution_in_hours=None)
    body.update(type={"code": "service", "name": "Обслуживание", "inner": False})
    body.update(priority={"code": "normal", "name": "Важная"}, status=issue["status"])
    body.update(old_status=old_status, rate=rate.get("value") if isinstance(rate, dict) else rate)
    body.update(client=client, agreement=None, maintenance_entity=None, equipments=[])
    body.update(author=author, assignee=ASSIGNEE, coexecutors=[])
    body.update(observers={"employees": [], "contacts": [], "groups": []})
    body.update(created_at=issue.get("created_at"), deadline_at=None)
    body.update(planned_reaction_at=None, start_execution_until=None)
    body.update(completed_at=issue.get("completed_at"), reacted_at=issue.get("created_at"))
    body.update(parameters=[], attachments=[])
    return {"event": event, "issue": body}


def change_status(issue: dict[str, Any], code: str, now: datetime) -> dict[str, Any]:
    """Move a ticket to status `code`, as the REST API then shows it; its old status."""
    old = dict(issue.get("status") or {"code": "opened", "name": STATUS_NAMES["opened"]})
    issue["status"] = {"code": code, "name": STATUS_NAMES.get(code, code)}
    done = code in ("completed", "closed")
    if done and old.get("code") not in ("completed", "closed"):
        issue["completed_at"] = _okdesk_time(now)
    if not done:
        issue["completed_at"] = None
        issue["rate"] = None
    return old


async def post_webhook(url: str, payload: dict[str, Any]) -> int:
    """POST a webhook once, as Okdesk does; the receiver's status (0: no answer)."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            return (await client.post(url, json=payload)).status_code
    except httpx.HTTPError:
        return 0


def webhook_routes(fake: Helpdesk) -> list[BaseRoute]:
    """`/_fake/webhook` (the account's webhook URL) and `/_fake/status` (an engineer moves a
    ticket to another status; the webhook fires when one is set)."""

    async def webhook(request: Request) -> JSONResponse:
        """Set the URL the status webhook posts to ('' switches it off)."""
        fake.webhook_url = str((await read_json_object(request)).get("url", ""))
        return JSONResponse({"ok": True})

    async def status(request: Request) -> JSONResponse:
        """Move `issue_id` to status `code` and fire the webhook."""
        data = await read_json_object(request)
        issue = fake.issues.get(int(data["issue_id"]))
        if issue is None:
            return JSONResponse({"errors": "Не найдено"}, 404)
        old = change_status(issue, str(data.get("code", "closed")), datetime.now(ACCOUNT_ZONE))
        if not fake.webhook_url:
            return JSONResponse({"delivered": False, "status": None})
        sent = await post_webhook(
            fake.webhook_url, status_webhook(issue, old, fake.contacts, fake.companies)
        )
        return JSONResponse({"delivered": True, "status": sent})

    return [
        Route("/_fake/webhook", webhook, methods=["POST"]),
        Route("/_fake/status", status, methods=["POST"]),
    ]
