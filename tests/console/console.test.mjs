// The call-center console in a real headless browser (issue 15 item 9): Debian's Chromium, driven
// by puppeteer-core (Node.js 18, Debian 12's, is enough; playwright-core 1.65 needs 20). Registers a box with a mistake first (a validation message must appear at the
// field), then correctly, and follows the box's detail page until it reaches "online" or
// "configured" (the box agent is already plugged in and retrying). Usage:
//   node console.test.mjs http://ADMIN SERIAL SCREENSHOT_DIR
import puppeteer from 'puppeteer-core';

const [, , base, serial, shots] = process.argv;
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  // As root in a container Chromium needs --no-sandbox; the rest keeps it off the (closed) network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  // Chromium reports every non-2xx fetch as a console error; the 400 of the validation step is
  // expected. Script errors and any other console error fail the test.
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: .* 400/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const fill = async (sel, value) => {
    await page.$eval(sel, (e) => { e.value = ''; });
    await page.type(sel, value);
  };
  const text = (sel) => page.$eval(sel, (e) => e.textContent);
  await page.goto(base + '/console/');
  await page.waitForSelector('#register');

  // A mistake the server catches: the serial is unknown (the page cannot know that itself).
  await fill('input[name=serial]', 'NO-SUCH-SERIAL');
  await fill('input[name=line_id]', '+44 20 0000 0042');
  await fill('input[name=name]', 'Dora Browser');
  await fill('input[name=street_address]', '3 Web Lane');
  await fill('input[name=billing]', 'acct-dora-1234');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => document.querySelector('.err[data-for=serial]').textContent.length > 0);
  const msg = await text('.err[data-for=serial]');
  if (!/unknown serial number/.test(msg)) fail('validation message: ' + msg);
  if (await page.$eval('input[name=serial]', (e) => e.getAttribute('aria-invalid')) !== 'true') fail('the field is not marked');
  await page.screenshot({ path: shots + '/console-validation.png', fullPage: true });

  // The page's own check: a line id that is not a number never leaves the browser.
  await fill('input[name=serial]', serial);
  await fill('input[name=line_id]', 'not a number');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => /digits/.test(document.querySelector('.err[data-for=line_id]').textContent));

  // Correct it and register.
  await fill('input[name=line_id]', '+44 20 0000 0042');
  await fill('textarea[name=address_book]', 'jo12345678 = Uncle Jo');
  await page.click('button[type=submit]');
  await page.waitForFunction(() => /^Registered /.test(document.getElementById('register-result').textContent));
  await page.waitForSelector('#detail-state');
  // The list shows the box; its detail page follows Phases II and III (the page refreshes itself).
  await page.waitForFunction(
    (s) => [...document.querySelectorAll('#boxes tr.box')].some((tr) => tr.textContent.includes(s)), {}, serial);
  await page.waitForFunction(
    () => ['online', 'configured'].includes(document.getElementById('detail-state')?.textContent),
    { timeout: 60000 });
  const detail = await text('#detail');
  if (!/Uncle Jo/.test(detail)) fail('address book not shown: ' + detail);
  if (/acct-dora-1234/.test(detail)) fail('the billing reference is shown in full');
  await page.screenshot({ path: shots + '/console-configured.png', fullPage: true });
  if (consoleErrors.length) fail('browser console errors: ' + consoleErrors.join('; '));
  console.log('ok - console: validation message at the field, registration, box reached ' +
              await text('#detail-state'));
} finally {
  await browser.close();
}
