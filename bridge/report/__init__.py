"""The report: figures from stored rows (`read`, `figures`, `period`, `filters`), what needs
attention and who handled it (`attention`, `handling`), people's words (`words`), the exports
(`export`, `survey_csv`), and the page (`html`).

May import: `bridge.config`, `bot`, `storage`.
"""

__all__ = [
    "export",
    "figures",
    "filters",
    "handling",
    "html",
    "period",
    "read",
    "survey_csv",
    "words",
]
