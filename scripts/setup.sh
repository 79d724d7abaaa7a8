#!/usr/bin/env bash
# Sets up what siaga needs on a fresh Debian machine: the Debian packages (when missing), a virtual
# environment in .venv with the Python dependencies, and the front-end packages from npm. Safe to run
# again; it only installs what is missing.
#   scripts/setup.sh demo   only what `siaga demo` runs (make demo): seconds on a fresh machine
#   scripts/setup.sh [test] the whole test lab as well (make test, make lint)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${1:-test}"
case "$PROFILE" in demo|test) ;; *) echo "setup: unknown profile $PROFILE (demo or test)" >&2; exit 2;; esac

# Debian packages: one per line; each part of siaga adds what it needs.
DEMO_PACKAGES=(
  git
  python3-venv
  restic                # the demo's own backup and drill
)
TEST_PACKAGES=(
  postgresql            # the store's tests start their own server with its binaries
  mosquitto             # MQTT broker for the sensing tests (the demo simulates its sensors in process)
  mosquitto-clients     # mosquitto_pub, a publisher that is not ours
  openssh-server        # sshd as the off-site (SFTP) target in tests
  openssh-client
  mariadb-server        # MySQL/MariaDB dumps and checks
  mariadb-client
  dnsmasq-base          # a real DNS server on loopback for the DNS checks
  nginx                 # the local web server of bench/checks_capacity.py
  chromium              # the dashboard's browser tests
  libpango-1.0-0        # weasyprint (PDF reports)
  libpangoft2-1.0-0
  libharfbuzz-subset0
  fonts-dejavu-core
  prometheus            # promtool: the /metrics scrape is linted in the tests
  systemd               # systemd-analyze verify of deploy/systemd/siaga.service
  bind9                 # the authoritative DNS server taking TSIG-signed updates (runbook DNS failover tests)
  ipmitool              # IPMI soft power off and power state (runbook shutdowns; tested on pyghmi's BMC simulator)
  iputils-ping          # ping, the runbooks' "no echo reply" off check
)
APT_PACKAGES=("${DEMO_PACKAGES[@]}")
if [ "$PROFILE" = test ]; then APT_PACKAGES+=("${TEST_PACKAGES[@]}"); fi
# Node.js with npm for the front-end packages, unless a Node.js (which ships npm) is already there.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts some services when it installs them; siaga's tests start their own on free ports.

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# The test profile installs the dev extras too; its stamp also stands for the demo's.
stamp=.venv/.siaga-installed-$PROFILE
if [ "$PROFILE" = demo ] && [ -f .venv/.siaga-installed-test ] && [ ! pyproject.toml -nt .venv/.siaga-installed-test ]; then
  stamp=.venv/.siaga-installed-test
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "$PROFILE" = test ]; then
    .venv/bin/python -m pip install -q -e '.[dev]'
  else
    .venv/bin/python -m pip install -q -e .
  fi
  touch "$stamp"
fi

if [ -f package.json ]; then
  if [ ! -d node_modules ] || [ package.json -nt node_modules ]; then
    npm install --no-audit --no-fund --silent
    touch node_modules
  fi
fi
echo "setup: ready (.venv)"
