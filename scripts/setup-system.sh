#!/usr/bin/env bash
# System packages the project needs beyond PyPI: fonts for rendering synthetic plates (Latin, Vietnamese and the
# Chinese province characters), a PostgreSQL server for the journal's PostgreSQL tests and Debian's Chromium for
# the control-room page's browser tests (Playwright drives it; no browser is downloaded).
# Idempotent and quiet when everything is present; never fatal (tests that need a missing part skip and say why).
set -u
need=()
fc-list 2>/dev/null | grep -qi "DejaVuSansCondensed-Bold" || need+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v python3.11 >/dev/null 2>&1 || echo "setup-system: python3.11 not on PATH; set PY=... for make" >&2
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: not root; please install: ${need[*]}" >&2
  exit 0
fi
echo "setup-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "setup-system: could not install ${need[*]}; dependent tests will skip" >&2
exit 0
