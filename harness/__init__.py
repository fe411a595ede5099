"""What the tests share: the vendors' test identities, fixture payloads, databases, the app run
in-process or as a process, one clock, one wait loop and one way to send webhooks and events.

pytest fixtures stay in tests/conftest.py; test modules import from here, never from conftest.
"""
