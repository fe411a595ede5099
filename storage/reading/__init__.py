"""What the report reads: the figures (`report`), people's words (`report_words`) and what
needs attention (`attention`)."""
