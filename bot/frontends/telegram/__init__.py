"""The Telegram front end (python-telegram-bot): thin over the same pipeline as the terminal."""
