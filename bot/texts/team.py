"""What the bot tells the team in its chat (ALERT_DIALOG_ID), in Russian (the default) or
English: the alert about a low rating with its «Беру» button, and the weekly digest.

Builders return data; the values come already worded (figures, names, links), so this module
knows Bitrix24's BB codes and nothing of where they come from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.texts.messages import RATE_COMMAND, Language, plain

# «Беру» runs the hidden `rate` command (no new command to register) with `alert:<id>:take`:
# neither a score's `<token>:<score>` nor a change's `<token>:change:<n>` reads it as theirs.
_TAKE = re.compile(r"alert:([0-9]{1,18}):take")

_TEXTS: dict[str, dict[Language, str]] = {
    "alert": {
        "ru": "[b]{head}[/b][br]Заявка [url={link}]№{number}[/url]{title}"
        "[br]Клиент: {person}[br]Исполнитель: {engineer}",
        "en": "[b]{head}[/b][br]Ticket [url={link}]#{number}[/url]{title}"
        "[br]Client: {person}[br]Engineer: {engineer}",
    },
    "alert_low": {"ru": "Низкая оценка: {score} из 5", "en": "Low rating: {score} out of 5"},
    # The person changed their mind to a score that is not low: the alert says so.
    "alert_raised": {
        "ru": "Оценка изменена: теперь {score} из 5",
        "en": "Rating changed: now {score} out of 5",
    },
    "alert_words": {
        "ru": "[br]Что пошло не так: «{words}»",
        "en": "[br]What went wrong: “{words}”",
    },
    "alert_taken": {
        "ru": "[br][b]Взял(а): {name}[/b], {when}",
        "en": "[br][b]Taken by {name}[/b], {when}",
    },
    "take": {"ru": "Беру", "en": "I'll take it"},
    "unknown": {"ru": "не указан", "en": "not known"},
    "check": {
        "ru": "Проверка: бот оценки заявок может писать в этот чат. Сюда придут оповещения о "
        "низких оценках{digest}.",
        "en": "Check: the ticket rating bot can write to this chat. Alerts about low ratings"
        "{digest} will come here.",
    },
    "check_digest": {"ru": " и недельная сводка", "en": " and the weekly digest"},
    "digest": {
        "ru": "[b]Оценки за неделю {week}[/b][br]CSAT: {csat} (неделей раньше: {csat_before})"
        "[br]Ответили на опрос: {rate} (неделей раньше: {rate_before})"
        "[br]Оценок: {ratings} (неделей раньше: {ratings_before}){engineers}"
        "[br]Низких оценок ждут разбора: {unhandled}[br][url={link}]Отчёт[/url]",
        "en": "[b]Ratings of the week {week}[/b][br]CSAT: {csat} (the week before: {csat_before})"
        "[br]Response rate: {rate} (the week before: {rate_before})"
        "[br]Ratings: {ratings} (the week before: {ratings_before}){engineers}"
        "[br]Low ratings waiting to be handled: {unhandled}[br][url={link}]Report[/url]",
    },
    "digest_best": {"ru": "[br]Лучше всех: {engineer}", "en": "[br]Best: {engineer}"},
    "digest_lowest": {"ru": "[br]Ниже всех: {engineer}", "en": "[br]Lowest: {engineer}"},
    "digest_engineer": {
        "ru": "{name} — CSAT {csat}, оценок: {ratings}",
        "en": "{name}: CSAT {csat}, {ratings} ratings",
    },
    "digest_nobody": {
        "ru": "[br]Исполнителей с 5 и более оценками за неделю нет",
        "en": "[br]No engineer had 5 or more ratings this week",
    },
}


def team_text(key: str, language: Language, **values: object) -> str:
    """The team's message `key` in `language`, with `values` filled in."""
    return _TEXTS[key][language].format(**values)


@dataclass(frozen=True)
class Alert:
    """What an alert says: the ticket, the person, the score, who worked on it, what the
    person wrote, and who took it (all worded already: names, link, time)."""

    number: int
    link: str
    title: str | None
    person: str
    score: int
    engineer: str | None
    group: str | None
    words: str | None = None
    taken_by: str | None = None
    taken_when: str = ""
    low: bool = True  # False once the person changed their mind to a higher score


def alert_text(alert: Alert, language: Language) -> str:
    """The alert's text: BB codes, the person's words quoted and cut, nothing they typed
    read as markup."""
    worker = " · ".join(plain(x, 100) for x in (alert.engineer, alert.group) if x)
    title = f" — {plain(alert.title, 200)}" if alert.title else ""
    head = team_text("alert_low" if alert.low else "alert_raised", language, score=alert.score)
    said = team_text(
        "alert",
        language,
        head=head,
        link=alert.link,
        number=alert.number,
        title=title,
        person=alert.person,
        engineer=worker or team_text("unknown", language),
    )
    if alert.words:
        said += team_text("alert_words", language, words=plain(alert.words, 1000))
    if alert.taken_by:
        name = plain(alert.taken_by, 100)
        said += team_text("alert_taken", language, name=name, when=alert.taken_when)
    return said


def take_keyboard(survey_id: int, language: Language) -> dict[str, Any]:
    """One button under an alert nobody took yet: «Беру»."""
    button = {
        "TEXT": team_text("take", language),
        "COMMAND": RATE_COMMAND,
        "COMMAND_PARAMS": f"alert:{survey_id}:take",
        "DISPLAY": "LINE",
        "BLOCK": "Y",
    }
    return {"BUTTONS": [button]}


def parse_take_params(params: str) -> int | None:
    """The survey id a «Беру» button carries, or None for any other button."""
    found = _TAKE.fullmatch(params.strip())
    return int(found.group(1)) if found else None
