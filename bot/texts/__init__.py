"""What the bot says: the messages in Russian and English (`messages`, `texts_file`), the rating
buttons (`buttons`), the message form (`form`), and the text a chat shows (`visible`)."""
