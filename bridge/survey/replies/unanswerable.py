"""A text that is not an answer (issue 22, point 3): «спасибо, а когда придёт мастер?».

It is kept for the operator (/admin, "messages the bot could not use"; personal data, gone
after PERSONAL_DATA_RETENTION), and the reply it gets, once per survey, says the bot only
collects ratings and where to ask (SUPPORT_CONTACT_TEXT), and how to rate when one waits.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot.texts import messages
from bot.texts.messages import Language
from bridge.config.settings import Settings
from bridge.rules import workflow
from storage.survey import unused
from storage.tables import Survey


def reply(
    session: Session,
    settings: Settings,
    user_id: int,
    text: str | None,
    survey: Survey | None,
    language: Language,
    now: datetime,
) -> str:
    """Keep the text for the operator; the reply it deserves."""
    survey_id = survey.id if survey is not None else None
    unused.keep(session, bitrix_user_id=user_id, survey_id=survey_id, text=text or "", now=now)
    contact = settings.support_contact_text or messages.text("support_contact", language)
    said = messages.text("only_ratings", language, contact=contact)
    if survey is not None and survey.state in workflow.WAITING:
        return f"{messages.text('how_to_rate', language)} {said}"
    return said
