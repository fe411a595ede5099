"""The administrator's command, `python -m bridge.admin` (`__main__`): check the setup against
both vendors, send a test invitation, look at surveys, and act on one ticket's survey.

`context` holds what every command gets; `repairs` the commands that change surveys (retry,
resend, cancel); `views` those that only read (status, list, show, export); `check` and
`send_test` those that talk to the vendors.

May import every room: it is the top. No room imports it.
"""
