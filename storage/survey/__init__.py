"""The survey's rows and their queries: the survey and its changes (`surveys`), who is asked
(`asking`), changes of mind (`changes`), follow-ups (`followups`), extra messages
(`messages`), reminders (`reminders`), texts that were no answer (`unused`), lists
(`listing`) and bulk loading (`bulk`)."""
