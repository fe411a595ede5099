"""Try the service with no accounts: fake Okdesk and Bitrix24 that speak the vendors' wire formats,
the service on a temporary database, and one page to drive them (python -m sandbox)."""
