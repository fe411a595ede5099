"""Portals on the /admin page, as the administrator uses them, through a real service against
two fake portals: connecting a portal (twice is harmless), mapping and unmapping a company,
removing a portal only once its name is typed again. Each form is a one-use POST; a refusal is
one line in Russian, with what was typed kept and the webhook's URL never shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path

import httpx

from harness.processes import Service, register_bot
from tests.portals.running import ACME, Portals, two_portals

ADMIN = "admin-token-0123456789abcdef0123"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@contextmanager
def _serving(
    database_url: str, tmp_path: Path, api: str = "v1"
) -> Iterator[tuple[Portals, Service]]:
    with two_portals(database_url, tmp_path, api=api, ADMIN_TOKEN=ADMIN) as portals:
        register_bot(portals.env, tmp_path)
        service = Service(portals.env, tmp_path / "service.log")
        service.start()
        try:
            yield portals, service
        finally:
            service.stop()
    log = (tmp_path / "service.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    code = portals.client_webhook.rstrip("/").rsplit("/", 1)[-1]
    assert code not in log


def _form(page: str, action: str) -> tuple[str, dict[str, str]]:
    """The form `action` of the page: where it posts, and its one-use token."""
    found = re.search(rf'<form method="post" action="([^"]+)"[^>]*data-form="{action}">', page)
    assert found, f"no {action} form"
    rest = page[found.end() :]
    token = dict(re.findall(r'name="(nonce|csrf)" value="([^"]+)"', rest[: rest.index("</form>")]))
    return unescape(found.group(1)), token


def _send(service: Service, action: str, **fields: str) -> httpx.Response:
    """Fill the page's form `action` with `fields` and post it, as the browser does."""
    page = httpx.get(service.url + "/admin", headers=AUTH, timeout=30).text
    target, token = _form(page, action)
    return httpx.post(
        service.url + target,
        data={**token, **fields},
        headers={**AUTH, "Origin": service.url},
        timeout=60,
    )


def _said(answer: httpx.Response) -> str:
    found = re.search(
        r'<p class="(?:notice|problem)" role="(?:status|alert)">([^<]*)</p>', answer.text
    )
    assert found, answer.text[:2000]
    return unescape(found.group(1))


def _row(page: str, name: str) -> list[str]:
    found = re.search(rf'<tr data-portal="{name}"[^>]*>(.*?)</tr>', page)
    assert found, page
    return [unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))]


def _followed(service: Service, answer: httpx.Response) -> httpx.Response:
    assert answer.status_code == 303, answer.text[:2000]
    return httpx.get(service.url + answer.headers["location"], headers=AUTH, timeout=30)


def test_a_portal_connected_on_the_page_twice_has_one_bot_and_its_url_is_never_shown(
    database_url: str, tmp_path: Path
) -> None:
    with _serving(database_url, tmp_path) as (portals, service):
        url = portals.client_webhook
        first = _followed(service, _send(service, "add", name="acme", webhook_url=url))
        again = _followed(service, _send(service, "add", name="acme", webhook_url=url))
        bots = portals.fakes.state("bitrix:1")["bots"]
        bad_name = _send(service, "add", name="Acme Inc", webhook_url=url)
        bad_url = _send(service, "add", name="beta", webhook_url=url + "?secret=1")
        target, token = _form(first.text, "add")
        posted = {**token, "name": "acme", "webhook_url": url}
        headers = {**AUTH, "Origin": service.url}
        once = httpx.post(service.url + target, data=posted, headers=headers, timeout=60)
        replayed = httpx.post(service.url + target, data=posted, headers=headers, timeout=60)
    (bot,) = bots.values()
    assert (
        _said(first) == f"Портал acme подключён: бот {bot['ID']}. Привяжите к нему компании ниже."
    )
    assert _said(again) == _said(first)
    assert _row(again.text, "acme")[:5] == ["acme", "127.0.0.1", "работает", "0", "0"]
    assert bad_name.status_code == 400
    assert _said(bad_name) == "Имя: 1–40 знаков из a-z 0-9 - _, первый — буква или цифра"
    assert 'name="name" value="Acme Inc"' in bad_name.text
    assert bad_url.status_code == 400 and "без запроса" in _said(bad_url)
    code = url.rstrip("/").rsplit("/", 1)[-1]
    for answer in (first, again, bad_name, bad_url):
        assert code not in answer.text and bot["CLIENT_ID"] not in answer.text
    assert once.status_code == 303, _said(once)
    assert replayed.status_code == 403
    assert "already sent" in replayed.text


