"""A fake Bitrix24 portal that also speaks imbot.v2 (Chatbots 2.0): `FakeBitrixV2` is the v1
fake (`sandbox.fakes.bitrix`, whose user.get, batch and imbot.* it keeps, as a real portal
does) plus the v2 bots, commands, messages and the event queue read with imbot.v2.Event.get.
Written from `bitrix24-v2.md` alone."""

from sandbox.fakes.bitrix_v2.portal import FakeBitrixV2

__all__ = ["FakeBitrixV2"]
