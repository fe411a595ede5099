"""The report page: figures from stored rows (figures, period), charts (svg), the page
(page, texts), the CSV export (export) and who may see them (guard)."""
