#!/bin/sh
# One progress line for a command: "LABEL ... 11 s". The command's own output is kept in
# a temporary file and shown only when it fails (then its exit code is passed on).
# Usage: step.sh LABEL COMMAND [ARG...]
set -u
label=$1
shift
log=$(mktemp "${TMPDIR:-/tmp}/step.XXXXXX")
trap 'rm -f "$log"' EXIT
trap 'rm -f "$log"; exit 130' INT TERM
started=$(date +%s)
printf '%s ...' "$label"
if "$@" >"$log" 2>&1; then
  printf ' %s s\n' "$(($(date +%s) - started))"
else
  status=$?
  printf ' failed (exit %s) after %s s; its output:\n' "$status" "$(($(date +%s) - started))"
  cat "$log"
  exit "$status"
fi
