#!/bin/sh
# What the tests need from the operating system, installed where missing (Debian/Ubuntu, as root
# or with sudo): php-cli for the HTTP relay's PHP worker example, ActiveMQ (and the Java it runs on)
# for the ActiveMQ bridge, Chromium for the web console's browser tests. Everything else comes
# from npm.
# Run by `pnpm test`; harmless when everything is there.
set -e
missing=""
command -v php >/dev/null 2>&1 || missing="$missing php-cli"
[ -e /usr/share/activemq/bin/activemq.jar ] || [ -n "$ACTIVEMQ_HOME" ] || missing="$missing activemq"
# XStream and Jettison: ActiveMQ's STOMP connector needs them to hand out MapMessages as JSON
# (the statistics plugin's answers that `tq stats` reads).
[ -e /usr/share/java/xstream.jar ] || missing="$missing libxstream-java"
[ -e /usr/share/java/jettison.jar ] || missing="$missing libjettison-java"
# Debian's Chromium: the web console's tests drive it with playwright-core.
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else sudo="none"; fi
if [ "$sudo" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing:$missing. Install them with your package manager (Debian: apt-get install$missing)." >&2
  exit 1
fi
echo "system-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$sudo apt-get install -y --no-install-recommends $missing >/dev/null 2>&1 || {
  $sudo apt-get update >/dev/null 2>&1
  $sudo apt-get install -y --no-install-recommends $missing >/dev/null
}
