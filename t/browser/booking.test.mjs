// Browser test of the booking page (web/) against a running stack.
//
// Drives Debian's Chromium with playwright-core and prints TAP on stdout.
//   CONCERT_BASE_URL   base URL of the stack (unset: the whole file is skipped)
//   CONCERT_ADMIN_KEY  admin key, used to create one concert per scenario
//   CONCERT_VAR        writable directory; screenshots go to $CONCERT_VAR/screenshots/
//   CHROMIUM           browser binary (default /usr/bin/chromium)
// Run from the repository root: node t/browser/booking.test.mjs  (or t/browser/run)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BASE = (process.env.CONCERT_BASE_URL ?? '').replace(/\/+$/, '');
if (!BASE) {
  console.log('1..0 # SKIP no stack');
  process.exit(0);
}
const ADMIN_KEY = process.env.CONCERT_ADMIN_KEY;
const VAR = process.env.CONCERT_VAR || 'var';
const SHOTS = path.join(VAR, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RUN_LIMIT_MS = 150_000;

function bail(reason) {
  console.log(`Bail out! ${reason}`);
  process.exit(1);
}
if (!ADMIN_KEY) bail('CONCERT_ADMIN_KEY is not set');
if (!fs.existsSync(CHROMIUM)) bail(`no browser at ${CHROMIUM} (apt-get install chromium)`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  bail('playwright-core is not installed (run npm ci in the repository root)');
}
fs.mkdirSync(SHOTS, { recursive: true });

// A hung browser or server must not hang the suite.
setTimeout(() => bail(`test run took longer than ${RUN_LIMIT_MS / 1000} s`), RUN_LIMIT_MS).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uuid = () => crypto.randomUUID();
const PASSWORD = 'browser-test-password';
let emails = 0;
const newEmail = (tag) => `${tag}-${stamp}-${process.pid}-${++emails}@Example.test`;
const diag = (text) => { for (const line of String(text).split('\n')) console.log(`# ${line}`); };

/** Retry an assertion until it holds or the time is up. */
async function eventually(fn, { timeout = 10_000, interval = 150, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= end) throw new Error(`${what}: still failing after ${timeout} ms: ${err.message}`);
    }
    await sleep(interval);
  }
}

// ---------------------------------------------------------------- API helpers

