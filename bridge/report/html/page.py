"""The report page as one HTML document: inline CSS that fits a phone, no script, no CDN."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from bridge.report import attention, unused
from bridge.report.figures import Overview, Row, Week
from bridge.report.filters import NAMES, Filters
from bridge.report.html import sections
from bridge.report.html.texts import texts
from bridge.report.period import Period
from bridge.report.words import Comment
from storage.reading.attention import Unhandled
from storage.reading.report import Trouble
from storage.reading.report_words import Change


@dataclass(frozen=True)
class Report:
    """Everything the page shows."""

    period: Period
    overview: Overview
    weeks: list[Week]
    engineers: list[Row]
    groups: list[Row]
    comments: list[Comment]
    changes: list[Change]
    machine: dict[str, int]
    troubles: list[Trouble]
    retryable: bool
    attention: list[Unhandled]
    previous: Overview
    filters: Filters
    unused: list[unused.Unused] = field(default_factory=list)
    # Every portal's name, removed ones too (their surveys stay); one: no portal filter.
    portals: list[str] = field(default_factory=list)

    def query(self) -> str:
        """The page's query string: the period and the filters."""
        return self.period.query() + self.filters.query()


@dataclass(frozen=True)
class Notice:
    """What the last press of the retry button did (shown once, after the redirect)."""

    queued: int
    refused: int
    marked: bool | None = None


