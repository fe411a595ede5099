"""The alert about a low rating as the team's chat shows it: the ticket with its Okdesk link,
the person, the score, the engineer and group, what the person wrote, who took it.

Drawn afresh from the stored rows each time it is posted or edited, so an edit shows all that
is known, whichever job runs it.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.messenger import ChatMessage
from bot.texts.team import Alert, alert_text, take_keyboard, team_text
from bridge.config.settings import Settings
from bridge.report.words import words
from storage.survey import surveys
from storage.team.tables import TeamMessage


def okdesk_link(settings: Settings, issue_id: int) -> str:
    """The ticket's page in Okdesk."""
    return f"{settings.okdesk_url.rstrip('/')}/issues/{issue_id}"


def alert_message(session: Session, settings: Settings, row: TeamMessage) -> ChatMessage | None:
    """The alert's message now, with «Беру» until someone took it; None without its survey."""
    survey = surveys.get_survey(session, survey_id=row.survey_id) if row.survey_id else None
    if survey is None or survey.id is None or survey.score is None:
        return None
    language = settings.language
    # A mention Bitrix24 shows as the person's name (an empty [USER=id] tag is filled in).
    person = f"[USER={survey.bitrix_user_id}][/USER]" if survey.bitrix_user_id else ""
    company = survey.company_name.replace("[", "(").replace("]", ")") if survey.company_name else ""
    said = [text for text in (words(survey.reply_text), survey.followup_text) if text]
    when = row.taken_at.astimezone(settings.zone).strftime("%d.%m %H:%M") if row.taken_at else ""
    alert = Alert(
        number=survey.issue_id,
        link=okdesk_link(settings, survey.issue_id),
        title=survey.issue_title,
        person=", ".join(p for p in (person, company) if p) or team_text("unknown", language),
        score=survey.score,
        engineer=survey.engineer,
        group=survey.engineer_group,
        words="\n".join(said) or None,
        taken_by=row.taken_by,
        taken_when=when,
        low=survey.score <= settings.alert_max_score,
    )
    keyboard = None if row.taken_at else take_keyboard(survey.id, language)
    return ChatMessage(alert_text(alert, language), keyboard)