async function call(method, p, { body, token, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (token) h.Authorization = `Bearer ${token}`;
  const res = await fetch(BASE + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* keep null */ }
  return { status: res.status, body: json, text };
}

async function expectStatus(promise, status, what) {
  const res = await promise;
  assert.equal(res.status, status, `${what}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
  return res.body;
}

const futureIso = (days) => new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function createConcert(title, opts = {}) {
  const body = {
    title: `${title} ${stamp}`,
    venue: '테스트 홀',
    activeLimit: 2,
    activeSeconds: 600,
    waitingIdleSeconds: 600,
    holdSeconds: 300,
    ...opts,
    schedules: [{ startsAt: futureIso(30), seatCount: 50, price: 50_000 }],
  };
  const out = await expectStatus(call('POST', '/api/v1/admin/concerts', { body, token: ADMIN_KEY }), 201, 'create concert');
  assert.ok(Number.isInteger(out.concertId) && out.scheduleIds.length === 1, 'concert ids');
  return { concertId: out.concertId, scheduleId: out.scheduleIds[0], title: body.title };
}

/** A user made through the API: sign-up, then login (each one Argon2id run on the server). */
async function signUpApi(tag = 'api') {
  const email = newEmail(tag);
  const u = await expectStatus(call('POST', '/api/v1/users', { body: { email, password: PASSWORD } }), 201, 'sign up');
  const s = await expectStatus(call('POST', '/api/v1/sessions', { body: { email, password: PASSWORD } }), 201, 'log in');
  assert.equal(s.userId, u.userId);
  return { email: email.toLowerCase(), password: PASSWORD, userId: u.userId, session: s.session };
}

async function joinApi(user, concertId) {
  const res = await call('POST', '/api/v1/queue/tokens', { token: user.session, body: { concertId } });
  assert.ok(res.status === 201 || res.status === 200, `join queue: HTTP ${res.status} ${res.text}`);
  return res.body;
}

async function waitActiveApi(token) {
  return eventually(async () => {
    const q = await expectStatus(call('GET', '/api/v1/queue/status', { token }), 200, 'queue status');
    assert.equal(q.status, 'ACTIVE');
    return q;
  }, { timeout: 10_000, interval: 300, what: 'API user admitted' });
}

/** A user that only talks to the API: signs up, joins, may wait for ACTIVE and buy seats. */
async function apiUser(concertId) {
  const u = await signUpApi();
  const q = await joinApi(u, concertId);
  return { ...u, token: q.token, first: q };
}

/** The user's own session-guarded reads. */
const balanceApi = (user) => expectStatus(call('GET', `/api/v1/users/${user.userId}/balance`, { token: user.session }), 200, 'balance');
const reservationsApi = (user) => expectStatus(call('GET', `/api/v1/users/${user.userId}/reservations`, { token: user.session }), 200, 'reservations');

async function buyApi(user, scheduleId, seatNos, price = 50_000) {
  await expectStatus(call('POST', `/api/v1/users/${user.userId}/balance/charge`,
    { token: user.session, body: { amount: price * seatNos.length }, headers: { 'Idempotency-Key': uuid() } }), 200, 'charge');
  const r = await expectStatus(call('POST', '/api/v1/reservations',
    { token: user.token, body: { scheduleId, seatNos } }), 201, 'hold');
  await expectStatus(call('POST', '/api/v1/payments',
    { token: user.token, body: { reservationId: r.reservationId }, headers: { 'Idempotency-Key': uuid() } }), 201, 'pay');
}

/** Seat states as another, ACTIVE user of the same concert sees them. */
async function seatsApi(concertId, scheduleId) {
  const u = await apiUser(concertId);
  if (u.first.status !== 'ACTIVE') await waitActiveApi(u.token);
  const out = await expectStatus(call('GET', `/api/v1/schedules/${scheduleId}/seats`, { token: u.token }), 200, 'seats');
  return new Map(out.seats.map((s) => [s.seatNo, s.status]));
}

// ---------------------------------------------------------------- page helpers

let context;
const pageErrors = [];
const apiLog = []; // the pages' last API calls, printed when a scenario fails

async function openPage({ account, viewport } = {}) {
  const page = await context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // Chrome logs every non-2xx fetch as "Failed to load resource"; those are expected here.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
  });
  const logCall = (req, status) => {
    if (!req.url().includes('/api/')) return;
    const t = req.timing();
    const ms = t.responseEnd > 0 ? Math.round(t.responseEnd) : -1;
    apiLog.push(`${new Date().toISOString().slice(11, 23)} ${req.method()} ${new URL(req.url()).pathname} -> ${status} (${ms} ms)`);
    if (apiLog.length > 40) apiLog.shift();
  };
  page.on('requestfinished', async (req) => logCall(req, (await req.response().catch(() => null))?.status() ?? '?'));
  page.on('requestfailed', (req) => logCall(req, `failed ${req.failure()?.errorText ?? ''}`));
  await page.goto(`${BASE}/`);
  if (account) await loginViaUi(page, account);
  return page;
}

async function loginViaUi(page, account) {
  // The browser profile is shared by the scenarios: a page may open logged in
  // as the previous scenario's user.
  const loggedIn = await eventually(async () => {
    const [auth, box] = [await page.locator('#auth').isVisible(), await page.locator('#account-box').isVisible()];
    assert.ok(auth || box, 'login forms or the account shown');
    return box;
  }, { what: 'page ready' });
  if (loggedIn) {
    await page.click('#logout');
  }
  await page.locator('#auth').waitFor({ state: 'visible' });
  await page.fill('#login-email', account.email);
  await page.fill('#login-password', account.password);
  await page.click('#login-button');
  await page.locator('#account-box').waitFor({ state: 'visible' });
  assert.equal(await text(page, '#account-email'), account.email.toLowerCase());
}

/** The session the page keeps in its storage. */
async function pageSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('concert.session') ?? 'null'));
}

async function joinViaUi(page, concertId) {
  // The concert was created after the page loaded: refresh the list.
  await page.click('#concert-reload');
  await page.locator(`#concert-select option[value="${concertId}"]`).waitFor({ state: 'attached' });
  await page.selectOption('#concert-select', String(concertId));
  await page.click('#concert-join');
}

const seat = (page, n) => page.locator(`#seat-map .seat[data-seat-no="${n}"]`);
const text = async (page, sel) => ((await page.textContent(sel)) ?? '').trim();

async function seatStates(page) {
  return page.$$eval('#seat-map .seat', (els) => Object.fromEntries(els.map((e) => [e.dataset.seatNo, e.dataset.state])));
}

/** The live region is filled a moment after the change it announces. */
async function statusSays(page, re) {
  await eventually(async () => assert.match(await text(page, '#status'), re), { what: `status ${re}` });
}

async function alertText(page) {
  return (await page.locator('#alert').isVisible()) ? text(page, '#alert') : '';
}

/** Errors must read as Korean sentences, never as JSON or bare codes. */
function assertFriendly(message) {
  assert.ok(!/[{}]|"error"|[A-Z]{3,}_[A-Z]+/.test(message), `raw error text shown: ${message}`);
  assert.match(message, /[가-힣]/, 'error message is Korean');
}

async function waitBooking(page, timeout = 15_000) {
  await page.locator('#step-booking').waitFor({ state: 'visible', timeout });
}

async function waitSeatMap(page, count = 50) {
  await eventually(async () => {
    const states = await seatStates(page);
    assert.equal(Object.keys(states).length, count, 'seat count');
  }, { what: 'seat map loaded' });
}

// ---------------------------------------------------------------- scenarios

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('첫 화면: 한국어, 회원가입·로그인 유지·로그아웃·다시 로그인', async () => {
  const page = await openPage();
  assert.equal(await page.getAttribute('html', 'lang'), 'ko');
  assert.equal(await text(page, 'h1'), '콘서트 예매');
  await page.locator('#auth').waitFor({ state: 'visible' });
  assert.ok(await page.locator('#booking-area').isHidden(), 'no booking before logging in');

  // Sign-up: a short password is refused in Korean before anything is sent.
  const email = newEmail('page');
  await page.fill('#signup-email', email);
  await page.fill('#signup-password', 'short');
  await page.click('#signup-button');
  await page.locator('#signup-error').waitFor({ state: 'visible' });
  assert.match(await text(page, '#signup-error'), /10자 이상/);
  assert.equal(await page.getAttribute('#signup-password', 'aria-invalid'), 'true');

  // Sign-up logs in at once; the session is kept in the page's storage.
  await page.fill('#signup-password', PASSWORD);
  await page.click('#signup-button');
  await page.locator('#account-box').waitFor({ state: 'visible' });
  assert.equal(await text(page, '#account-email'), email.toLowerCase());
  assert.ok(await page.locator('#auth').isHidden(), 'login forms hidden once logged in');
  await page.locator('#booking-area').waitFor({ state: 'visible' });
  const kept = await pageSession(page);
  assert.match(kept.session, /^[0-9a-f]{64}$/, 'session kept in localStorage');
  assert.match(kept.userId, UUID_RE);
  const me = { email: email.toLowerCase(), password: PASSWORD, userId: kept.userId, session: kept.session };
  assert.equal((await balanceApi(me)).balance, 0, 'the session works against the API');

  // A reload keeps the login.
  await page.reload();
  await page.locator('#account-box').waitFor({ state: 'visible' });
  assert.equal(await text(page, '#account-email'), email.toLowerCase());

  // Logout: the page forgets the session and the server ended it.
  await page.click('#logout');
  await page.locator('#auth').waitFor({ state: 'visible' });
  assert.equal(await pageSession(page), null, 'session removed from storage');
  assert.ok(await page.locator('#account-box').isHidden());
  const ended = await call('GET', `/api/v1/users/${me.userId}/balance`, { token: me.session });
  assert.equal(ended.status, 401, 'the old session is refused');
  assert.equal(ended.body?.error?.code, 'SESSION_INVALID');

  // The same email again: taken. A wrong password: the one Korean answer.
  await page.fill('#signup-email', email);
  await page.fill('#signup-password', PASSWORD);
  await page.click('#signup-button');
  await eventually(async () => assert.match(await text(page, '#signup-error'), /이미 가입된 이메일/), { what: 'email taken' });
  await page.fill('#login-email', email);
  await page.fill('#login-password', `${PASSWORD}-wrong`);
  await page.click('#login-button');
  await eventually(async () => assert.match(await text(page, '#login-error'), /이메일 또는 비밀번호가 올바르지 않습니다/),
    { what: 'login failed shown' });
  assertFriendly(await text(page, '#login-error'));
  await loginViaUi(page, me);
  assert.notEqual((await pageSession(page)).session, me.session, 'a new session');

  // The concert list comes from the public API.
  const c = await createConcert('목록 확인');
  await page.click('#concert-reload');
  await page.locator(`#concert-select option[value="${c.concertId}"]`).waitFor({ state: 'attached' });
  assert.match(await text(page, `#concert-select option[value="${c.concertId}"]`), new RegExp(c.title));
  await page.close();
});

test('대기열부터 결제 완료까지 (키보드로 좌석 선택)', async () => {
  const c = await createConcert('브라우저 구매', { activeLimit: 2 });
  const me = await signUpApi('buyer');
  const page = await openPage({ account: me, viewport: { width: 1280, height: 1000 } });
  await joinViaUi(page, c.concertId);
  await waitBooking(page);

  const schedule = page.locator(`.schedule-btn[data-schedule-id="${c.scheduleId}"]`);
  await schedule.waitFor();
  assert.match(await schedule.textContent(), /잔여 50\/50석/);
  await schedule.click();
  assert.equal(await schedule.getAttribute('aria-pressed'), 'true');
  await waitSeatMap(page);
  assert.ok(Object.values(await seatStates(page)).every((s) => s === 'available'), 'all seats available');

  // Keyboard only: one Tab stop for the map, arrows move, Space/Enter toggle.
  await seat(page, 1).focus();
  for (let i = 0; i < 4; i += 1) await page.keyboard.press('ArrowRight');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seatNo), '5');
  await page.keyboard.press('Space');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.seatNo), '16');
  await page.keyboard.press('ArrowUp');
  assert.equal(await seat(page, 5).getAttribute('aria-pressed'), 'true');
  assert.equal(await seat(page, 6).getAttribute('aria-pressed'), 'true');
  assert.match(await seat(page, 5).getAttribute('aria-label'), /^5번 좌석, 50,000원, 선택함$/);
  assert.equal(await page.$$eval('#seat-map .seat[tabindex="0"]', (els) => els.length), 1, 'roving tabindex');
  assert.match(await text(page, '#selection-summary'), /5, 6번 \(2석 · 100,000원\)/);

  // Tab leaves the map for the hold button.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'hold-button');
  await page.keyboard.press('Enter');
  await page.locator('#hold-panel[data-state="held"]').waitFor({ state: 'visible' });
  assert.match(await text(page, '#hold-seats'), /5, 6번/);
  assert.match(await text(page, '#hold-amount'), /100,000원/);
  assert.match(await text(page, '#hold-countdown'), /^0[45]:\d\d$/, 'countdown near 5 minutes');
  await eventually(async () => {
    const states = await seatStates(page);
    assert.equal(states['5'], 'mine');
    assert.equal(states['6'], 'mine');
  }, { what: 'held seats shown as mine' });
  assert.match(await seat(page, 5).getAttribute('aria-label'), /내 예약 좌석/);
  await statusSays(page, /5, 6번 좌석을 선점했습니다/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'pay-button', 'focus moves to pay');
  await page.locator('#step-booking').screenshot({ path: path.join(SHOTS, 'seat-map.png') });

  // Paying without money: the contract's INSUFFICIENT_BALANCE as a Korean sentence.
  await page.keyboard.press('Enter');
  await eventually(async () => assert.match(await alertText(page), /잔액이 부족합니다/), { what: 'insufficient balance shown' });
  assertFriendly(await alertText(page));
  assert.equal(await page.inputValue('#charge-amount'), '100000', 'charge field suggests the missing amount');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'charge-amount');
  await page.keyboard.press('Enter');
  await eventually(async () => assert.equal(await text(page, '#balance'), '100,000원'), { what: 'balance after charge' });
  const bal = await balanceApi(me);
  assert.equal(bal.balance, 100_000);

  await page.click('#pay-button');
  await page.locator('#step-done').waitFor({ state: 'visible', timeout: 10_000 });
  const done = await text(page, '#done-details');
  assert.match(done, /5, 6번/);
  assert.match(done, /100,000원/);
  assert.match(done, new RegExp(c.title));

  const list = await reservationsApi(me);
  const r = list.reservations[0];
  assert.equal(r.status, 'CONFIRMED');
  assert.deepEqual([...r.seatNos].sort((a, b) => a - b), [5, 6]);
  assert.equal(r.amount, 100_000);
  assert.ok(r.paidAt, 'paidAt set');
  assert.equal(await page.getAttribute('#step-done', 'data-reservation-id'), String(r.reservationId));
  const item = page.locator(`#reservation-list li[data-reservation-id="${r.reservationId}"]`);
  await eventually(async () => {
    assert.equal(await item.getAttribute('data-status'), 'CONFIRMED');
    assert.match(await item.textContent(), /결제 완료/);
  }, { what: 'confirmed reservation listed' });

  const after = await balanceApi(me);
  assert.equal(after.balance, 0);
  const seats = await seatsApi(c.concertId, c.scheduleId);
  assert.equal(seats.get(5), 'SOLD');
  assert.equal(seats.get(6), 'SOLD');
  assert.equal([...seats.values()].filter((s) => s === 'AVAILABLE').length, 48);
  await page.close();
});

