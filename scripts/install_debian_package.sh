#!/bin/sh
# Install a Debian package when its command is missing: chromium for the browser tests
# (Playwright drives /usr/bin/chromium), wrk for the benchmark's load item.
# Usage: install_debian_package.sh COMMAND [PACKAGE]   (PACKAGE defaults to COMMAND)
set -eu
command_name=$1
package=${2:-$1}
if command -v "$command_name" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "$command_name is missing: run 'sudo apt-get install -y $package'" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
