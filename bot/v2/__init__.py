"""imbot.v2: its events (`events_v2`), its messenger (`messenger_v2`), registering its bot
(`register_v2`), its pace for a command's calls (`pacing`), and the vouchers fetch mode
trusts (`vouchers`). Nothing outside `bot` knows
which API runs: `bot.choice` picks the messenger."""
