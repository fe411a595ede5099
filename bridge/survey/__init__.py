"""The survey: asking the person who opened a ticket, and what their answer becomes.

A closure decides whether to ask (`closures`), who is asked (`asking`), the invitation
(`invitations`), reminders (`reminders`), the jobs that carry each step (`jobs`), the chat and
its buttons (`chat`, `buttons`), the person's language (`languages`), the comment an automatic
rating leaves (`auto_comment`). What people answer, by button or by text, is `replies`.

May import: `bridge.config`, `bridge.rules`, `bridge.okdesk`, `bridge.outside`, `bot`,
`storage`, `outbound`.
"""

__all__ = [
    "asking",
    "auto_comment",
    "closures",
    "invitations",
    "jobs",
    "languages",
    "reminders",
    "replies",
]
