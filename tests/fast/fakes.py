"""In-memory Okdesk and Bitrix24 behind the service's two interfaces (`Helpdesk`, `Messenger`).

They keep what a person would see (tickets and their ratings, the chat with its buttons) and
fail on demand with the vendor errors the service handles: `fail("send", TransientError(...))`
makes the next call of that method raise (or, for a batch, fail that one message).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage
from bot.users import BitrixUser
from bridge.okdesk.data import Ticket, TicketPage
from outbound.errors import DeliveryError, RejectedError
from sandbox.fakes.okdesk.readings import rewritten


class Failures:
    """Errors queued per method name, raised by the next calls of that method in turn."""

    def __init__(self) -> None:
        self._queued: defaultdict[str, deque[DeliveryError]] = defaultdict(deque)

    def fail(self, method: str, *errors: DeliveryError) -> None:
        """Make the next `len(errors)` calls of `method` fail with these errors."""
        self._queued[method].extend(errors)

    def next_error(self, method: str) -> DeliveryError | None:
        """The error the call of `method` now fails with, if one is queued."""
        queued = self._queued[method]
        return queued.popleft() if queued else None

    def check(self, method: str) -> None:
        """Raise the error queued for `method`, if any."""
        error = self.next_error(method)
        if error is not None:
            raise error


class Comment(NamedTuple):
    """A comment on a ticket, as the helpdesk keeps it (compares equal to the plain tuple)."""

    issue_id: int
    content: str
    author_id: int
    author_type: str
    public: bool


class MemoryHelpdesk:
    """Okdesk as a dict of tickets and a dict of contacts' e-mails."""

    def __init__(self) -> None:
        self.tickets: dict[int, Ticket] = {}
        self.emails: dict[int, str | None] = {}
        self.names: dict[int, str] = {}
        # Every rating written, in order: (ticket, bad / normal / good).
        self.rated: list[tuple[int, str]] = []
        self.comments: list[Comment] = []
        self.failures = Failures()
        # Calls whose work is done but whose answer is lost: they raise after it.
        self.lost = Failures()
        # The unsettled readings (okdesk.md §12), lenient here; the sandbox's fake is strict.
        self.rewrite_html = False
        self.contact_comments_refused = False
        self.second_rating = "replaced"  # or "ignored", "refused"

    def fail(self, method: str, *errors: DeliveryError) -> None:
        """Make the next calls of `method` (`ticket`, `rate_issue`, ...) fail."""
        self.failures.fail(method, *errors)

    def lose(self, method: str, *errors: DeliveryError) -> None:
        """Make the next calls of `method` do their work, then fail (the answer lost)."""
        self.lost.fail(method, *errors)

    def set_status(self, issue_id: int, status: str) -> None:
        """Move a ticket to another status, as an engineer would in Okdesk."""
        self.tickets[issue_id] = replace(self.tickets[issue_id], status=status)

    async def ticket(self, issue_id: int) -> Ticket | None:
        """The ticket as it is now; None when there is none."""
        self.failures.check("ticket")
        return self.tickets.get(issue_id)

    async def contact_email(self, contact_id: int) -> str | None:
        """The contact's e-mail; None when the contact has none or is unknown."""
        self.failures.check("contact_email")
        return self.emails.get(contact_id)

    async def contact_name(self, contact_id: int) -> str | None:
        """The contact's name; None when it has none or is unknown."""
        self.failures.check("contact_name")
        return self.names.get(contact_id)

    async def issue_rate(self, issue_id: int) -> str | None:
        """The rating the ticket shows now."""
        self.failures.check("issue_rate")
        found = self.tickets.get(issue_id)
        return None if found is None else found.rate

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        """Rate the ticket (it then shows the rating)."""
        self.failures.check("rate_issue")
        second = self.second_rating if self.tickets[issue_id].rate else "replaced"
        if second == "refused":
            raise RejectedError("Okdesk rating: HTTP 422 {'rate': ['уже выставлена']}")
        if second == "replaced":
            self.tickets[issue_id] = replace(self.tickets[issue_id], rate=rate)
        self.rated.append((issue_id, rate))
        self.lost.check("rate_issue")

    # --- issue 10: comments ---
    async def comment_issue(
        self, issue_id: int, *, content: str, author_id: int, author_type: str, public: bool
    ) -> None:
        """Add a comment to the ticket (kept in `comments`, oldest first)."""
        self.failures.check("comment_issue")
        if author_type == "contact" and self.contact_comments_refused:
            raise RejectedError("Okdesk comment: HTTP 403 Доступ запрещен")
        stored = rewritten(content) if self.rewrite_html else content
        self.comments.append(Comment(issue_id, stored, author_id, author_type, public))
        self.lost.check("comment_issue")

    async def comment_texts(self, issue_id: int) -> list[str]:
        """The contents of the ticket's comments, oldest first."""
        self.failures.check("comment_texts")
        return [c.content for c in self.comments if c.issue_id == issue_id]

    async def completed_tickets(
        self, statuses: list[str], since: datetime, page: int, page_size: int = 50
    ) -> TicketPage:
        """One page of the tickets in `statuses` completed since `since`, by id."""
        self.failures.check("completed_tickets")
        found = [
            t
            for _, t in sorted(self.tickets.items())
            if t.status in statuses and (t.completed_at is None or t.completed_at >= since)
        ]
        listed = found[(page - 1) * page_size : page * page_size]
        return TicketPage(tickets=listed, listed=len(listed))


