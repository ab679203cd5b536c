#!/usr/bin/env bash
# The S3 server the storage tests run against: versitygw (a real S3 gateway, posix back-end), built once.
# Prints its path. VERSITYGW_BIN=/path/to/versitygw skips the build.
set -euo pipefail
if [ -n "${VERSITYGW_BIN:-}" ]; then echo "$VERSITYGW_BIN"; exit 0; fi
exec bash "$(dirname "$0")/go-tool.sh" versitygw github.com/versity/versitygw/cmd/versitygw "${EGRESS_VERSITYGW_VERSION:-v1.8.0}"
