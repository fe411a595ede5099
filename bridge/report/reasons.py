"""Why a survey could not finish, in the page's language.

The service records its reasons in English (for logs and `admin show`); the page translates
the ones it knows and shows the rest, a vendor's own words, as they are.
"""

from __future__ import annotations

import re

# (pattern of the recorded reason, Russian, English): `{1}`… are the pattern's groups.
_KNOWN: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), ru, en)
    for pattern, ru, en in (
        (
            r"no active Bitrix24 user has the contact's e-mail address",
            "В Битрикс24 нет активного пользователя с e-mail контакта",
            "No active Bitrix24 user has the contact's e-mail address",
        ),
        (
            r"(\d+) Bitrix24 users have the contact's e-mail address",
            "E-mail контакта есть у нескольких пользователей Битрикс24: {1}",
            "{1} Bitrix24 users have the contact's e-mail address",
        ),
        (r"the ticket has no contact", "У заявки нет контакта", "The ticket has no contact"),
        (
            r"company not connected to a portal",
            "Компания не подключена ни к одному порталу Битрикс24",
            "Company not connected to a portal",
        ),
        (
            r"the company's portal was removed",
            "Портал Битрикс24 компании удалён",
            "The company's portal was removed",
        ),
        (
            r"the portal was removed",
            "Портал Битрикс24 отключён",
            "The portal was removed",
        ),
        (
            r"the contact has no e-mail address in Okdesk",
            "У контакта нет e-mail в Okdesk",
            "The contact has no e-mail address in Okdesk",
        ),
        (r"the ticket is not in Okdesk", "Заявки нет в Okdesk", "The ticket is not in Okdesk"),
        (
            r"the ticket is '(.*)' in Okdesk, not done",
            "Заявка в Okdesk в статусе «{1}», а не выполнена",
            "The ticket is «{1}» in Okdesk, not done",
        ),
        (
            r"the test invitation has no recipient",
            "У тестового приглашения нет получателя",
            "The test invitation has no recipient",
        ),
        (
            r"withdrawn by the administrator",
            "Отозван администратором",
            "Withdrawn by the administrator",
        ),
        (r"sent by the administrator", "Отправлен администратором", "Sent by the administrator"),
        (
            r"not asked: the person was asked within SURVEY_COOLDOWN",
            "Не спрашивали: человека уже спрашивали недавно (SURVEY_COOLDOWN)",
            "Not asked: the person was asked recently (SURVEY_COOLDOWN)",
        ),
        (
            r"Okdesk (.+): HTTP (\d+)",
            "Okdesk ответил HTTP {2} ({1})",
            "Okdesk answered HTTP {2} ({1})",
        ),
        (
            r"Okdesk answered HTTP (\d+) without JSON",
            "Okdesk ответил HTTP {1} без JSON",
            "Okdesk answered HTTP {1} without JSON",
        ),
        (
            r"Okdesk accepted the rating (.+) but shows (.+)",
            "Okdesk принял оценку {1}, но показывает {2}",
            "Okdesk accepted the rating {1} but shows {2}",
        ),
        (
            r"the ticket's contact is not known: the comment has no author",
            "Контакт заявки неизвестен: у комментария нет автора",
            "The ticket's contact is not known: the comment has no author",
        ),
    )
)


def reason(text: str, language: str) -> str:
    """A recorded reason in `language` when it is one the service writes, else as it is."""
    for pattern, ru, en in _KNOWN:
        found = pattern.fullmatch(text)
        if found:
            return (en if language == "en" else ru).format(None, *found.groups())
    return text