test('만석 공연에서 순번을 기다리다 자리가 나면 입장 (503 재시도 포함)', async () => {
  const c = await createConcert('브라우저 대기', { activeLimit: 1 });
  const a = await apiUser(c.concertId);
  assert.equal(a.first.status, 'ACTIVE', 'first user takes the only slot');
  const b = await apiUser(c.concertId);
  assert.equal(b.first.status, 'WAITING');
  assert.equal(b.first.position, 1);

  const me = await signUpApi('waiter');
  const page = await openPage({ account: me });
  await joinViaUi(page, c.concertId);
  await page.locator('#step-queue').waitFor({ state: 'visible' });
  await eventually(async () => {
    assert.equal(await page.getAttribute('#queue-position', 'data-position'), '2');
    assert.equal(await text(page, '#queue-state'), '대기 중');
  }, { what: 'page shows place 2' });
  assert.equal(await text(page, '#queue-position'), '2번째');
  assert.notEqual(await text(page, '#queue-wait'), '-');
  await statusSays(page, /대기 순번 2번째/);
  // Joining again gives back the same place (contract), not a new one at the back.
  const again = await joinApi(me, c.concertId);
  assert.equal(again.status, 'WAITING');
  assert.equal(again.position, 2);
  // A reload keeps the place too: the tab rejoins by itself.
  await page.reload();
  await page.locator('#step-queue').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal(await page.getAttribute('#queue-position', 'data-position'), '2'),
    { what: 'place 2 after reload' });

  // One poll answered 503 with Retry-After: 3 → Korean notice, next poll not before 3 s.
  const polls = [];
  await page.route('**/api/v1/queue/status', async (route) => {
    polls.push(Date.now());
    if (polls.length === 1) {
      await route.fulfill({
        status: 503,
        headers: { 'Retry-After': '3', 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'redis unreachable' } }),
      });
    } else {
      await route.continue();
    }
  });
  await eventually(async () => assert.match(await alertText(page), /일시적으로 혼잡/), { what: '503 notice' });
  assertFriendly(await alertText(page));
  await eventually(async () => assert.ok(polls.length >= 2), { timeout: 8000, what: 'poll after back-off' });
  const gap = polls[1] - polls[0];
  assert.ok(gap >= 2900, `next poll after ${gap} ms honours Retry-After: 3`);
  await page.unroute('**/api/v1/queue/status');
  await eventually(async () => assert.equal(await alertText(page), ''), { what: 'notice cleared after recovery' });

  // The first user pays: the slot goes to b, the page moves up to place 1.
  await buyApi(a, c.scheduleId, [1]);
  await waitActiveApi(b.token);
  await eventually(async () => assert.equal(await page.getAttribute('#queue-position', 'data-position'), '1'),
    { what: 'page shows place 1' });
  await statusSays(page, /대기 순번 1번째/);

  // b pays too: the page user is admitted on a following poll.
  await buyApi(b, c.scheduleId, [2]);
  await waitBooking(page, 10_000);
  const q = await joinApi(me, c.concertId);
  assert.equal(q.status, 'ACTIVE');
  await waitSeatMap(page);
  await eventually(async () => {
    const states = await seatStates(page);
    assert.equal(states['1'], 'sold');
    assert.equal(states['2'], 'sold');
    assert.equal(states['3'], 'available');
  }, { what: 'sold seats shown' });
  assert.match(await seat(page, 1).getAttribute('aria-label'), /판매 완료/);
  assert.equal(await seat(page, 1).getAttribute('aria-disabled'), 'true');

  // Hold a seat and cancel the hold: the seat is free again at once.
  await seat(page, 3).click();
  await page.click('#hold-button');
  await page.locator('#hold-panel[data-state="held"]').waitFor({ state: 'visible' });
  await page.click('#cancel-hold');
  await page.locator('#hold-panel').waitFor({ state: 'hidden' });
  await statusSays(page, /선점을 취소했습니다/);
  await eventually(async () => assert.equal((await seatStates(page))['3'], 'available'), { what: 'cancelled seat free' });
  const list = await reservationsApi(me);
  assert.equal(list.reservations[0].status, 'CANCELLED');
  assert.deepEqual(list.reservations[0].seatNos, [3]);
  const item = page.locator(`#reservation-list li[data-reservation-id="${list.reservations[0].reservationId}"]`);
  await eventually(async () => assert.equal(await item.getAttribute('data-status'), 'CANCELLED'), { what: 'cancel listed' });
  await page.close();
});

