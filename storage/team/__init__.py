"""What the bot posts to the team's chat (ALERT_DIALOG_ID): each message's row (`tables`) and
its one send, its edits and «Беру» (`posts`)."""
