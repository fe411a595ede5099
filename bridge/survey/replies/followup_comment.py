"""The person's answer to "what went wrong?" as exactly one comment on the Okdesk ticket.

Read before write: Okdesk has no idempotency key and may rewrite a comment's HTML, so the
comment ends with the survey's mark (`bridge.okdesk.marks`) and a retry after a lost answer
finds it there. It is written as the contact Okdesk showed and we invited (`survey.contact_id`);
a key whose role may not write as a contact is refused (okdesk.md §12), and then the employee
OKDESK_COMMENT_AUTHOR_ID (or else the ticket's engineer) writes it, private, quoting the
contact by name.
"""

from __future__ import annotations

import html
import logging

from bot.texts import messages
from bridge.config.settings import Settings
from bridge.okdesk.marks import CommentKind, already_posted, with_mark
from bridge.outside.vendors import Vendors
from outbound.errors import RejectedError
from storage.tables import Survey

log = logging.getLogger(__name__)


def as_html(text: str) -> str:
    """A person's text as Okdesk comment HTML: escaped, line breaks as `<br>` (okdesk.md §7)."""
    return "<br>".join(html.escape(line) for line in text.splitlines())


async def post_answer(
    survey: Survey, vendors: Vendors, settings: Settings, text: str, part: int
) -> bool:
    """Put the answer on the ticket once: as the contact, or quoted by an employee. Each
    answer kept is one comment, its `part` (the later ones quote all kept, appended). False
    when the ticket has it already."""
    assert survey.id is not None
    if survey.contact_id is None:
        raise RejectedError("the ticket's contact is not known: the comment has no author")
    helpdesk = vendors.helpdesk
    if already_posted(await helpdesk.comment_texts(survey.issue_id), survey.id, _KIND, part):
        log.info("followup.present survey_id=%s", survey.id)
        return False
    content = with_mark(as_html(text), survey.id, _KIND, part)
    try:
        await helpdesk.comment_issue(
            survey.issue_id,
            content=content,
            author_id=survey.contact_id,
            author_type="contact",
            public=settings.followup_comment_public,
        )
        return True
    except RejectedError as refused:
        employee = settings.okdesk_comment_author_id or survey.engineer_id
        if employee is None:
            raise
        log.warning("followup.contact_refused survey_id=%s error=%s", survey.id, refused)
    await _post_quoted(survey, vendors, settings, employee, (text, part))
    return True


async def _post_quoted(
    survey: Survey, vendors: Vendors, settings: Settings, employee: int, answer: tuple[str, int]
) -> None:
    """The employee's private comment quoting the contact (their name, or their Okdesk id)."""
    assert survey.id is not None and survey.contact_id is not None
    text, part = answer
    name = await vendors.helpdesk.contact_name(survey.contact_id) or str(survey.contact_id)
    heading = messages.text("followup_quoted", settings.language, name=name)
    quoted = f"{html.escape(heading)}<blockquote>{as_html(text)}</blockquote>"
    await vendors.helpdesk.comment_issue(
        survey.issue_id,
        content=with_mark(quoted, survey.id, _KIND, part),
        author_id=employee,
        author_type="employee",
        public=False,
    )


_KIND = CommentKind.FOLLOWUP
