"""The portals' part of the /admin page: each portal's line, and the forms that connect a
portal, map or unmap a company, and remove a portal (each a one-use POST, as the page's
others: `bridge.report.html.guard`).

What the administrator typed comes back after a refusal, except the webhook's URL: it is a
secret, so its field is always empty (and typed as a password).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from bridge.portals.connect import NAME
from bridge.portals.directory import PortalLine
from bridge.portals.texts import page_texts
from storage.portals import PortalState

Form = Callable[[], tuple[str, str]]


def section(
    lines: Sequence[PortalLine],
    *,
    form: Form,
    language: str,
    query: str = "",
    notice: str | None = None,
    problem: str | None = None,
    kept: Mapping[str, str] | None = None,
) -> str:
    """The section: a notice or the refusal, the table of portals, the four forms."""
    t = page_texts(language)
    posted = kept or {}
    said = ""
    if notice:
        said = f'<p class="notice" role="status">{escape(notice)}</p>'
    if problem:
        said = f'<p class="problem" role="alert">{escape(problem)}</p>'
    names = [line.name for line in lines if line.state != PortalState.REMOVED]
    return (
        f'<section id="portals"><h2>{escape(t["portals"])}</h2>'
        + said
        + _table(lines, t)
        + '<div class="portal-forms">'
        + _add(_Forms(form, query), t, _of(posted, "add"))
        + _map(_Forms(form, query), t, _of(posted, "map"), names)
        + _unmap(_Forms(form, query), t, _of(posted, "unmap"))
        + _remove(_Forms(form, query), t, _of(posted, "remove"), names)
        + "</div></section>"
    )


def _of(posted: Mapping[str, str], action: str) -> Mapping[str, str]:
    """What was typed into the form `action`, when that was the form posted."""
    return posted if posted.get("form") == action else {}


def _state(line: PortalLine, t: dict[str, str]) -> str:
    text = t[line.state.value]
    if line.blocked_until is not None:
        text += " " + t["until"].format(when=f"{line.blocked_until:%Y-%m-%d %H:%M}")
    return text


def _values(line: PortalLine, t: dict[str, str]) -> tuple[object, ...]:
    state = _state(line, t)
    return line.name, line.domain, state, line.companies, line.waiting, line.requests_left


def _table(lines: Sequence[PortalLine], t: dict[str, str]) -> str:
    if not lines:
        return f"<p>{escape(t['none'])}</p>"
    heads = ("name", "domain", "state", "companies", "waiting", "left")
    rows = "".join(
        f'<tr data-portal="{escape(line.name)}" class="{line.state.value}">'
        + "".join(
            f'<td data-label="{escape(t[head])}">{escape(str(value))}</td>'
            for head, value in zip(heads, _values(line, t), strict=True)
        )
        + "</tr>"
        for line in lines
    )
    return (
        '<div class="scroll"><table data-table="portals"><thead><tr>'
        + "".join(f"<th>{escape(t[h])}</th>" for h in heads)
        + f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


@dataclass(frozen=True)
class _Forms:
    """How each form is made: its one-use token, and the page's period and filters to return
    to."""

    token: Form
    query: str


def _form(action: str, forms: _Forms, title: str, fields: str, button: str, hint: str = "") -> str:
    nonce, csrf = forms.token()
    note = f"<small>{escape(hint)}</small>" if hint else ""
    # The fragment brings a refusal's page (the POST's answer) to this section.
    target = escape(f"/admin/portals/{action}?{forms.query.lstrip('&')}#portals")
    return (
        f'<form method="post" action="{target}" class="card portal-form" '
        f'data-form="{action}"><span class="title">{escape(title)}</span>{note}'
        f'<input type="hidden" name="nonce" value="{escape(nonce)}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'{fields}<button type="submit">{escape(button)}</button></form>'
    )


def _input(name: str, label: str, value: str = "", kind: str = "text", extra: str = "") -> str:
    return (
        f'<label>{escape(label)} <input type="{kind}" name="{name}" value="{escape(value)}" '
        f'required autocomplete="off"{extra}></label>'
    )


def _choice(names: Sequence[str], label: str, chosen: str) -> str:
    options = '<option value="">—</option>' + "".join(
        f'<option value="{escape(n)}"{" selected" if n == chosen else ""}>{escape(n)}</option>'
        for n in names
    )
    return f'<label>{escape(label)} <select name="name" required>{options}</select></label>'


def _add(form: _Forms, t: dict[str, str], kept: Mapping[str, str]) -> str:
    fields = _input("name", t["new_name"], kept.get("name", "")) + _input(
        "webhook_url", t["webhook"], kind="password", extra=' spellcheck="false"'
    )
    api = kept.get("api", "v1")
    options = "".join(
        f'<option value="{v}"{" selected" if v == api else ""}>{v}</option>' for v in ("v1", "v2")
    )
    fields += f'<label>{escape(t["api"])} <select name="api">{options}</select></label>'
    fields += (
        f'<label>{escape(t["member_id"])} <input type="text" name="member_id" '
        f'value="{escape(kept.get("member_id", ""))}" autocomplete="off" spellcheck="false">'
        "</label>"
    )
    return _form("add", form, t["add"], fields, t["connect"], t["add_hint"])


def _company(t: dict[str, str], kept: Mapping[str, str]) -> str:
    extra = ' inputmode="numeric"'
    return _input("company", t["company"], kept.get("company", ""), extra=extra)


def _map(form: _Forms, t: dict[str, str], kept: Mapping[str, str], names: Sequence[str]) -> str:
    fields = _company(t, kept) + _choice(names, t["portal"], kept.get("name", ""))
    return _form("map", form, t["map"], fields, t["do_map"])


def _unmap(form: _Forms, t: dict[str, str], kept: Mapping[str, str]) -> str:
    return _form("unmap", form, t["unmap"], _company(t, kept), t["do_unmap"])


def _remove(form: _Forms, t: dict[str, str], kept: Mapping[str, str], names: Sequence[str]) -> str:
    fields = _choice(names, t["portal"], kept.get("name", "")) + _input("confirm", t["confirm"])
    return _form("remove", form, t["remove"], fields, t["do_remove"], t["remove_hint"])


_NUMBER = re.compile(r"[0-9]{1,18}")
# What each notice is filled with, from the page's query after a form: name, number, number.
_NOTICES = {
    "added": "added",
    "mapped": "mapped",
    "unmapped": "unmapped",
    "removed": "removed_notice",
}


def notice_of(query: Mapping[str, str], language: str) -> str | None:
    """The notice a form's redirect asks for (`?done=added&name=acme&bot=5`), or None when
    the query names none or names it wrongly."""
    key = _NOTICES.get(query.get("done", ""))
    if key is None:
        return None
    name = query.get("name", "")
    numbers = {n: query.get(n, "0") for n in ("bot", "company", "cancelled")}
    if (name and not NAME.fullmatch(name)) or not all(map(_NUMBER.fullmatch, numbers.values())):
        return None
    t = page_texts(language)
    text = t[key].format(name=name, **numbers)
    if query.get("unregistered") == "0":
        text += " " + t["not_unregistered"]
    return text