test('선점 시간이 끝나면 카운트다운 0, 만료 안내, 좌석 다시 선택 가능 (휴대폰 화면)', async () => {
  const c = await createConcert('브라우저 만료', { activeLimit: 3, holdSeconds: 4 });
  const me = await signUpApi('phone');
  const page = await openPage({ account: me, viewport: { width: 390, height: 844 } });
  await joinViaUi(page, c.concertId);
  await waitBooking(page);
  await waitSeatMap(page);
  await seat(page, 10).click();
  await seat(page, 11).click();
  await page.click('#hold-button');
  await page.locator('#hold-panel[data-state="held"]').waitFor({ state: 'visible' });
  await eventually(async () => assert.equal((await seatStates(page))['10'], 'mine'), { what: 'held seat mine' });

  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.screenshot({ path: path.join(SHOTS, 'seat-map-phone.png'), fullPage: true });

  const seen = new Set();
  await eventually(async () => {
    seen.add(await text(page, '#hold-countdown'));
    assert.equal(await page.getAttribute('#hold-panel', 'data-state'), 'expired');
  }, { timeout: 10_000, interval: 100, what: 'hold ran out' });
  assert.equal(await text(page, '#hold-countdown'), '00:00');
  assert.ok(['00:03', '00:02', '00:01'].some((v) => seen.has(v)), `countdown ticked down: ${[...seen].join(' ')}`);
  assert.match(await alertText(page), /선점 시간이 만료되었습니다/);
  assert.ok(await page.locator('#pay-button').isHidden(), 'no pay button for an expired hold');

  await eventually(async () => {
    const states = await seatStates(page);
    assert.equal(states['10'], 'available');
    assert.equal(states['11'], 'available');
  }, { timeout: 6000, what: 'seats available again on the page' });
  const seats = await seatsApi(c.concertId, c.scheduleId);
  assert.equal(seats.get(10), 'AVAILABLE');
  assert.equal(seats.get(11), 'AVAILABLE');

  const list = await reservationsApi(me);
  const r = list.reservations[0];
  if (r.status === 'HELD') {
    // Allowed by the letter of the contract until the cron sweeps, but worth knowing.
    diag(`server still lists the expired hold ${r.reservationId} as HELD (expiresAt ${r.expiresAt})`);
    assert.ok(Date.parse(r.expiresAt) <= Date.now(), 'HELD only with a past expiresAt');
  } else {
    assert.equal(r.status, 'EXPIRED');
  }
  const item = page.locator(`#reservation-list li[data-reservation-id="${r.reservationId}"]`);
  assert.equal(await item.getAttribute('data-status'), 'EXPIRED');
  assert.match(await item.textContent(), /선점 만료/);

  // And the seat can be picked again.
  await seat(page, 10).click();
  assert.equal(await seat(page, 10).getAttribute('aria-pressed'), 'true');
  await page.close();
});

