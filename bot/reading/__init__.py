"""Reading a typed reply: a score, a grade, words (`replies`), its clauses and tokens
(`reply_clauses`, `reply_tokens`), and the words it knows (`reply_words`). Pure text, no I/O."""
