"""Outbound calls to vendors: what the Bitrix24 and the Okdesk clients share.

The error tree (`outbound.errors`) and when a failure is worth repeating
(`outbound.transient`). Nothing here knows a vendor: `bot` and `bridge.okdesk` build on it.
"""
