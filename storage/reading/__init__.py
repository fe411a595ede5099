"""What the report reads: the figures (`report`), the per-day counts that keep them cheap
(`daily`), people's words (`report_words`) and what needs attention (`attention`); and the
surveys waiting by portal and the jobs pending by kind that /metrics reads, kept the same way
(`waiting`, `pending`); and everything /metrics' gauges read, in one statement (`gauges`)."""
