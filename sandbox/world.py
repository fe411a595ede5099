"""The sandbox's little world: a few people who are both Okdesk contacts and Bitrix24 users (the
same e-mail in both), and their tickets, solved and waiting to be closed.

With `--portals 2` a second client company, ООО Лютик, has its own Bitrix24 portal (`lyutik`)
and two people there, one of them user 27 as on the first portal: two people, one id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sandbox.processes import Fakes

COMPANY_ID = 2058
# The second client company and the portal its people are asked in (`--portals 2`).
CLIENT_COMPANY_ID = 3001
CLIENT_PORTAL = "lyutik"
COMPANIES = {COMPANY_ID: "ООО Ромашка", CLIENT_COMPANY_ID: "ООО Лютик"}
ACCOUNT_ZONE = timezone(timedelta(hours=3))


@dataclass(frozen=True)
class Person:
    """Someone who asked for help: an Okdesk contact and the Bitrix24 user with their e-mail."""

    contact_id: int
    user_id: int
    first_name: str
    last_name: str
    email: str
    position: str
    # The Bitrix24 portal they are in: 0 the settings' own, 1 the client's (`--portals 2`).
    portal: int = 0

    @property
    def name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"

    @property
    def key(self) -> int:
        """Who the page shows (`?who=`): the user id, told apart by portal (ids repeat)."""
        return self.portal * PORTAL_KEYS + self.user_id

    @property
    def company_id(self) -> int:
        """Their Okdesk company."""
        return CLIENT_COMPANY_ID if self.portal else COMPANY_ID

    @property
    def fake(self) -> str:
        """The fake portal they are in, as the fakes name it."""
        return f"bitrix:{self.portal}" if self.portal else "bitrix"


PORTAL_KEYS = 1000


PEOPLE = (
    Person(11771, 27, "Иван", "Петров", "i.petrov@romashka.example", "Бухгалтер"),
    Person(11772, 31, "Светлана", "Иванова", "s.ivanova@romashka.example", "Кассир"),
    Person(11790, 44, "Олег", "Смирнов", "o.smirnov@romashka.example", "Кладовщик"),
)
CLIENT_PEOPLE = (
    Person(12801, 27, "Анна", "Козлова", "a.kozlova@lyutik.example", "Менеджер", portal=1),
    Person(12802, 35, "Пётр", "Волков", "p.volkov@lyutik.example", "Инженер", portal=1),
)
# The support team's lead: a Bitrix24 user (no Okdesk contact) in the team's chat, where the bot
# posts an alert for each low rating (ALERT_DIALOG_ID) and she can press «Беру».
LEAD = Person(0, 52, "Мария", "Лебедева", "m.lebedeva@support.example", "Руководитель поддержки")
TEAM_CHAT_ID = 1157
TEAM_CHAT = f"chat{TEAM_CHAT_ID}"
# (ticket number, title, the contact who asked)
TICKETS = (
    (314599, "Касса не печатает чек", 11771),
    (314600, "Не приходит почта на телефон", 11772),
    (314601, "Принтер в бухгалтерии замял бумагу", 11771),
    (314602, "Нужен доступ к складской программе", 11790),
    (314603, "Медленно работает VPN из дома", 11772),
)
CLIENT_TICKETS = (
    (314610, "Не открывается 1С на складе", 12801),
    (314611, "Сломался сканер штрихкодов", 12802),
)


def people(portals: int) -> tuple[Person, ...]:
    """Everyone who asks for help, in the portals there are."""
    return PEOPLE + (CLIENT_PEOPLE if portals > 1 else ())


def tickets(portals: int) -> tuple[tuple[int, str, int], ...]:
    """Every ticket, in the portals there are."""
    return TICKETS + (CLIENT_TICKETS if portals > 1 else ())


def person_of_ticket(number: int) -> Person | None:
    """The person who asked for ticket `number` (None for a ticket not of this world)."""
    contact_id = next((c for n, _title, c in tickets(2) if n == number), None)
    return next((p for p in people(2) if p.contact_id == contact_id), None)


def contact(person: Person) -> dict[str, Any]:
    """The person as Okdesk's `GET /api/v1/contacts/` shows them (okdesk.md §4)."""
    return {
        "id": person.contact_id,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "patronymic": "",
        "name": f"{person.last_name} {person.first_name}",
        "position": person.position,
        "email": person.email,
        "phone": None,
        "mobile_phone": None,
        "comment": None,
        "login": None,
        "company_id": person.company_id,
        "additional_emails": [],
        "active": True,
        "parameters": [],
    }


def user(person: Person) -> dict[str, Any]:
    """The person as Bitrix24's `user.get` answers them (bitrix24.md §6)."""
    return {
        "ID": str(person.user_id),
        "ACTIVE": True,
        "NAME": person.first_name,
        "LAST_NAME": person.last_name,
        "EMAIL": person.email,
        "USER_TYPE": "employee",
        "UF_DEPARTMENT": [5],
    }


def issue(number: int, title: str, person: Person, now: datetime) -> dict[str, Any]:
    """A ticket solved an hour before `now`, as Okdesk's REST API shows it (okdesk.md §5),
    ready to be closed: one solved longer than RECONCILE_MAX_AGE ago would not be surveyed."""
    return {
        "id": number,
        "title": title,
        "status": {"code": "completed", "name": "Решена"},
        "rate": None,
        "created_at": _okdesk_time(now - timedelta(hours=6)),
        "completed_at": _okdesk_time(now - timedelta(hours=1)),
        "contact": {"id": person.contact_id, "name": f"{person.last_name} {person.first_name}"},
        # The engineer the fake's status webhook names (REST's `assignee{id,name}`).
        "assignee": {"id": 52, "name": "Алексей Сергеевич Карпенко"},
    }


def _okdesk_time(moment: datetime) -> str:
    """A time as Okdesk writes it: milliseconds and the account's offset (+03:00)."""
    return moment.astimezone(ACCOUNT_ZONE).isoformat(timespec="milliseconds")


def team_chat(bot_codes: list[str]) -> dict[str, Any]:
    """The team's group chat as the fake portal seeds it: the lead and the bot in it."""
    title = "Поддержка: низкие оценки"
    return {"ID": TEAM_CHAT_ID, "TITLE": title, "USERS": [LEAD.user_id], "BOT_CODES": bot_codes}


def seed(fakes: Fakes, bot_codes: list[str], portals: int = 1) -> None:
    """Put the people, their tickets and the team's chat (with the bot) into the fakes."""
    everyone = people(portals)
    by_contact = {person.contact_id: person for person in everyone}
    contacts = {str(p.contact_id): contact(p) for p in everyone}
    now = datetime.now(UTC)
    issues = {str(n): issue(n, title, by_contact[c], now) for n, title, c in tickets(portals)}
    companies = {str(number): name for number, name in COMPANIES.items()}
    fakes.seed("okdesk", {"contacts": contacts, "issues": issues, "companies": companies})
    users = [user(person) for person in (*PEOPLE, LEAD)]
    fakes.seed("bitrix", {"users": users, "chats": [team_chat(bot_codes)]})
    if portals > 1:
        fakes.seed("bitrix:1", {"users": [user(person) for person in CLIENT_PEOPLE]})
