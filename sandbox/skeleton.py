"""The page around its panels: the header (with the Bitrix24 API in use), the two vendors side
by side, the reply box, the knobs and the service's log."""

from __future__ import annotations

from html import escape

from sandbox.render import Knobs, person_of
from sandbox.texts import Lang, text
from sandbox.world import LEAD


def _number(name: str, value: object, step: str = "1", low: str = "0", high: str = "") -> str:
    """A number input."""
    top = f' max="{high}"' if high else ""
    return (
        f'<input type="number" name="{name}" id="{name}" value="{escape(str(value))}" '
        f'min="{low}"{top} step="{step}">'
    )


def knobs_form(knobs: Knobs, who: int, lang: Lang) -> str:
    """The knobs: vendor latency and error rate, the portal's rate limit, the rating timeout."""
    checked = " checked" if knobs.rate_limit else ""
    hidden = f'<input type="hidden" name="who" value="{who}"><input type="hidden" name="lang" '
    return (
        f'<form id="knobs" method="post" action="/knobs">{hidden}value="{lang}">'
        f'<label for="latency_ms">{text("latency", lang)}</label>'
        f"{_number('latency_ms', knobs.latency_ms, '50', high='10000')}"
        f'<label for="error_percent">{text("errors", lang)}</label>'
        f"{_number('error_percent', knobs.error_percent, high='100')}"
        f'<label for="rate_limit">{text("limit", lang)}</label><span class="limit">'
        f'<input type="checkbox" name="rate_limit" id="rate_limit"{checked}>'
        f"{_number('burst', knobs.burst, low='1')} {text('burst', lang)} + "
        f"{_number('per_second', knobs.per_second, '0.1', low='0.1')} {text('per_second', lang)}"
        f'</span><label for="rating_timeout">{text("timeout", lang)}</label>'
        f'<input type="text" name="rating_timeout" id="rating_timeout" '
        f'value="{escape(knobs.rating_timeout)}" size="6">'
        f'<p class="muted wide">{text("timeout_note", lang)}</p>'
        f'<button class="primary wide">{text("apply", lang)}</button></form>'
    )


def reply_form(who: int, lang: Lang) -> str:
    """The box to write to the bot."""
    return (
        f'<form id="reply" method="post" action="/write">'
        f'<input type="hidden" name="who" value="{who}"><input type="hidden" name="lang" '
        f'value="{lang}"><input type="text" name="text" autocomplete="off" '
        f'placeholder="{escape(text("reply", lang))}" aria-label="{escape(text("reply", lang))}">'
        f'<button class="primary">{text("send", lang)}</button></form>'
    )


def api_note(api: str, lang: Lang) -> str:
    """Which Bitrix24 API the bot runs on, and how its events reach the service."""
    return f'<p id="api" class="api" data-api="{escape(api)}">{text(f"api_{api}", lang)}</p>'


def page_html(
    panels: dict[str, str],
    tabs: str,
    knobs: Knobs,
    who: int,
    lang: Lang,
    css: str,
    script: str,
    api: str = "v1",
) -> str:
    """The whole page."""
    other = "en" if lang == "ru" else "ru"
    person = escape(person_of(who).name)
    reply = reply_form(who, lang)
    if who == LEAD.user_id:  # the team's chat: the lead presses «Беру», writes nothing here
        person, reply = escape(text("team_head", lang, name=LEAD.name)), ""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{text("title", lang)}</title><style>{css}</style>
<noscript><meta http-equiv="refresh" content="3"></noscript></head>
<body data-who="{who}" data-lang="{lang}">
<header><h1>{text("title", lang)}</h1>
<a class="switch" href="/?who={who}&amp;lang={other}">{text("switch", lang)}</a>
<p class="lead">{text("lead", lang)}</p>{api_note(api, lang)}
<a id="admin-link" class="admin" href="/admin" target="_blank">{text("admin_link", lang)}</a>
</header>
<p id="note" role="status"></p>
<main>
<section class="okdesk"><h2>{text("okdesk", lang)}</h2>
<div id="tickets">{panels["tickets"]}</div></section>
<section class="bitrix"><h2>{text("bitrix", lang)}</h2>{tabs}
<div class="dialog"><div class="dialog-head">{person}</div>
<div id="chat-log">{panels["chat-log"]}</div>{reply}</div></section>
</main>
<section class="knobs"><h2>{text("knobs", lang)}</h2>{knobs_form(knobs, who, lang)}</section>
<section class="service"><h2>{text("log", lang)}</h2><div id="log">{panels["log"]}</div></section>
<script>{script}</script></body></html>"""
