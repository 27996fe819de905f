#!/usr/bin/env bash
# The wallet-link page is tested in headless Chromium from the Debian package (npm browser downloads can't
# reach the internet here). Install it when missing and we can; otherwise say so — the browser test then
# skips itself, except under CI, where it must run.
set -u
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser test (one time)…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0
fi
echo "warning: /usr/bin/chromium is missing and could not be installed; the browser test will be skipped" >&2
exit 0
