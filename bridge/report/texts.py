"""What the report page and its export say, in Russian (the default) and English."""

from __future__ import annotations

RU: dict[str, str] = {
    "title": "Оценки заявок",
    "period": "Период",
    "from": "с",
    "to": "по",
    "show": "Показать",
    "export": "Выгрузить CSV",
    "csat": "CSAT (доля 4–5)",
    "response": "Отклик",
    "mean": "Средняя оценка",
    "ratings": "Оценок людей",
    "of_delivered": "из {n} доставленных приглашений",
    "automatic": "Автоматических",
    "human": "От людей",
    "distribution": "Распределение оценок",
    "trend": "CSAT по неделям",
    "week": "Неделя",
    "engineers": "По исполнителям",
    "groups": "По группам",
    "engineer": "Исполнитель",
    "group": "Группа",
    "count": "Оценок",
    "unknown": "не указан",
    "comments": "Комментарии (сначала низкие оценки)",
    "no_comments": "Комментариев нет.",
    "ticket": "Заявка",
    "score": "Оценка",
    "comment": "Комментарий",
    "machine": "Работа сервиса сейчас",
    "inviting": "Приглашение отправляется",
    "awaiting": "Ждут ответа",
    "undeliverable": "Не доставлены",
    "failed": "Ошибка",
    "reason": "Причина",
    "state": "Состояние",
    "when": "Когда",
    "no_troubles": "Недоставленных и ошибочных опросов нет.",
    "retry": "Повторить неудавшиеся",
    "queued": "Поставлено в очередь заново: {n}.",
    "refused": "Нельзя повторить: {n} (персональные данные уже удалены).",
    "none": "—",
    "no_ratings": "Оценок за период нет.",
    "bar": "Оценка {score}: {n}",
    "point": "{week}: CSAT {csat}, оценок {n}",
    "chart_distribution": "Гистограмма: сколько раз поставили каждую оценку от 1 до 5",
    "chart_trend": "График CSAT по неделям",
    "surveys": "Опросов за период: {n}",
    "followup": "Ответ на вопрос после оценки:",
    "bad_day": "Дата «{field}» должна быть в виде ГГГГ-ММ-ДД, например 2026-03-01.",
    "far_day": "Дата «{field}» должна быть между 2000-01-01 и 2999-12-31.",
    "backwards": "Начало периода позже его конца.",
    "too_long": "Период не может быть длиннее трёх лет.",
    "shown_instead": "Показаны последние 30 дней.",
    "field_from": "с",
    "field_to": "по",
    "changed": "Передумал(а):",
    "changes": "Изменённые оценки",
}

EN: dict[str, str] = {
    "title": "Ticket ratings",
    "period": "Period",
    "from": "from",
    "to": "to",
    "show": "Show",
    "export": "Export CSV",
    "csat": "CSAT (share of 4–5)",
    "response": "Response rate",
    "mean": "Mean score",
    "ratings": "People's ratings",
    "of_delivered": "of {n} invitations delivered",
    "automatic": "Automatic",
    "human": "By people",
    "distribution": "Scores",
    "trend": "CSAT by week",
    "week": "Week",
    "engineers": "By engineer",
    "groups": "By group",
    "engineer": "Engineer",
    "group": "Group",
    "count": "Ratings",
    "unknown": "not named",
    "comments": "Comments (low scores first)",
    "no_comments": "No comments.",
    "ticket": "Ticket",
    "score": "Score",
    "comment": "Comment",
    "machine": "The service now",
    "inviting": "Being invited",
    "awaiting": "Awaiting an answer",
    "undeliverable": "Undeliverable",
    "failed": "Failed",
    "reason": "Reason",
    "state": "State",
    "when": "When",
    "no_troubles": "No undeliverable or failed surveys.",
    "retry": "Retry the failed ones",
    "queued": "Queued again: {n}.",
    "refused": "Cannot be retried: {n} (their personal data was purged).",
    "none": "—",
    "no_ratings": "No ratings in this period.",
    "bar": "Score {score}: {n}",
    "point": "{week}: CSAT {csat}, {n} ratings",
    "chart_distribution": "Bar chart: how often each score from 1 to 5 was given",
    "chart_trend": "Line chart of CSAT by week",
    "surveys": "Surveys in the period: {n}",
    "followup": "Answer to the question after the rating:",
    "bad_day": "The date «{field}» must be YYYY-MM-DD, e.g. 2026-03-01.",
    "far_day": "The date «{field}» must be between 2000-01-01 and 2999-12-31.",
    "backwards": "The period starts after it ends.",
    "too_long": "The period must not be longer than three years.",
    "shown_instead": "Showing the last 30 days.",
    "field_from": "from",
    "field_to": "to",
    "changed": "Changed their mind:",
    "changes": "Changed ratings",
}

CSV_HEADER: dict[str, list[str]] = {
    "ru": [
        "Заявка",
        "Состояние",
        "Оценка",
        "Оценка в Okdesk",
        "Автоматическая",
        "Исполнитель",
        "Группа",
        "Компания",
        "Создан",
        "Ответ",
        "Оценка отправлена",
        "Комментарий",
        "Ответ на вопрос после оценки",
        "Изменения оценки",
    ],
    "en": [
        "Ticket",
        "State",
        "Score",
        "Okdesk rating",
        "Automatic",
        "Engineer",
        "Group",
        "Company",
        "Created",
        "Answered",
        "Rating sent",
        "Comment",
        "Follow-up answer",
        "Score changes",
    ],
}


def texts(language: str) -> dict[str, str]:
    """The page's texts in `language` (Russian unless it is `en`)."""
    return EN if language == "en" else RU


def percent(value: float | None) -> str:
    """0.5714 → `57%`; None → a dash (the same in both languages)."""
    return "—" if value is None else f"{round(value * 100)}%"


def decimal(value: float | None, language: str) -> str:
    """3.4286 → `3,43` (ru) or `3.43` (en); None → a dash."""
    if value is None:
        return "—"
    text = f"{value:.2f}"
    return text if language == "en" else text.replace(".", ",")


def period_error(key: str, field: str, language: str) -> str:
    """Why the query's dates make no period, in `language`."""
    t = texts(language)
    return t[key].format(field=t.get(f"field_{field}", field))
