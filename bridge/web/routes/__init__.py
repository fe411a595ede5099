"""The web app's routes, one module per sender: Okdesk, Bitrix24, and the probes (health)."""