test('입장 시간이 끝나면 안내와 함께 대기열로 돌아가고 다시 입장', async () => {
  // 10 s is the server's smallest activeSeconds.
  const c = await createConcert('브라우저 입장 만료', { activeLimit: 1, activeSeconds: 10 });
  const page = await openPage({ account: await signUpApi('late') });
  await joinViaUi(page, c.concertId);
  await waitBooking(page);
  assert.match(await text(page, '#active-remaining'), /^00:(0\d|10)$/);
  await page.locator('#step-queue').waitFor({ state: 'visible', timeout: 20_000 });
  await eventually(async () => assert.match(await alertText(page), /입장 시간이 끝났거나/), { what: 'expiry notice' });
  assertFriendly(await alertText(page));
  assert.equal(await text(page, '#queue-state'), '입장권 만료');

  // Rejoining while the front answers 429 (its rate limit on token issuance):
  // a Korean notice, then the page tries again by itself.
  let joins = 0;
  await page.route('**/api/v1/queue/tokens', async (route) => {
    joins += 1;
    if (joins === 1) {
      await route.fulfill({
        status: 429,
        headers: { 'Retry-After': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ error: { code: 'RATE_LIMITED', message: 'too many requests' } }),
      });
    } else {
      await route.continue();
    }
  });
  await page.locator('#queue-rejoin').click();
  await eventually(async () => assert.match(await alertText(page), /요청이 너무 많아/), { what: '429 notice' });
  assertFriendly(await alertText(page));
  await waitBooking(page);
  assert.equal(joins, 2, 'one automatic retry');
  await page.unroute('**/api/v1/queue/tokens');
  await page.close();
});

