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
    "bad_api": "the API must be v1 or v2",
    "bad_member_id": "MEMBER_ID must be 1-64 of A-Z a-z 0-9 - _ (the portal's events show it)",
    "other_api": "portal {name} runs API {api}: remove it first to switch its API",
    "lacks_scope": "the webhook lacks the scope {scopes}: add it in Bitrix24",
    "not_admin": "the webhook's owner is not a portal administrator",
    "vendor_refused": "Bitrix24 said no: {detail}. The portal's keys are kept: try it again",
    "unreadable": "the portal's secrets cannot be opened: {detail}",
    "bad_settings": "the settings are not valid: {detail}",
    "no_portal": "no portal named {name!r} (see portal list)",
    "not_mapped": "company {company} is not mapped to a portal",
    "bad_company": "the Okdesk company's id must be a whole number above 0",
    "not_confirmed": "to remove the portal {name!r}, type its name again",
}

RU: dict[str, str] = {
    "no_secrets_key": "Не задан SECRETS_KEY: им шифруются вебхуки порталов (README, настройки)",
    "default_name": "`default` — портал из BITRIX_WEBHOOK_URL: он меняется в настройках",
    "bad_name": "Имя: 1–40 знаков из a-z 0-9 - _, первый — буква или цифра",
    "bad_url": "Адрес вебхука: http(s) с именем хоста, без запроса (?…) и фрагмента (#…)",
    "not_rest": "Адрес вебхука должен быть вида https://портал/rest/<пользователь>/<код>/",
    "no_public_url": "Не задан PUBLIC_URL: Bitrix24 не сможет достучаться до бота портала",
    "bad_api": "API — v1 или v2",
    "bad_member_id": "member_id: 1–64 знака из A-Z a-z 0-9 - _ (его показывают события портала)",
    "other_api": "Портал {name} работает на API {api}: чтобы сменить API, сначала удалите его",
    "lacks_scope": "У вебхука нет права {scopes}: добавьте его в Bitrix24",
    "not_admin": "Владелец вебхука не администратор портала",
    "vendor_refused": "Bitrix24 отказал: {detail}. Ключи портала сохранены: повторите попытку",
    "unreadable": "Не удаётся открыть секреты портала: {detail}",
    "bad_settings": "Настройки неверны: {detail}",
    "no_portal": "Портала с именем {name!r} нет",
    "not_mapped": "Компания {company} не привязана к порталу",
    "bad_company": "Номер компании в Okdesk — целое число больше 0",
    "not_confirmed": "Чтобы отключить портал {name!r}, введите его имя ещё раз",
}


class PortalError(Exception):
    """A portal step refused; `usage` when the request itself is wrong (the command exits 2)."""

    def __init__(self, key: str, *, usage: bool = False, **values: object) -> None:
        self.key, self.values, self.usage = key, values, usage
        super().__init__(self.said("en"))

    def said(self, language: str) -> str:
        """The one line, in `language` ("ru" or "en")."""
        return (RU if language == "ru" else EN)[self.key].format(**self.values)


# The portals' part of the /admin page.
PAGE_EN: dict[str, str] = {
    "portals": "Bitrix24 portals",
    "name": "Portal",
    "domain": "Domain",
    "state": "State",
    "companies": "Companies",
    "waiting": "Waiting for an answer",
    "left": "Requests left",
    "none": "No portal yet: the service stores `default` when it starts.",
    "active": "active",
    "blocked": "blocked",
    "bot_deleted": "bot deleted",
    "removed": "removed",
    "until": "until {when} UTC",
    "add": "Connect a portal",
    "add_hint": "The client's administrator makes an incoming webhook (imbot, user) and hands "
    "over its URL; it is stored sealed and never shown again.",
    "new_name": "Name (a-z 0-9 - _)",
    "webhook": "Webhook URL",
    "api": "Bot API (v2: the service fetches its events, no PUBLIC_URL needed)",
    "member_id": "member_id, if known (else its first event pins it)",
    "connect": "Connect",
    "map": "Ask a company's people in a portal",
    "company": "Okdesk company id",
    "portal": "Portal",
    "do_map": "Map",
    "unmap": "Forget a company's portal",
    "do_unmap": "Unmap",
    "remove": "Remove a portal",
    "remove_hint": "Its bot is unregistered and its waiting surveys are cancelled; its history "
    "stays. Type its name again to confirm.",
    "confirm": "Its name again",
    "do_remove": "Remove",
    "added": "Portal {name} connected: bot {bot}. Map its companies below.",
    "mapped": "Company {company}: its closures go to portal {name}.",
    "unmapped": "Company {company} has no portal of its own now.",
    "removed_notice": "Portal {name} removed: {cancelled} waiting survey(s) cancelled.",
    "not_unregistered": "Its bot could not be unregistered: remove it in Bitrix24.",
}

PAGE_RU: dict[str, str] = {
    "portals": "Порталы Битрикс24",
    "name": "Портал",
    "domain": "Домен",
    "state": "Состояние",
    "companies": "Компаний",
    "waiting": "Ждут ответа",
    "left": "Запросов в запасе",
    "none": "Порталов пока нет: сервис сохранит `default` при запуске.",
    "active": "работает",
    "blocked": "заблокирован",
    "bot_deleted": "бот удалён",
    "removed": "отключён",
    "until": "до {when} UTC",
    "add": "Подключить портал",
    "add_hint": "Администратор клиента создаёт входящий вебхук (права imbot, user) и передаёт "
    "его адрес; адрес хранится зашифрованным и больше не показывается.",
    "new_name": "Имя (a-z 0-9 - _)",
    "webhook": "Адрес вебхука",
    "api": "API бота (v2: события забирает сервис, PUBLIC_URL не нужен)",
    "member_id": "member_id, если известен (иначе его закрепит первое событие)",
    "connect": "Подключить",
    "map": "Спрашивать людей компании в портале",
    "company": "Номер компании в Okdesk",
    "portal": "Портал",
    "do_map": "Привязать",
    "unmap": "Отвязать компанию от портала",
    "do_unmap": "Отвязать",
    "remove": "Отключить портал",
    "remove_hint": "Его бот удаляется, ждущие ответа опросы отменяются, история остаётся. "
    "Для подтверждения введите имя портала ещё раз.",
    "confirm": "Имя ещё раз",
    "do_remove": "Отключить",
    "added": "Портал {name} подключён: бот {bot}. Привяжите к нему компании ниже.",
    "mapped": "Компания {company}: её заявки теперь опрашиваются в портале {name}.",
    "unmapped": "Компания {company} больше не привязана к порталу.",
    "removed_notice": "Портал {name} отключён: отменено ждущих ответа опросов: {cancelled}.",
    "not_unregistered": "Бота удалить не удалось: удалите его в Битрикс24.",
}


def page_texts(language: str) -> dict[str, str]:
    """The page's portal texts in `language` (Russian unless "en")."""
    return PAGE_EN if language == "en" else PAGE_RU
