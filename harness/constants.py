"""The identities the fakes and the service agree on in tests (tokens, ids, URLs)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "harness" / "fixtures"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
OKDESK_BASE = "https://acme.okdesk.ru"
BITRIX_BASE = "https://acme.bitrix24.ru"
# The portal's domain as the event fixtures name it.
PORTAL_DOMAIN = "acme.bitrix24.ru"
WEBHOOK_PATH = "/rest/1/hooktoken/"
OKDESK_TOKEN = "okdesk-test-token"
WEBHOOK_TOKEN = "okdesk-webhook-secret-0123456789"
EVENTS_TOKEN = "bitrix-events-secret-0123456789"
CLIENT_ID = "rating-bot-acme"
ISSUE_ID = 314599
CONTACT_ID = 11771
USER_ID = 27
# The acting person's access token in the reply and click fixtures (auth[access_token]).
USER_TOKEN = "c3d4e5f6000018d6000002370000001b0f1f5f4f5c6fc2d4"
