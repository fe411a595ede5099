"""The report page as people see it: the page (`page`, `sections`), its charts (`svg`), its
words in both languages (`texts`), and who may see it and press its buttons (`guard`).

Part of the report room: imports what `bridge.report` may.
"""

__all__ = ["guard", "page", "texts"]
