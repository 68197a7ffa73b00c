"""The Telegram front end (python-telegram-bot): thin over the same pipeline as the terminal."""

import os

# opt in to python-telegram-bot's coming timedelta durations (RetryAfter.retry_after…) now;
# bot.frontends.telegram.throttle reads both forms
os.environ.setdefault("PTB_TIMEDELTA", "1")
