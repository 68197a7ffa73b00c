#!/bin/sh
# The image's entrypoint: pull the configured models into the /data volume the first time
# (idempotent: verified files are kept), then run the command (default: parallax bot).
set -eu
if [ "${PARALLAX_SKIP_PULL:-0}" != "1" ]; then
  parallax models pull >&2  # stdout is the command's own (ask --json)
fi
exec "$@"
