"""An automatic rating says so in Okdesk too (issue 10): once the default rating shows on the
ticket, a private comment says it was set automatically and why (AUTO_RATING_COMMENT).

A queued job like any other: retried while Okdesk fails, failed (for the administrator to
retry) when Okdesk refuses it, never dropped. The comment is written as the employee
OKDESK_COMMENT_AUTHOR_ID, or else as the ticket's engineer from the closure webhook: Okdesk
wants an author for every comment (okdesk.md §7). Okdesk has no idempotency key: the ticket's
comments are read first, and one that carries this survey's mark (`bridge.okdesk.marks`: it
survives Okdesk rewriting the HTML) is not posted again.
"""

from __future__ import annotations

import html
import logging

from bot.texts import messages
from bridge.config.durations import spoken
from bridge.config.settings import Settings
from bridge.okdesk.marks import CommentKind, already_posted, with_mark
from bridge.outside.vendors import Vendors
from outbound.errors import RejectedError
from storage.tables import Survey

log = logging.getLogger(__name__)


def comment_text(survey: Survey, settings: Settings) -> str:
    """The comment, in the service's language, as Okdesk's HTML, with the survey's mark."""
    # Never invited (no user, or Bitrix24 out of reach until the timeout) or not answered.
    key = "auto_rating_unreached" if survey.message_id is None else "auto_rating_unanswered"
    text = messages.text(
        key,
        settings.language,
        number=survey.issue_id,
        score=survey.score,
        rate=settings.rating_map[survey.score or 0] if survey.score else "",
        timeout=spoken(settings.rating_timeout, settings.language),
    )
    assert survey.id is not None
    content = html.escape(text).replace("\n", "<br>")
    return with_mark(content, survey.id, CommentKind.AUTO_RATING)


async def post_auto_comment(survey: Survey, vendors: Vendors, settings: Settings) -> None:
    """Write the private comment on the ticket."""
    author = settings.okdesk_comment_author_id or survey.engineer_id
    if author is None:
        raise RejectedError(
            "no Okdesk employee to write the automatic rating's comment as: "
            "set OKDESK_COMMENT_AUTHOR_ID"
        )
    assert survey.id is not None
    content = comment_text(survey, settings)
    # Read before writing: a try whose answer was lost may have posted it already.
    posted = await vendors.helpdesk.comment_texts(survey.issue_id)
    if already_posted(posted, survey.id, CommentKind.AUTO_RATING):
        log.info("survey.auto_comment_present survey_id=%s", survey.id)
        return
    await vendors.helpdesk.comment_issue(
        survey.issue_id,
        content=content,
        author_id=author,
        author_type="employee",
        public=False,
    )
    log.info("survey.auto_comment_posted survey_id=%s issue_id=%s", survey.id, survey.issue_id)
