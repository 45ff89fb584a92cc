#!/usr/bin/env bash
# One-step set-up: system packages the tests need, the package with its test extras,
# then the main job (`cpagent demo`) once, so a fresh machine shows the product working.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    echo "install.sh: installing Debian's mosquitto (MQTT broker used by the tests)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto
fi

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    echo "install.sh: installing Debian's chromium (headless browser for the web page test)"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi

python3 -m pip install -q -e '.[test]'

if cpagent demo --help >/dev/null 2>&1; then
    cpagent demo
fi