@dataclass
class Posted:
    """A bot message as the chat shows it now (its text and buttons after any edit)."""

    dialog_id: str
    message: ChatMessage
    edits: int = 0

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The message's buttons; none once a keyboard-less edit took them away."""
        keyboard = self.message.keyboard or {}
        buttons: list[dict[str, Any]] = keyboard.get("BUTTONS", [])
        return buttons


class MemoryMessenger:
    """Bitrix24 as a chat log, a list of users and the owners of access tokens."""

    def __init__(self) -> None:
        self.users: list[BitrixUser] = []
        self.token_owners: dict[str, int] = {}
        self.bot_id: int | None = 567
        self.chat: dict[int, Posted] = {}
        # Messages Bitrix24 will no longer edit (too old): editing them raises.
        self.uneditable: set[int] = set()
        self.failures = Failures()
        self._last_id = 9000

    def fail(self, method: str, *errors: DeliveryError) -> None:
        """Make the next calls of `method` fail (`send` covers each message of `send_many`)."""
        self.failures.fail(method, *errors)

    def dialog(self, dialog_id: str) -> list[Posted]:
        """The bot's messages in one dialog, oldest first."""
        return [posted for posted in self.chat.values() if posted.dialog_id == dialog_id]

    async def send(self, dialog_id: str, message: ChatMessage) -> int:
        """Post a message; its id."""
        self.failures.check("send")
        return self._post(dialog_id, message)

    def _post(self, dialog_id: str, message: ChatMessage) -> int:
        self._last_id += 1
        self.chat[self._last_id] = Posted(dialog_id, message)
        return self._last_id

    async def edit(self, message_id: int, message: ChatMessage) -> None:
        """Replace a message's text and keyboard (no keyboard: the buttons go)."""
        self.failures.check("edit")
        if message_id in self.uneditable or message_id not in self.chat:
            raise MessageNotEditableError("imbot.message.update: CANT_EDIT_MESSAGE")
        posted = self.chat[message_id]
        self.chat[message_id] = Posted(posted.dialog_id, message, posted.edits + 1)

    async def send_many(
        self, messages: Mapping[str, tuple[str, ChatMessage]]
    ) -> dict[str, int | DeliveryError]:
        """Post each message; a failure queued for `send` fails only its own message."""
        outcomes: dict[str, int | DeliveryError] = {}
        for key, (dialog_id, message) in messages.items():
            error = self.failures.next_error("send")
            outcomes[key] = error if error is not None else self._post(dialog_id, message)
        return outcomes

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """The active users with each e-mail, ignoring case."""
        found: dict[str, list[BitrixUser] | DeliveryError] = {}
        for key, email in emails.items():
            error = self.failures.next_error("find_users_by_emails")
            found[key] = error or [
                u for u in self.users if u.active and u.email.lower() == email.lower()
            ]
        return found

    async def token_owner(self, access_token: str) -> int | None:
        """Whose access token this is; None when the portal does not know it."""
        self.failures.check("token_owner")
        return self.token_owners.get(access_token)

    def known_bot_id(self) -> int | None:
        """The bot's id (configured)."""
        return self.bot_id

    async def bot_listed(self) -> bool:
        """Whether the portal lists the bot: always, in memory."""
        return True
