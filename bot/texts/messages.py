"""What the bot says, in Russian (the default) or English, and the rating keyboard.

Builders return data (text, keyboard dicts); sending is the transport's job.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Language = Literal["ru", "en"]

RATE_COMMAND = "rate"
# Survey tokens are URL-safe base64 (storage.queries.new_survey_token).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCORES = (1, 2, 3, 4, 5)

_TEXTS: dict[str, dict[Language, str]] = {
    "invitation": {
        "ru": "[b]Заявка №{number} закрыта[/b][br]{title}{engineer}[br]"
        "Оцените, пожалуйста, как мы справились: 1 — плохо, 5 — отлично. "
        "Нажмите кнопку или ответьте цифрой.",
        "en": "[b]Ticket #{number} is closed[/b][br]{title}{engineer}[br]"
        "How did we do? 1 = poor, 5 = excellent. Press a button or reply with a number.",
    },
    "test_invitation": {
        "ru": "[b]Проверка: это тестовое приглашение[/b][br]Администратор проверяет бота "
        "оценки заявок; в Okdesk ничего не запишется. Нажмите любую кнопку от 1 до 5.",
        "en": "[b]Check: this is a test invitation[/b][br]The administrator is checking the "
        "ticket rating bot; nothing is written to Okdesk. Press any button from 1 to 5.",
    },
    "test_thanks": {
        "ru": "Спасибо! Тестовая оценка {score} из 5 получена; в Okdesk ничего не записано.",
        "en": "Thank you! The test rating {score} out of 5 arrived; nothing was written to Okdesk.",
    },
    "withdrawn": {
        "ru": "Оценка заявки №{number} больше не нужна.",
        "en": "Ticket #{number} needs no rating any more.",
    },
    "engineer": {"ru": "[br]Исполнитель: {name}", "en": "[br]Engineer: {name}"},
    "thanks": {
        "ru": "Спасибо! Ваша оценка заявки №{number}: {score} из 5.",
        "en": "Thank you! Your rating for ticket #{number}: {score} out of 5.",
    },
    "already_rated": {
        "ru": "Заявка №{number} уже оценена: {score} из 5. Спасибо!",
        "en": "Ticket #{number} is already rated: {score} out of 5. Thank you!",
    },
    "expired": {
        "ru": "Время для оценки заявки №{number} истекло.",
        "en": "The time for rating ticket #{number} has passed.",
    },
    "cancelled": {
        "ru": "Заявка №{number} снова открыта, оценивать её пока не нужно.",
        "en": "Ticket #{number} was reopened, so it needs no rating for now.",
    },
    "not_yours": {
        "ru": "Эту заявку может оценить только её автор. Спасибо за участие!",
        "en": "Only the person who asked for this ticket can rate it. Thank you all the same!",
    },
    "survey_gone": {
        "ru": "Эта оценка уже не требуется.",
        "en": "This rating is no longer needed.",
    },
    "how_to_rate": {
        "ru": "Чтобы оценить заявку, нажмите кнопку от 1 до 5 под сообщением о ней "
        "или ответьте одной цифрой от 1 до 5 (1 — плохо, 5 — отлично).",
        "en": "To rate your ticket, press a button from 1 to 5 under its message "
        "or reply with a single number from 1 to 5 (1 = poor, 5 = excellent).",
    },
    "only_ratings": {
        "ru": "Я бот оценки заявок: я только собираю оценки и не могу ответить на сообщение. "
        "{contact}",
        "en": "I am the ticket rating bot: I only collect ratings and cannot answer messages. "
        "{contact}",
    },
    "support_contact": {
        "ru": "С вопросом обратитесь в службу поддержки: ответьте на письмо о заявке "
        "или создайте новую заявку.",
        "en": "For a question, contact the support team: reply to the ticket's e-mail "
        "or open a new ticket.",
    },
    "confirm_score": {
        "ru": "Оценить заявку №{number} на {score}? Нажмите кнопку с оценкой.",
        "en": "Rate ticket #{number} {score} out of 5? Press the button with your rating.",
    },
    "nothing_to_rate": {
        "ru": "Сейчас нет заявок, которые ждут вашей оценки. Спасибо!",
        "en": "No tickets are waiting for your rating right now. Thank you!",
    },
    # --- follow-up, change of mind, several tickets waiting (issue 10, points 1, 2, 6) ---
    "followup_low": {
        "ru": "Что пошло не так с заявкой №{number}? Напишите одним сообщением, "
        "и мы передадим его в службу поддержки.",
        "en": "What went wrong with ticket #{number}? Write it in one message "
        "and we will pass it on to the support team.",
    },
    "followup_high": {
        "ru": "Хотите что-нибудь добавить к оценке заявки №{number}? Напишите одним "
        "сообщением, и мы передадим его в службу поддержки.",
        "en": "Anything to add to your rating of ticket #{number}? Write it in one message "
        "and we will pass it on to the support team.",
    },
    "followup_passed": {
        "ru": "Спасибо! Ваш комментарий к заявке №{number} передан в службу поддержки.",
        "en": "Thank you! Your comment on ticket #{number} was passed on to the support team.",
    },
    "followup_quoted": {
        "ru": "Комментарий клиента {name} к оценке (Okdesk не принял его от имени клиента):",
        "en": "The client {name}'s comment on the rating (Okdesk would not take it in the "
        "client's name):",
    },
    "rating_kept": {
        "ru": "Okdesk оставил у заявки №{number} прежнюю оценку: изменить её не удалось. "
        "Ваша оценка {score} из 5 сохранена у нас, и служба поддержки её увидит.",
        "en": "Okdesk kept the earlier rating of ticket #{number}: it could not be changed. "
        "Your rating {score} out of 5 is kept with us, and the support team will see it.",
    },
    "change_button": {"ru": "Изменить оценку", "en": "Change rating"},
    "change_prompt": {
        "ru": "Ваша оценка заявки №{number}: {score} из 5. Выберите новую оценку.",
        "en": "Your rating for ticket #{number}: {score} out of 5. Choose a new rating.",
    },
    "change_closed": {
        "ru": "Оценку заявки №{number} уже нельзя изменить: время для этого прошло. "
        "Ваша оценка {score} из 5 сохранена. Спасибо!",
        "en": "The rating of ticket #{number} can no longer be changed: the time for that "
        "has passed. Your rating {score} out of 5 is kept. Thank you!",
    },
    "change_stale": {
        "ru": "Эта кнопка уже использована: оценка заявки №{number} сейчас {score} из 5. "
        "Чтобы изменить её снова, нажмите «Изменить оценку» в последнем сообщении о заявке.",
        "en": "This button was already used: the rating of ticket #{number} is now {score} "
        "out of 5. To change it again, press «Change rating» on the latest message about it.",
    },
    "which_ticket": {
        "ru": "Ваших оценок ждут несколько заявок. Какую из них вы оцениваете на {score}? "
        "Нажмите кнопку с её номером.",
        "en": "Several tickets are waiting for your rating. Which one do you rate {score}? "
        "Press the button with its number.",
    },
    "ticket_button": {"ru": "№{number}", "en": "#{number}"},
    "not_waiting": {
        "ru": "Заявка №{number} не ждёт вашей оценки.",
        "en": "Ticket #{number} is not waiting for your rating.",
    },
    "welcome": {
        "ru": "Здравствуйте! Я бот оценки заявок. Когда ваша заявка в службе поддержки "
        "закрыта, я пришлю сообщение с кнопками от 1 до 5: одно нажатие, и оценка "
        "попадёт в заявку.",
        "en": "Hello! I am the ticket rating bot. When your support ticket is closed I will "
        "send you a message with buttons from 1 to 5: one click and the rating goes "
        "to the ticket.",
    },
    # --- issue 10: the reminder and the automatic rating's Okdesk comment ---
    "reminder": {
        "ru": "[b]Напоминаем: заявка №{number} ждёт вашей оценки[/b][br]{title}[br]"
        "Пожалуйста, оцените, как мы справились: 1 — плохо, 5 — отлично.",
        "en": "[b]A reminder: ticket #{number} is waiting for your rating[/b][br]{title}[br]"
        "How did we do? 1 = poor, 5 = excellent.",
    },
    "auto_rating_unanswered": {
        "ru": "Оценка {score} из 5 ({rate}) выставлена автоматически: клиент не ответил "
        "на опрос по заявке №{number} за {timeout}.",
        "en": "The rating {score} out of 5 ({rate}) was set automatically: the client did not "
        "answer the survey about ticket #{number} within {timeout}.",
    },
    "auto_rating_unreached": {
        "ru": "Оценка {score} из 5 ({rate}) выставлена автоматически: клиента не удалось "
        "спросить об оценке заявки №{number} в Битрикс24 за {timeout}.",
        "en": "The rating {score} out of 5 ({rate}) was set automatically: the client could "
        "not be asked in Bitrix24 to rate ticket #{number} within {timeout}.",
    },
}


def text(key: str, language: Language, **values: object) -> str:
    """The message `key` in `language`, with `values` filled in."""
    chosen = _CHOSEN.get(key, {}).get(language)
    return (chosen or _TEXTS[key][language]).format(**values)


# --- issue 10: words people choose (TEXTS_FILE, read by bot.texts.texts_file) ---------------------
# Replacements of some built-in texts; set once at start (`use_texts`), read by `text`.
_CHOSEN: dict[str, dict[Language, str]] = {}


def builtin_texts() -> dict[str, dict[Language, str]]:
    """Every built-in text by key and language (what a texts file may replace)."""
    return {key: dict(texts) for key, texts in _TEXTS.items()}


def use_texts(chosen: dict[str, dict[Language, str]]) -> None:
    """Say these texts instead of the built-in ones (the rest stay); empty: all built-in."""
    _CHOSEN.clear()
    _CHOSEN.update(chosen)


def plain(value: str, limit: int = 200) -> str:
    """User-supplied text made safe for a message: no BB codes, bounded length."""
    cleaned = " ".join(value.replace("[", "(").replace("]", ")").split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def invitation(number: int, title: str | None, engineer: str | None, language: Language) -> str:
    """The invitation to rate a closed ticket."""
    return text(
        "invitation",
        language,
        number=number,
        title=f"«{plain(title)}»" if title else "",
        engineer=text("engineer", language, name=plain(engineer, 100)) if engineer else "",
    )


def command_params(survey_token: str, score: int) -> str:
    """The COMMAND_PARAMS of one rating button: the survey's token and the score."""
    return f"{survey_token}:{score}"


