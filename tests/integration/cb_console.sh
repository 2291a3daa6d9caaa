#!/usr/bin/env bash
# The call-center console (seed 004 Phase I, issue 15 items 2 and 9) in Debian's headless Chromium
# driven by puppeteer-core: a validation message, a registration, and the box reaching "online"
# or "configured" on its detail page while the box agent (plugged in before registration, retrying)
# configures itself.
source "$(dirname "$0")/lib.sh"
CONSOLE_DIR=$(cd "$(dirname "$0")/../console" && pwd)
[ -x /usr/bin/chromium ] || fail "chromium is not installed (scripts/install-deps.sh)"
[ -d "$CONSOLE_DIR/node_modules/puppeteer-core" ] || fail "puppeteer-core is not installed (scripts/install-deps.sh)"
start_css "  callback_timeout: 30"
curl -fsS http://$ADMIN/console/ | grep -q "mobix call center" || fail "console page"
curl -fsS -D - -o /dev/null http://$ADMIN/console/app.js | grep -qi "content-security-policy: default-src 'none'" || fail "CSP header"
"$MOBIX" factory mint --config $T/mobix.yaml --serial SN-WEB1 --out $T/boxW --css-name css.cb.test --config-wait 2 --retry 1 >/dev/null
# Plugged in before the call center registers it: it logs in, is not known yet, and tries again.
"${CB[@]}" --state $T/boxW --line +4420000042 >$T/boxW.log 2>&1 &
PIDS+=($!)
mkdir -p $T/shots
timeout 120 node "$CONSOLE_DIR/console.test.mjs" "http://$ADMIN" SN-WEB1 $T/shots 2>&1 | grep -v "unexpected operator" ||
  fail "console test: $(tail -5 $T/serve.log)"
[ -s $T/shots/console-configured.png ] || fail "no screenshot"
pass "call-center console in headless Chromium"