CSS = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1d2330;background:#f4f6f9}
header{background:#1f3a5f;color:#fff;padding:12px 16px;display:flex;flex-wrap:wrap;
gap:8px 16px;align-items:center;justify-content:space-between}
header h1{font-size:20px;margin:0}
header form{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
header input,header button,header select{font:inherit;padding:4px 8px;border-radius:4px;
border:1px solid #9fb3c8}
header a{color:#fff}
header .filter{width:10em}
main{max-width:1100px;margin:0 auto;padding:12px}
h2{font-size:17px;margin:20px 0 8px}
section{margin-bottom:8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card{background:#fff;border-radius:8px;padding:10px 12px;box-shadow:0 1px 2px #0002}
.card .label{display:block;font-size:13px;color:#5a6478}
.card strong{display:block;font-size:28px}
.card.small strong{font-size:22px}
.card small{color:#5a6478;display:block}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:10px}
figure{margin:0;background:#fff;border-radius:8px;padding:10px;box-shadow:0 1px 2px #0002}
figcaption{font-weight:600;margin-bottom:4px}
.chart{width:100%;height:auto;font-size:11px}
.chart .value{font-size:12px;font-weight:600}
.chart polyline{stroke:#1f6fb2;stroke-width:2}
.chart circle{fill:#1f6fb2}
.chart .grid{stroke:#dde3ea}
.chart .axis{fill:#5a6478;font-size:10px}
.tables{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:0 16px}
.scroll{overflow-x:auto;background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e6eaef;vertical-align:top}
th{font-size:13px;color:#5a6478;font-weight:600}
.comments{list-style:none;padding:0;margin:0;display:grid;gap:8px}
.comments li{background:#fff;border-radius:8px;padding:8px 12px;box-shadow:0 1px 2px #0002;
border-left:5px solid #2e9e44}
.comments li.s1,.comments li.s2{border-left-color:#c0392b}
.comments li.s3{border-left-color:#f1c40f}
.comments .score{font-weight:700;float:right;font-size:18px}
blockquote{margin:0 0 4px;white-space:pre-wrap;overflow-wrap:anywhere}
.followup em{color:#5a6478}
.changed{margin:0 0 4px;color:#5a6478}
.comments small{color:#5a6478}
.notice{background:#e3f4e8;border:1px solid #9ed3ad;border-radius:8px;padding:8px 12px}
.problem{background:#fdecea;border:1px solid #e6a19a;border-radius:8px;padding:8px 12px}
.handled{display:flex;flex-wrap:wrap;gap:4px}
.handled input{font:inherit;width:9em;padding:3px 6px;border:1px solid #9fb3c8;border-radius:4px}
.handled button{font:inherit;padding:3px 10px;border:0;border-radius:4px;background:#1f6fb2;
color:#fff}
tr.s1 td:nth-child(3),tr.s2 td:nth-child(3){color:#c0392b;font-weight:700}
@media(max-width:640px){[data-table=attention] thead{display:none}
[data-table=attention] tr{display:block;padding:6px 0;border-bottom:1px solid #e6eaef}
[data-table=attention] td{display:inline-block;border:0;padding:2px 10px}
[data-table=attention] td:nth-child(4),[data-table=attention] td:last-child{display:block}}
.portal-forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:10px;
margin-top:10px}
.portal-form{display:flex;flex-direction:column;gap:6px}
.portal-form .title{font-weight:600}
.portal-form small{color:#5a6478}
.portal-form label{display:flex;flex-direction:column;font-size:13px;color:#5a6478}
.portal-form input,.portal-form select{font:inherit;padding:4px 8px;border:1px solid #9fb3c8;
border-radius:4px;color:#1d2330;background:#fff}
.portal-form button{font:inherit;padding:6px 12px;border:0;border-radius:6px;background:#1f6fb2;
color:#fff;align-self:flex-start}
.portal-form[data-form=remove] button{background:#c0392b}
tr.removed td{color:#8a93a3}
@media(max-width:640px){[data-table=portals] thead{display:none}
[data-table=portals] tr{display:block;padding:6px 0;border-bottom:1px solid #e6eaef}
[data-table=portals] td{display:block;border:0;padding:1px 10px}
[data-table=portals] td:first-child{font-weight:700}
[data-table=portals] td:not(:first-child)::before{content:attr(data-label) ": ";color:#5a6478}}
.retry button{font:inherit;padding:8px 14px;border:0;border-radius:6px;background:#1f6fb2;
color:#fff;margin-top:10px}
"""


def _header(report: Report, t: dict[str, str]) -> str:
    first, last = report.period.first.isoformat(), report.period.last.isoformat()
    return (
        f"<header><h1>{escape(t['title'])}</h1>"
        '<form method="get" action="/admin">'
        f'<label>{escape(t["from"])} <input type="date" name="from" value="{first}"></label>'
        f'<label>{escape(t["to"])} <input type="date" name="to" value="{last}"></label>'
        + _filters(report, t)
        + f'<button type="submit">{escape(t["show"])}</button>'
        f'<a href="/admin/export.csv?{escape(report.query())}">{escape(t["export"])}</a>'
        "</form></header>"
    )


def _filters(report: Report, t: dict[str, str]) -> str:
    known = {
        "engineer": [r.name for r in report.engineers if r.name],
        "group": [r.name for r in report.groups if r.name],
    }
    lists = "".join(
        f'<datalist id="known-{name}">'
        + "".join(f'<option value="{escape(v)}">' for v in values)
        + "</datalist>"
        for name, values in known.items()
    )
    inputs = "".join(
        f'<input name="{name}" value="{escape(getattr(report.filters, name) or "")}" '
        f'placeholder="{escape(t["filter_" + name])}" aria-label="{escape(t["filter_" + name])}"'
        + (f' list="known-{name}"' if name in known else "")
        + ' class="filter">'
        for name in NAMES
    )
    return lists + inputs + _portal(report, t)


def _portal(report: Report, t: dict[str, str]) -> str:
    """The portal to show, chosen from the list; with one portal there is nothing to choose."""
    if len(report.portals) < 2:
        return ""
    chosen = report.filters.portal
    options = "".join(
        f'<option value="{escape(n)}"{" selected" if n == chosen else ""}>{escape(n)}</option>'
        for n in report.portals
    )
    label = escape(t["filter_portal"])
    return (
        f'<select name="portal" aria-label="{label}" title="{label}">'
        f'<option value="">{escape(t["any_portal"])}</option>{options}</select>'
    )


def _notice(notice: Notice | None, t: dict[str, str]) -> str:
    if notice is None:
        return ""
    if notice.marked is not None:
        text = t["marked"] if notice.marked else t["not_marked"]
        return f'<p class="notice" role="status">{escape(text)}</p>'
    text = t["queued"].format(n=notice.queued)
    if notice.refused:
        text += " " + t["refused"].format(n=notice.refused)
    return f'<p class="notice" role="status">{escape(text)}</p>'


def _problem(problem: str | None, t: dict[str, str]) -> str:
    if problem is None:
        return ""
    return f'<p class="problem" role="alert">{escape(problem)} {escape(t["shown_instead"])}</p>'


def _machine(
    report: Report, okdesk: str, form: attention.Form, t: dict[str, str], language: str
) -> str:
    retry = sections.retry_form(*form(), report.query(), t) if report.retryable else ""
    return (
        unused.section(report.unused, okdesk, language)
        + f"<h2>{escape(t['machine'])}</h2>"
        + sections.machine(report.machine, report.troubles, okdesk, t, language)
        + retry
    )


def render(
    report: Report,
    *,
    language: str,
    okdesk: str,
    form: attention.Form,
    now: datetime,
    notice: Notice | None = None,
    problem: str | None = None,
    portals: str = "",
) -> str:
    """The whole page; `form()` makes each form's token; `portals` is `bridge.portals.section`."""
    t = texts(language)
    overview = report.overview
    query = report.query()
    body = (
        _header(report, t)
        + "<main>"
        + _notice(notice, t)
        + _problem(problem, t)
        + f"<p>{escape(t['surveys'].format(n=overview.surveys))}</p>"
        + sections.cards(overview, report.previous, t, language)
        + attention.section(
            report.attention, okdesk=okdesk, now=now, form=form, query=query, t=t, lang=language
        )
        + sections.charts(overview, report.weeks, t, language)
        + sections.tables(report.engineers, report.groups, t, language)
        + sections.comments(report.comments, okdesk, t)
        + sections.changes(report.changes, okdesk, t)
        + _machine(report, okdesk, form, t, language)
        + portals
        + "</main>"
    )
    return (
        f'<!doctype html><html lang="{"en" if language == "en" else "ru"}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(t['title'])}</title><style>{CSS}</style></head><body>{body}</body></html>"
    )
