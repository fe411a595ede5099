"""Why a portal step was refused, one line each, in Russian (the page's default) and English
(the command's). A refusal names its text and the values that fill it (`PortalError`)."""

from __future__ import annotations

EN: dict[str, str] = {
    "no_secrets_key": "SECRETS_KEY is not set: it seals the portals' webhooks (README, Settings)",
    "default_name": "`default` is the portal of BITRIX_WEBHOOK_URL: change it in the settings",
    "bad_name": "NAME must be 1-40 of a-z 0-9 - _, starting with a letter or digit",
    "bad_url": "WEBHOOK_URL must be an http(s) URL with a host name, and no query or fragment",
    "not_rest": "WEBHOOK_URL must look like https://portal/rest/<user>/<code>/",
    "no_public_url": "PUBLIC_URL is not set: Bitrix24 could not reach the portal's bot",
    "no_v2": "--api v2 is not available for added portals yet: use v1",
    "lacks_scope": "the webhook lacks the scope {scopes}: add it in Bitrix24",
    "not_admin": "the webhook's owner is not a portal administrator",
    "vendor_refused": "Bitrix24 said no: {detail}",
    "unreadable": "the portal's secrets cannot be opened: {detail}",
    "bad_settings": "the settings are not valid: {detail}",
    "no_portal": "no portal named {name!r} (see portal list)",
    "not_mapped": "company {company} is not mapped to a portal",
    "bad_company": "the Okdesk company's id must be a whole number above 0",
}

RU: dict[str, str] = {
    "no_secrets_key": "Не задан SECRETS_KEY: им шифруются вебхуки порталов (README, настройки)",
    "default_name": "`default` — портал из BITRIX_WEBHOOK_URL: он меняется в настройках",
    "bad_name": "Имя: 1–40 знаков из a-z 0-9 - _, первый — буква или цифра",
    "bad_url": "Адрес вебхука: http(s) с именем хоста, без запроса (?…) и фрагмента (#…)",
    "not_rest": "Адрес вебхука должен быть вида https://портал/rest/<пользователь>/<код>/",
    "no_public_url": "Не задан PUBLIC_URL: Bitrix24 не сможет достучаться до бота портала",
    "no_v2": "API v2 для добавленных порталов пока недоступен: выберите v1",
    "lacks_scope": "У вебхука нет права {scopes}: добавьте его в Bitrix24",
    "not_admin": "Владелец вебхука не администратор портала",
    "vendor_refused": "Bitrix24 отказал: {detail}",
    "unreadable": "Не удаётся открыть секреты портала: {detail}",
    "bad_settings": "Настройки неверны: {detail}",
    "no_portal": "Портала с именем {name!r} нет",
    "not_mapped": "Компания {company} не привязана к порталу",
    "bad_company": "Номер компании в Okdesk — целое число больше 0",
}


class PortalError(Exception):
    """A portal step refused; `usage` when the request itself is wrong (the command exits 2)."""

    def __init__(self, key: str, *, usage: bool = False, **values: object) -> None:
        self.key, self.values, self.usage = key, values, usage
        super().__init__(self.said("en"))

    def said(self, language: str) -> str:
        """The one line, in `language` ("ru" or "en")."""
        return (RU if language == "ru" else EN)[self.key].format(**self.values)
