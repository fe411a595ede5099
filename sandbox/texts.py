"""Every text of the sandbox page, in Russian (the default) and English."""

from __future__ import annotations

from typing import Literal

Lang = Literal["ru", "en"]

TEXTS: dict[str, dict[Lang, str]] = {
    "title": {"ru": "Песочница: оценка заявок", "en": "Sandbox: ticket ratings"},
    "lead": {
        "ru": "Закройте заявку в Okdesk: сервис пригласит человека оценить её в Битрикс24, "
        "а его оценка вернётся в Okdesk. Оба сервиса здесь ненастоящие, но говорят на их языке.",
        "en": "Close a ticket in Okdesk: the service asks the person to rate it in Bitrix24, "
        "and their rating goes back to Okdesk. Both vendors here are fakes speaking their "
        "real wire formats.",
    },
    "api_v1": {
        "ru": "Битрикс24: imbot v1 — портал сам отправляет события бота на адрес сервиса "
        "(PUBLIC_URL).",
        "en": "Bitrix24: imbot v1 — the portal posts the bot's events to the service's address "
        "(PUBLIC_URL).",
    },
    "api_v2": {
        "ru": "Битрикс24: imbot.v2, режим fetch — портал держит события бота в очереди, сервис "
        "забирает их каждую секунду (imbot.v2.Event.get), поэтому PUBLIC_URL не нужен.",
        "en": "Bitrix24: imbot.v2 in fetch mode — the portal queues the bot's events and the "
        "service fetches them every second (imbot.v2.Event.get), so no PUBLIC_URL is needed.",
    },
    "switch": {"ru": "English", "en": "Русский"},
    "okdesk": {"ru": "Okdesk — заявки", "en": "Okdesk — tickets"},
    "number": {"ru": "№", "en": "#"},
    "ticket": {"ru": "Заявка", "en": "Ticket"},
    "status": {"ru": "Статус", "en": "Status"},
    "rating": {"ru": "Оценка", "en": "Rating"},
    "survey": {"ru": "Опрос в сервисе", "en": "Survey in the service"},
    "close": {"ru": "Закрыть", "en": "Close"},
    "reopen": {"ru": "Открыть снова", "en": "Reopen"},
    "no_rating": {"ru": "нет", "en": "none"},
    "bitrix": {"ru": "Битрикс24 — чат", "en": "Bitrix24 — chat"},
    "as_whom": {"ru": "Вы вошли как", "en": "Signed in as"},
    "portal": {"ru": "портал {name}:", "en": "portal {name}:"},
    "empty_chat": {
        "ru": "Сообщений пока нет. Закройте заявку этого человека в Okdesk.",
        "en": "No messages yet. Close one of this person's tickets in Okdesk.",
    },
    "you": {"ru": "Вы", "en": "You"},
    "reply": {"ru": "Ответ, например 5", "en": "Your reply, e.g. 5"},
    "invited_in": {
        "ru": "Okdesk отправил вебхук, сервис ответил {status}; приглашение придёт в чат: {name}",
        "en": "Okdesk sent the webhook; the service answered {status}; the invitation goes to "
        "{name}'s chat",
    },
    "send": {"ru": "Отправить", "en": "Send"},
    "knobs": {"ru": "Настройки", "en": "Knobs"},
    "latency": {"ru": "Задержка Okdesk и Битрикс24, мс", "en": "Vendor latency, ms"},
    "errors": {"ru": "Доля ошибок (502), %", "en": "Error rate (502), %"},
    "limit": {"ru": "Лимит запросов Битрикс24", "en": "Bitrix24 rate limit"},
    "burst": {"ru": "запросов сразу", "en": "burst"},
    "per_second": {"ru": "в секунду", "en": "per second"},
    "timeout": {"ru": "Время на оценку (например 30s, 10m, 24h)", "en": "Rating timeout (30s…)"},
    "timeout_note": {
        "ru": "Новое время на оценку перезапускает сервис и действует для заявок, закрытых "
        "после этого.",
        "en": "A new rating timeout restarts the service and applies to tickets closed after it.",
    },
    "apply": {"ru": "Применить", "en": "Apply"},
    "log": {"ru": "Журнал сервиса", "en": "Service log"},
    "closed_sent": {
        "ru": "Okdesk отправил вебхук, сервис ответил {status}",
        "en": "Okdesk sent the webhook; the service answered {status}",
    },
    "event_sent": {
        "ru": "Битрикс24 отправил событие {event}, сервис ответил {status}",
        "en": "Bitrix24 sent {event}; the service answered {status}",
    },
    "event_queued": {
        "ru": "Битрикс24 поставил событие {event} в очередь; сервис заберёт его в течение секунды",
        "en": "Bitrix24 queued {event}; the service fetches it within a second",
    },
    "not_sent": {"ru": "Событие не отправлено", "en": "No event was sent"},
    "applied": {"ru": "Настройки применены", "en": "Knobs applied"},
    "restarted": {
        "ru": "Сервис перезапущен со временем на оценку {timeout}",
        "en": "The service restarted with the rating timeout {timeout}",
    },
    "bad_knob": {"ru": "Неверное значение: {name}", "en": "Invalid value: {name}"},
    "bot": {"ru": "Бот", "en": "Bot"},
    "team_chat": {"ru": "Чат поддержки", "en": "Support team's chat"},
    "team_head": {
        "ru": "Поддержка: низкие оценки — групповой чат; вы {name}",
        "en": "Support: low ratings — a group chat; you are {name}",
    },
    "empty_team_chat": {
        "ru": "Сообщений пока нет. Сюда бот пишет о каждой оценке 1 или 2 (ALERT_DIALOG_ID).",
        "en": "No messages yet. The bot posts here about each rating of 1 or 2 (ALERT_DIALOG_ID).",
    },
    "admin_link": {
        "ru": "Отчёт /admin (открывается с ADMIN_TOKEN сервиса)",
        "en": "The report /admin (opened with the service's ADMIN_TOKEN)",
    },
    "author_employee": {"ru": "сотрудник", "en": "employee"},
    "author_contact": {"ru": "контакт", "en": "contact"},
    "author_None": {"ru": "автор неизвестен", "en": "unknown author"},
    "public": {"ru": "публичный", "en": "public"},
    "private": {"ru": "приватный", "en": "private"},
}
# The service's survey states as the page names them.
STATES: dict[str, dict[Lang, str]] = {
    "inviting": {"ru": "приглашаем", "en": "inviting"},
    "awaiting": {"ru": "ждём оценку", "en": "awaiting"},
    "undeliverable": {"ru": "не доставлено", "en": "undeliverable"},
    "rated": {"ru": "оценено", "en": "rated"},
    "defaulted": {"ru": "оценка по умолчанию", "en": "defaulted"},
    "cancelled": {"ru": "отменён", "en": "cancelled"},
    "failed": {"ru": "ошибка", "en": "failed"},
}
STATUSES: dict[str, dict[Lang, str]] = {
    "opened": {"ru": "Открыта", "en": "Open"},
    "in_progress": {"ru": "В работе", "en": "In progress"},
    "completed": {"ru": "Решена", "en": "Solved"},
    "closed": {"ru": "Закрыта", "en": "Closed"},
}
# Okdesk's three ratings: what Okdesk's own page shows beside the value.
RATES: dict[str, dict[Lang, str]] = {
    "bad": {"ru": "плохо", "en": "bad"},
    "normal": {"ru": "нормально", "en": "normal"},
    "good": {"ru": "хорошо", "en": "good"},
}


def language(value: str | None) -> Lang:
    """The page's language from a query value (Russian unless English is asked for)."""
    return "en" if value == "en" else "ru"


def text(key: str, lang: Lang, **values: object) -> str:
    """One text in `lang`, with its placeholders filled."""
    return TEXTS[key][lang].format(**values)


def named(table: dict[str, dict[Lang, str]], key: str, lang: Lang) -> str:
    """A state, status or rating by its code, in `lang` (the code itself when unknown)."""
    return table.get(key, {}).get(lang, key)