def parse_command_params(params: str) -> tuple[str, int] | None:
    """The (survey token, score) a rating button carries, or None when malformed."""
    token, _, score = params.strip().rpartition(":")
    if not _TOKEN.fullmatch(token) or score not in {str(s) for s in SCORES}:
        return None
    return token, int(score)


def rating_keyboard(survey_token: str) -> dict[str, Any]:
    """Five buttons 1 to 5 on one line, each running the hidden `rate` command."""
    return {
        "BUTTONS": [
            {
                "TEXT": str(score),
                "COMMAND": RATE_COMMAND,
                "COMMAND_PARAMS": command_params(survey_token, score),
                "DISPLAY": "LINE",
                "BLOCK": "Y",
            }
            for score in SCORES
        ]
    }


_STYLE_TAGS = re.compile(r"\[/?(?:b|i|u|s|size(?:=[^\]]*)?|color(?:=[^\]]*)?)\]", re.IGNORECASE)
_LABELLED = re.compile(r"\[(url|send|put)=([^\]]*)\](.*?)\[/\1\]", re.IGNORECASE)


def as_seen(message: str) -> str:
    """A message as a person reads it in the chat: BB codes gone, [br] a line break."""
    seen = _LABELLED.sub(
        lambda m: f"{m.group(3)} ({m.group(2)})" if m.group(1).lower() == "url" else m.group(3),
        message,
    )
    seen = re.sub(r"\[br\]", "\n", _STYLE_TAGS.sub("", seen), flags=re.IGNORECASE)
    return seen