test('로그인이 끝나도 대기열 순서는 그대로, 다시 로그인하면 이어서 입장', async () => {
  const c = await createConcert('브라우저 재로그인', { activeLimit: 1 });
  const a = await apiUser(c.concertId);
  assert.equal(a.first.status, 'ACTIVE', 'first user takes the only slot');
  const me = await signUpApi('again');
  const page = await openPage({ account: me });
  await joinViaUi(page, c.concertId);
  await eventually(async () => assert.equal(await page.getAttribute('#queue-position', 'data-position'), '1'),
    { what: 'page waits first in line' });

  // The session runs out on the server (its TTL: the key is gone). A logout
  // would end the queue token too; running out ends nothing else.
  const { session } = await pageSession(page);
  const sessionKey = 'session:' + crypto.createHash('sha256').update(session).digest('hex');
  assert.equal(execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(process.env.CONCERT_REDIS_PORT),
    'DEL', sessionKey]).toString().trim(), '1', 'the session runs out');
  await page.click('#reservations-reload');
  await eventually(async () => assert.match(await alertText(page), /다시 로그인해 주세요/), { what: 'session ended notice' });
  assert.match(await alertText(page), /대기열 순서와 입장 상태는 그대로 유지됩니다/);
  assertFriendly(await alertText(page));
  await page.locator('#auth').waitFor({ state: 'visible' });
  assert.equal(await page.inputValue('#login-email'), me.email, 'the email is filled in');
  assert.equal(await pageSession(page), null, 'the ended session is forgotten');
  // The queue token lives on: the page keeps its place and keeps polling.
  assert.ok(await page.locator('#step-queue').isVisible(), 'the queue step stays');
  await sleep(2500);
  assert.equal(await page.getAttribute('#queue-position', 'data-position'), '1');
  assert.equal(await text(page, '#queue-state'), '대기 중');

  await loginViaUi(page, me);
  await eventually(async () => assert.equal(await alertText(page), ''), { what: 'notice cleared after login' });
  await buyApi(a, c.scheduleId, [1]);
  await waitBooking(page, 10_000);
  await eventually(async () => assert.equal(await text(page, '#balance'), '0원'), { what: 'balance with the new session' });
  await page.close();
});

