"""A fake Bitrix24 portal speaking the real wire format: `FakeBitrix` serves the REST methods
(bots and commands in `bots`, messages and clicks in `messages`, PHP's answers in `php`)."""

from sandbox.fakes.bitrix.messages import MEMBER_ID
from sandbox.fakes.bitrix.php import php_json_array
from sandbox.fakes.bitrix.portal import FakeBitrix

__all__ = ["MEMBER_ID", "FakeBitrix", "php_json_array"]