def test_companies_are_mapped_and_a_portal_is_removed_only_when_its_name_is_typed_again(
    database_url: str, tmp_path: Path
) -> None:
    with _serving(database_url, tmp_path) as (portals, service):
        assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
        mapped = _followed(service, _send(service, "map", company=str(ACME), name="acme"))
        other = _followed(service, _send(service, "map", company="77", name="acme"))
        nobody = _send(service, "map", company="78", name="nobody")
        not_a_number = _send(service, "map", company="12a", name="acme")
        unmapped = _followed(service, _send(service, "unmap", company="77"))
        not_mapped = _send(service, "unmap", company="77")
        unconfirmed = _send(service, "remove", name="acme", confirm="acm")
        still = portals.fakes.state("bitrix:1")["bots"]
        removed = _followed(service, _send(service, "remove", name="acme", confirm="acme"))
        gone = portals.fakes.state("bitrix:1")["bots"]
        listed = portals.admin("portal", "list")
    assert _said(mapped) == f"Компания {ACME}: её заявки теперь опрашиваются в портале acme."
    assert _row(other.text, "acme")[3] == "2"
    assert nobody.status_code == 400 and _said(nobody) == "Портала с именем 'nobody' нет"
    assert _said(not_a_number) == "Номер компании в Okdesk — целое число больше 0"
    assert 'name="company" value="12a"' in not_a_number.text
    assert _said(unmapped) == "Компания 77 больше не привязана к порталу."
    assert _row(unmapped.text, "acme")[3] == "1"
    assert _said(not_mapped) == "Компания 77 не привязана к порталу"
    assert unconfirmed.status_code == 400 and len(still) == 1
    assert _said(unconfirmed) == "Чтобы отключить портал 'acme', введите его имя ещё раз"
    assert _said(removed) == "Портал acme отключён: отменено ждущих ответа опросов: 0."
    assert gone == {} and _row(removed.text, "acme")[2] == "отключён"
    assert "acme\t127.0.0.1\tremoved" in listed.out
    # A removed portal is offered to no form any more; the report still filters by it.
    header, section = removed.text.split("</header>")[0], removed.text.split('id="portals"')[1]
    assert '<option value="acme"' not in section and '<option value="acme"' in header


def test_a_v2_portal_connected_on_the_page_gets_a_v2_bot_and_a_bad_member_id_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    with _serving(database_url, tmp_path, api="v2") as (portals, service):
        url = portals.client_webhook
        bad = _send(service, "add", name="acme", webhook_url=url, api="v2", member_id="a b")
        added = _send(service, "add", name="acme", webhook_url=url, api="v2", member_id="")
        page = _followed(service, added)
        bots = portals.fakes.state("bitrix:1")["bots"]
    assert bad.status_code == 400 and _said(bad).startswith("member_id: 1–64 знака")
    assert 'name="member_id" value="a b"' in bad.text
    assert '<option value="v2" selected>' in bad.text
    (bot,) = bots.values()
    assert bot["API"] == "v2" and bot["EVENT_MODE"] == "fetch"
    assert _said(page) == f"Портал acme подключён: бот {bot['ID']}. Привяжите к нему компании ниже."
    assert bot["CLIENT_ID"] not in page.text  # the bot's token