test('오픈 전 대기: 오픈까지 카운트다운, 오픈되면 무작위 순번을 받고 입장', async () => {
  const opensAt = new Date(Date.now() + 9_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  // A short idle limit keeps the pre-queue's polls a few seconds apart (at most half of it).
  const c = await createConcert('브라우저 오픈 전', { activeLimit: 2, waitingIdleSeconds: 10, opensAt });
  const me = await signUpApi('early');
  const page = await openPage({ account: me });
  await joinViaUi(page, c.concertId);
  await page.locator('#step-queue').waitFor({ state: 'visible' });
  await eventually(async () => assert.match(await text(page, '#queue-state'), /오픈 전 대기/), { what: 'pre-queue shown' });
  assert.equal(await text(page, '#queue-position'), '오픈 후 배정', 'no place before the opening');
  const first = await text(page, '#queue-wait');
  assert.match(first, /^오픈까지 /);
  await sleep(2_100);
  assert.notEqual(await text(page, '#queue-wait'), first, 'the countdown moves');
  // At the opening the page's next poll (the server paces it) finds it admitted.
  await waitBooking(page, 20_000);
  await page.close();
});

// ---------------------------------------------------------------- runner

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'concert-browser-'));
let failed = 0;
console.log(`1..${tests.length}`);
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale: 'ko-KR',
    timezoneId: 'Asia/Seoul',
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  context.setDefaultTimeout(10_000);
  for (const [i, t] of tests.entries()) {
    const n = i + 1;
    const started = Date.now();
    pageErrors.length = 0;
    apiLog.length = 0;
    try {
      await t.fn();
      assert.deepEqual(pageErrors, [], 'no script errors in the page');
      console.log(`ok ${n} - ${t.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (err) {
      failed += 1;
      console.log(`not ok ${n} - ${t.name}`);
      diag(err.stack ?? String(err));
      for (const [j, page] of context.pages().entries()) {
        const shot = path.join(SHOTS, `failed-${n}-${j}.png`);
        try {
          await page.screenshot({ path: shot, fullPage: true });
          diag(`screenshot: ${shot}`);
          diag(`page alert: ${await alertText(page)} | status: ${await text(page, '#status')}`);
          diag(`queue: ${await text(page, '#queue-state')} / ${await text(page, '#queue-position')}`);
        } catch { /* page already gone */ }
      }
      if (pageErrors.length) diag(pageErrors.join('\n'));
      if (apiLog.length) diag(`last API calls of the page:\n${apiLog.join('\n')}`);
    } finally {
      for (const page of context.pages()) await page.close().catch(() => {});
    }
  }
} catch (err) {
  console.log(`Bail out! browser could not start: ${err.message}`);
  failed += 1;
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
