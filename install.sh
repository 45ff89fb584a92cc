#!/usr/bin/env bash
# One-step set-up: system packages the tests need, the package with its test extras,
# then the main job (`cpagent demo`) once, so a fresh machine shows the product working.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
UPDATED=""

# need PACKAGE WHY COMMAND...: install Debian's PACKAGE unless one of the commands exists
need() {
    local package=$1 why=$2
    shift 2
    for command in "$@"; do
        command -v "$command" >/dev/null 2>&1 && return 0
    done
    echo "install.sh: installing Debian's $package ($why)"
    if [ -z "$UPDATED" ]; then
        $SUDO apt-get update -qq
        UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$package"
}

need mosquitto "MQTT broker used by the tests" mosquitto /usr/sbin/mosquitto
need chromium "headless browser for the web page test" chromium chromium-browser

python3 -m pip install -q -e '.[test]'
# An editable install leaves byte-compiling to the first import, which never happens where
# PYTHONDONTWRITEBYTECODE is set or the tree is read-only: compile now, so the daemon loads
# .pyc files (compiling its modules and the generated validators at each start costs MiBs).
python3 -m compileall -q -j 0 cpagent hw >/dev/null

if cpagent demo --help >/dev/null 2>&1; then
    cpagent demo
fi
