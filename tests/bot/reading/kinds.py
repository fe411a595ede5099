"""The three ways a reply can read, by short name, for the tables of messages."""

from bot.reading.replies import ReplyKind

RATING, DOUBTFUL, OTHER = ReplyKind.RATING, ReplyKind.DOUBTFUL, ReplyKind.OTHER
