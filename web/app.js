// Booking page: login or sign-up → concert → queue → seats/hold/pay → confirmation.
// Plain DOM code, no framework. All server text is put in with textContent.
//
// Two credentials: the login session (balance, charges, the reservation list,
// joining a queue) and the queue token (the queue, seats, holds, payment).
// They end separately: a session that ends asks for a new login but keeps the
// queue place, since the token is still good.
import { api, errorMessage, newUuid, serverNow } from './api.js';

const POLL_MS = 2000;           // while WAITING, when an answer names no pollAfterSeconds; back-off base
const ACTIVE_POLL_MS = 15000;   // while ACTIVE: only to notice an ended token early
const MAX_BACKOFF_MS = 30000;
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;
const SEAT_REFRESH_MS = 10000;  // show other people's holds without a manual reload
const MAX_SEATS = 4;            // per user and schedule (contract's HOLD_LIMIT)
const SEAT_COLUMNS = 10;        // must match grid-template-columns of .seat-map in app.css
const SESSION_KEY = 'concert.session'; // localStorage: {session, userId, email}
const CONCERT_KEY = 'concert.lastConcertId';
const RESUME_KEY = 'concert.inQueue'; // sessionStorage: concert whose queue this tab is in

const $ = (id) => document.getElementById(id);
const wonFmt = new Intl.NumberFormat('ko-KR');
const dateFmt = new Intl.DateTimeFormat('ko-KR', { dateStyle: 'long', timeStyle: 'short' });
const fmtWon = (n) => `${wonFmt.format(n)}원`;
const fmtDate = (iso) => (iso ? dateFmt.format(new Date(iso)) : '-');
const fmtSeats = (nos) => `${[...nos].sort((a, b) => a - b).join(', ')}번`;

function fmtClock(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

function fmtWait(seconds) {
  if (seconds == null) return '-';
  if (seconds <= 0) return '곧 입장';
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m === 0) return `약 ${s}초`;
  return s ? `약 ${m}분 ${s}초` : `약 ${m}분`;
}

/** Tiny element builder: h('li', {class: 'x', dataset: {id: 1}}, 'text', child). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children.filter((c) => c != null));
  return el;
}

const state = {
  auth: null,           // {session, userId, email} while logged in
  userId: null,         // the logged-in user, kept after the session ends (whose queue token we hold)
  concerts: [],
  concert: null,        // the concert being booked
  token: null,          // queue token (Bearer)
  epoch: 0,           // bumped whenever the token is replaced or dropped: late answers compare it
  queue: null,          // last queue status answer
  lastPosition: null,
  pollTimer: null,
  countdownTimer: null,
  pollFailures: 0,
  joinTimer: null,
  transientAlert: false, // the alert shows a retrying message that a success may clear
  step: 'concert',
  schedules: [],
  scheduleId: null,
  seats: [],
  selected: new Set(),
  seatFocus: 1,          // seat number that owns tabindex=0 in the seat map
  reservations: [],
  hold: null,            // the live hold (reservation) shown in the hold panel
  expiredHold: null,     // a hold that just ran out, still shown as 00:00
  holdWarned: false,
  balance: null,
  ticker: null,
  ticks: 0,
  activeEndChecked: false,
};

// ---------------------------------------------------------------- messages

function announce(text) {
  // Clear first so that the same sentence twice is still read out.
  const el = $('status');
  el.textContent = '';
  setTimeout(() => { el.textContent = text; }, 50); // not rAF: that stops in background tabs
}

function showAlert(text, { transient = false } = {}) {
  const el = $('alert');
  el.textContent = text;
  el.hidden = false;
  state.transientAlert = transient;
}

function clearAlert({ onlyTransient = false } = {}) {
  if (onlyTransient && !state.transientAlert) return;
  const el = $('alert');
  el.hidden = true;
  el.textContent = '';
  state.transientAlert = false;
}

/** Common error handling for calls that need the queue token or the session. */
function handleError(err) {
  if (err?.sessionLost) { sessionEnded(); return; }
  if (err?.tokenLost) { tokenLost(err); return; }
  if (err?.code === 'TOKEN_NOT_ACTIVE') {
    // Still waiting after all: back to the queue view and keep polling.
    showAlert(errorMessage(err));
    showStep('queue');
    schedulePoll(0);
    return;
  }
  showAlert(errorMessage(err), { transient: !!err?.transient });
  if (!err?.code) console.error(err);
}

/** Marks a button busy while an async action runs; ignores repeated presses. */
async function withBusy(button, fn) {
  if (button.dataset.busy) return;
  button.dataset.busy = '1';
  button.setAttribute('aria-busy', 'true');
  try {
    await fn();
  } finally {
    delete button.dataset.busy;
    button.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- steps

function showStep(name, { focus = true } = {}) {
  const changed = state.step !== name;
  state.step = name;
  for (const id of ['concert', 'queue', 'booking', 'done']) $(`step-${id}`).hidden = id !== name;
  for (const li of document.querySelectorAll('.steps li')) {
    if (li.dataset.step === name) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  }
  // Move focus to the new step's heading so keyboard and screen-reader users follow along.
  if (changed && focus) document.querySelector(`#step-${name} h2`)?.focus();
}

function setConcertTitle() {
  const c = state.concert;
  const text = c ? [c.title, c.venue].filter(Boolean).join(' · ') : '';
  for (const el of document.querySelectorAll('[data-concert-title]')) el.textContent = text;
}

/** Forget the token and everything that depends on it. */
function dropQueueToken() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
  clearTimeout(state.joinTimer);
  state.joinTimer = null;
  clearInterval(state.ticker);
  state.ticker = null;
  state.token = null;
  state.epoch += 1;
  state.queue = null;
  state.lastPosition = null;
  state.pollFailures = 0;
  state.hold = null;
  state.expiredHold = null;
  state.selected.clear();
  state.activeEndChecked = false;
  renderHold();
  renderAccount();
}

// ---------------------------------------------------------------- account

function storageGet(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}
function storageSet(key, value) {
  try { localStorage.setItem(key, value); } catch { /* private mode: keep it in memory only */ }
}

// A reload should not cost the user their place: the tab remembers the concert
// whose queue it is in, and joining again returns the same token and place.
function rememberQueue(concertId) {
  try {
    if (concertId == null) sessionStorage.removeItem(RESUME_KEY);
    else sessionStorage.setItem(RESUME_KEY, String(concertId));
  } catch { /* no storage: no resume */ }
}
function queueToResume() {
  try { return Number(sessionStorage.getItem(RESUME_KEY)) || null; } catch { return null; }
}

function loadAuth() {
  try {
    const a = JSON.parse(storageGet(SESSION_KEY) ?? 'null');
    if (a && typeof a.session === 'string' && typeof a.userId === 'string') return a;
  } catch { /* not ours: log in again */ }
  return null;
}

function setAuth(auth) {
  state.auth = auth;
  try {
    if (auth) localStorage.setItem(SESSION_KEY, JSON.stringify(auth));
    else localStorage.removeItem(SESSION_KEY);
  } catch { /* private mode: in memory only */ }
  renderAccount();
}

/** Who is logged in; the booking steps show while logged in or while a queue token lives. */
function renderAccount() {
  const a = state.auth;
  $('account-box').hidden = !a;
  $('account-email').textContent = a ? a.email : '';
  $('auth').hidden = !!a;
  $('booking-area').hidden = !a && !state.token;
}

function setFieldError(form, text) {
  const el = $(`${form}-error`);
  el.textContent = text;
  el.hidden = !text;
  for (const id of [`${form}-email`, `${form}-password`]) {
    if (text) $(id).setAttribute('aria-invalid', 'true');
    else $(id).removeAttribute('aria-invalid');
  }
}

/** The form's email and password, or null after saying what is wrong. */
function credentials(form) {
  const email = $(`${form}-email`).value.trim();
  const password = $(`${form}-password`).value;
  let problem = '';
  if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 254) problem = '이메일 주소를 올바르게 입력해 주세요.';
  else if (form === 'signup' && (password.length < 10 || password.length > 128)) {
    problem = '비밀번호는 10자 이상 128자 이하로 입력해 주세요.';
  } else if (!password) problem = '비밀번호를 입력해 주세요.';
  setFieldError(form, problem);
  if (problem) { $(`${form}-${problem.startsWith('이메일') ? 'email' : 'password'}`).focus(); return null; }
  return { email, password };
}

async function logIn(creds, form) {
  try {
    const s = await api('POST', '/api/v1/sessions', { body: creds });
    const previous = state.userId;
    if (previous && previous !== s.userId) {
      // A queue token belongs to one user: another account starts over.
      dropQueueToken();
      rememberQueue(null);
      showStep('concert', { focus: false });
    }
    state.userId = s.userId;
    $('login-password').value = '';
    $('signup-password').value = '';
    setFieldError(form, '');
    setAuth({ session: s.session, userId: s.userId, email: creds.email.toLowerCase() });
    clearAlert();
    announce(`${creds.email} 계정으로 로그인했습니다.`);
    loadReservations();
    if (state.step === 'booking') loadBalance();
    document.querySelector(`#step-${state.step} h2`)?.focus();
  } catch (err) {
    setFieldError(form, errorMessage(err));
    $(`${form}-password`).focus();
  }
}

async function submitLogin(event) {
  event.preventDefault();
  const creds = credentials('login');
  if (creds) await withBusy($('login-button'), () => logIn(creds, 'login'));
}

async function submitSignup(event) {
  event.preventDefault();
  const creds = credentials('signup');
  if (!creds) return;
  await withBusy($('signup-button'), async () => {
    try {
      await api('POST', '/api/v1/users', { body: creds });
    } catch (err) {
      setFieldError('signup', errorMessage(err));
      $(err.code === 'EMAIL_TAKEN' ? 'signup-email' : 'signup-password').focus();
      return;
    }
    await logIn(creds, 'signup');
  });
}

async function logOut() {
  const a = state.auth;
  if (!a) return;
  try {
    await api('DELETE', '/api/v1/sessions/current', { token: a.session });
  } catch (err) {
    // Already ended is as good as ended; anything else leaves the session live.
    if (!err.sessionLost) { handleError(err); return; }
  }
  dropQueueToken();
  rememberQueue(null);
  state.userId = null;
  state.reservations = [];
  state.balance = null;
  renderReservations();
  $('balance').textContent = '-';
  setAuth(null);
  clearAlert();
  showStep('concert', { focus: false });
  announce('로그아웃했습니다.');
  $('auth-heading').focus();
}

/** The server no longer knows the session (expired, ended elsewhere): log in again.
 * The queue token is separate, so the queue place and any hold are kept. */
function sessionEnded() {
  const a = state.auth;
  if (!a) return;
  setAuth(null);
  showAlert(errorMessage({ code: 'SESSION_INVALID' }) + (state.token
    ? ' 대기열 순서와 입장 상태는 그대로 유지됩니다.' : ''));
  $('login-email').value = a.email;
  $('auth-heading').focus();
}

/** The session for a "(session)" call, or null after asking the user to log in. */
function sessionOrLogin() {
  if (state.auth) return state.auth.session;
  renderAccount();
  $('auth-heading').focus();
  return null;
}

// ---------------------------------------------------------------- concerts

async function loadConcerts() {
  try {
    const data = await api('GET', '/api/v1/concerts');
    state.concerts = Array.isArray(data.concerts) ? data.concerts : [];
    renderConcerts();
  } catch (err) {
    handleError(err);
  }
}

function renderConcerts() {
  const select = $('concert-select');
  const wanted = select.value
    || new URLSearchParams(location.search).get('concert')
    || storageGet(CONCERT_KEY);
  select.replaceChildren(...state.concerts.map((c) => h('option', { value: c.concertId },
    [c.title, c.venue].filter(Boolean).join(' · '))));
  if (wanted && state.concerts.some((c) => String(c.concertId) === String(wanted))) select.value = String(wanted);
  const empty = state.concerts.length === 0;
  $('concert-empty').hidden = !empty;
  $('concert-join').disabled = empty;
}

function chooseConcert(event) {
  event.preventDefault();
  const id = Number($('concert-select').value);
  const concert = state.concerts.find((c) => c.concertId === id);
  if (!concert) return;
  state.concert = concert;
  storageSet(CONCERT_KEY, String(id));
  setConcertTitle();
  joinQueue();
}

// ---------------------------------------------------------------- queue

async function joinQueue(attempt = 0) {
  if (!state.concert) { showStep('concert'); return; }
  dropQueueToken();
  clearAlert();
  state.scheduleId = null;
  renderQueue(null, '참여하는 중…');
  $('queue-rejoin').hidden = true;
  showStep('queue');
  rememberQueue(state.concert.concertId);
  const epoch = state.epoch;
  const session = sessionOrLogin();
  if (!session) {
    renderQueue(null, '로그인이 필요합니다');
    $('queue-rejoin').hidden = false;
    return;
  }
  try {
    const q = await api('POST', '/api/v1/queue/tokens', {
      token: session,
      body: { concertId: state.concert.concertId },
    });
    if (epoch !== state.epoch) return;
    state.token = q.token;
    onQueueStatus(q);
  } catch (err) {
    if (epoch !== state.epoch) return;
    if (err.transient && attempt < 8) {
      // Busy or rate limited at a ticket drop: try again by itself.
      const delay = retryDelay(attempt + 1, err);
      renderQueue(null, '다시 시도하는 중…');
      showAlert(`${errorMessage(err)} (${Math.ceil(delay / 1000)}초 후 다시 시도합니다)`, { transient: true });
      state.joinTimer = setTimeout(() => { if (epoch === state.epoch) joinQueue(attempt + 1); }, delay);
      return;
    }
    renderQueue(null, '참여하지 못했습니다');
    $('queue-rejoin').hidden = false;
    handleError(err);
  }
}

/** Exponential back-off with jitter, never sooner than the server's Retry-After. */
function retryDelay(failures, err) {
  const backoff = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** (failures - 1)) * (0.8 + Math.random() * 0.4);
  return Math.max(backoff, Math.min(err.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
}

function schedulePoll(delay) {
  clearTimeout(state.pollTimer);
  state.pollTimer = state.token ? setTimeout(poll, delay) : null;
}

async function poll() {
  state.pollTimer = null;
  const { token, epoch } = state;
  if (!token) return;
  try {
    const q = await api('GET', '/api/v1/queue/status', { token });
    if (epoch !== state.epoch) return;
    state.pollFailures = 0;
    clearAlert({ onlyTransient: true });
    onQueueStatus(q);
  } catch (err) {
    if (epoch !== state.epoch) return;
    if (err.tokenLost) { tokenLost(err); return; }
    state.pollFailures += 1;
    const delay = retryDelay(state.pollFailures, err);
    showAlert(`${errorMessage(err)} (${Math.ceil(delay / 1000)}초 후 다시 확인합니다)`, { transient: true });
    schedulePoll(delay);
  }
}

function onQueueStatus(q) {
  state.queue = q;
  renderQueue(q);
  if (q.status === 'ACTIVE') {
    if (state.step !== 'booking') enterBooking();
    // Check again right after the token should end (expiresAt may be rounded down
    // to the second), so an ended token is noticed without waiting a full interval.
    const left = q.expiresAt ? Date.parse(q.expiresAt) - serverNow() : ACTIVE_POLL_MS;
    schedulePoll(Math.min(ACTIVE_POLL_MS, Math.max(1000, left + 300)));
  } else {
    if (state.step !== 'queue') showStep('queue');
    if (q.position !== state.lastPosition) {
      state.lastPosition = q.position;
      if (q.position === null) announce('오픈 전 대기 중입니다. 오픈 시각에 무작위로 순번이 정해집니다.');
      else announce(`대기 순번 ${q.position}번째, 예상 대기 시간 ${fmtWait(q.estimatedWaitSeconds)}`);
    }
    // The server paces the polls (pollAfterSeconds): sooner near the head,
    // seldom far back, so the whole line's polling stays bounded.
    const after = Number.isInteger(q.pollAfterSeconds) ? q.pollAfterSeconds * 1000 : POLL_MS;
    schedulePoll(Math.min(300000, Math.max(1000, after)));
  }
}

function renderQueue(q, stateText) {
  const el = $('step-queue');
  if (!q) {
    el.dataset.queueStatus = '';
    $('queue-state').textContent = stateText ?? '-';
    $('queue-position').textContent = '-';
    $('queue-wait').textContent = '-';
    return;
  }
  el.dataset.queueStatus = q.status;
  clearInterval(state.countdownTimer);
  state.countdownTimer = null;
  if (q.status !== 'ACTIVE' && q.position === null && q.opensAt) {
    // Pre-queue: no place yet; everyone here is shuffled into the line at the
    // opening, so arriving first gains nothing. Count down to it.
    el.dataset.queueStatus = 'PREQUEUE';
    $('queue-state').textContent = '오픈 전 대기 (오픈 시 무작위로 순번 배정)';
    $('queue-position').textContent = '오픈 후 배정';
    $('queue-position').dataset.position = '';
    const opensAt = Date.parse(q.opensAt);
    const tick = () => {
      const left = Math.max(0, Math.ceil((opensAt - serverNow()) / 1000));
      $('queue-wait').textContent = `오픈까지 ${fmtWait(left)}`;
    };
    tick();
    state.countdownTimer = setInterval(tick, 1000);
    return;
  }
  $('queue-state').textContent = q.status === 'ACTIVE' ? '입장 가능' : '대기 중';
  $('queue-position').textContent = q.status === 'ACTIVE' ? '-' : `${q.position}번째`;
  $('queue-position').dataset.position = q.status === 'ACTIVE' ? '0' : String(q.position);
  $('queue-wait').textContent = q.status === 'ACTIVE' ? '-' : fmtWait(q.estimatedWaitSeconds);
}

/** Token unknown, expired, used up or for another concert: back to the queue step. */
function tokenLost(err) {
  dropQueueToken();
  rememberQueue(null); // a reload now starts from the concert list, not a silent re-join
  renderQueue(null, '입장권 만료');
  $('queue-rejoin').hidden = false;
  showStep('queue');
  showAlert(errorMessage(err));
  loadReservations();
}

// ---------------------------------------------------------------- booking

async function enterBooking() {
  showStep('booking');
  clearAlert({ onlyTransient: true });
  announce('입장했습니다. 공연 회차와 좌석을 선택해 주세요.');
  state.ticks = 0;
  clearInterval(state.ticker);
  state.ticker = setInterval(tick, 500);
  tick();
  loadBalance();
  const { epoch } = state;
  await loadReservations();
  if (epoch !== state.epoch) return; // token lost meanwhile
  adoptLiveHold();
  await loadSchedules();
}

/** After a reload or a re-queue, a still-running hold of this concert is shown again. */
function adoptLiveHold() {
  if (state.hold || !state.concert) return;
  const live = state.reservations.find((r) => r.concertId === state.concert.concertId
    && effectiveStatus(r) === 'HELD');
  if (live) {
    state.hold = live;
    state.scheduleId = live.scheduleId;
    renderHold();
  }
}

function tick() {
  state.ticks += 1;
  const q = state.queue;
  if (q?.expiresAt) {
    const left = Date.parse(q.expiresAt) - serverNow();
    $('active-remaining').textContent = fmtClock(left);
    if (left <= 0 && !state.activeEndChecked) {
      state.activeEndChecked = true;
      schedulePoll(0); // the server will answer 401 and tokenLost() takes over
    }
  }
  if (state.hold) {
    const left = Date.parse(state.hold.expiresAt) - serverNow();
    $('hold-countdown').textContent = fmtClock(left);
    if (left <= 60000 && left > 0 && !state.holdWarned) {
      state.holdWarned = true;
      announce('결제 남은 시간이 1분 이하입니다.');
    }
    if (left <= 0) holdExpired();
  }
  if (state.ticks % (SEAT_REFRESH_MS / 500) === 0 && state.scheduleId) loadSeats({ quiet: true });
}

async function loadSchedules() {
  const { token, epoch, concert } = state;
  try {
    const data = await api('GET', `/api/v1/concerts/${concert.concertId}/schedules`, { token });
    if (epoch !== state.epoch) return;
    state.schedules = Array.isArray(data.schedules) ? data.schedules : [];
    // One schedule: no need to make the user pick it.
    if (state.scheduleId == null && state.schedules.length === 1) state.scheduleId = state.schedules[0].scheduleId;
    renderSchedules();
    if (state.scheduleId != null) await loadSeats();
  } catch (err) {
    if (epoch === state.epoch) handleError(err);
  }
}

function renderSchedules() {
  const list = $('schedule-list');
  list.replaceChildren(...state.schedules.map((s) => h('li', {},
    h('button', {
      type: 'button',
      class: 'schedule-btn',
      'aria-pressed': String(s.scheduleId === state.scheduleId),
      dataset: { scheduleId: s.scheduleId },
    },
    h('span', { class: 'schedule-date' }, fmtDate(s.startsAt)),
    h('span', { class: 'schedule-seats' }, `잔여 ${s.availableSeats}/${s.totalSeats}석`)))));
  $('schedule-empty').hidden = state.schedules.length > 0;
  $('seat-area').hidden = state.scheduleId == null;
}

async function selectSchedule(id) {
  if (id !== state.scheduleId) {
    state.scheduleId = id;
    state.selected.clear();
    state.seatFocus = 1;
  }
  renderSchedules();
  renderSelection();
  await loadSeats();
}

/** Seats of the user's own live holds and purchases in the shown schedule. */
function mySeatNos() {
  const mine = new Set();
  for (const r of state.reservations) {
    if (r.scheduleId !== state.scheduleId) continue;
    const st = effectiveStatus(r);
    if (st === 'HELD' || st === 'CONFIRMED') r.seatNos.forEach((n) => mine.add(n));
  }
  return mine;
}

async function loadSeats({ quiet = false } = {}) {
  const { token, epoch, scheduleId } = state;
  if (!token || scheduleId == null) return;
  try {
    const [data] = await Promise.all([
      api('GET', `/api/v1/schedules/${scheduleId}/seats`, { token }),
      loadReservations(),
    ]);
    if (epoch !== state.epoch || scheduleId !== state.scheduleId) return;
    state.seats = Array.isArray(data.seats) ? data.seats : [];
    // Someone else may have taken a seat we had only picked.
    const free = new Set(state.seats.filter((s) => s.status === 'AVAILABLE').map((s) => s.seatNo));
    const lost = [...state.selected].filter((n) => !free.has(n));
    lost.forEach((n) => state.selected.delete(n));
    if (lost.length && !quiet) announce(`${fmtSeats(lost)} 좌석은 더 이상 선택할 수 없어 선택에서 뺐습니다.`);
    // Keep the schedule list's free-seat count in step with the map.
    const sched = state.schedules.find((s) => s.scheduleId === scheduleId);
    if (sched && sched.availableSeats !== free.size) {
      sched.availableSeats = free.size;
      renderSchedules();
    }
    renderSeats();
    renderSelection();
  } catch (err) {
    if (epoch !== state.epoch) return;
    if (quiet && err.transient) return; // the next refresh will try again
    handleError(err);
  }
}

const SEAT_TEXT = {
  available: '선택 가능',
  selected: '선택함',
  mine: '내 예약 좌석',
  held: '다른 분이 선점 중',
  sold: '판매 완료',
};
const SEAT_MARK = { available: '', selected: '✓', mine: '★', held: '…', sold: '✕' };

function seatState(seat, mine) {
  if (seat.status !== 'AVAILABLE' && mine.has(seat.seatNo)) return 'mine';
  if (seat.status === 'SOLD') return 'sold';
  if (seat.status === 'HELD') return 'held';
  return state.selected.has(seat.seatNo) ? 'selected' : 'available';
}

function renderSeats() {
  const map = $('seat-map');
  const seats = state.seats;
  // Rebuild only when the schedule or the seat count changes, so a refresh keeps focus.
  if (map.dataset.scheduleId !== String(state.scheduleId) || map.children.length !== seats.length) {
    map.dataset.scheduleId = String(state.scheduleId);
    map.replaceChildren(...seats.map((s) => h('button', {
      type: 'button', class: 'seat', dataset: { seatNo: s.seatNo },
    }, h('span', { class: 'seat-no' }, String(s.seatNo)), h('span', { class: 'seat-mark', 'aria-hidden': 'true' }))));
  }
  if (!seats.some((s) => s.seatNo === state.seatFocus)) state.seatFocus = seats[0]?.seatNo ?? 1;
  const mine = mySeatNos();
  seats.forEach((seat, i) => {
    const btn = map.children[i];
    const st = seatState(seat, mine);
    btn.dataset.state = st;
    btn.setAttribute('aria-pressed', String(st === 'selected'));
    if (st === 'available' || st === 'selected') btn.removeAttribute('aria-disabled');
    else btn.setAttribute('aria-disabled', 'true');
    btn.setAttribute('aria-label', `${seat.seatNo}번 좌석, ${fmtWon(seat.price)}, ${SEAT_TEXT[st]}`);
    btn.tabIndex = seat.seatNo === state.seatFocus ? 0 : -1;
    btn.lastElementChild.textContent = SEAT_MARK[st];
  });
}

function seatByNo(no) { return state.seats.find((s) => s.seatNo === no); }

function toggleSeat(no) {
  const seat = seatByNo(no);
  if (!seat) return;
  state.seatFocus = no;
  const mine = mySeatNos();
  const st = seatState(seat, mine);
  if (st === 'selected') {
    state.selected.delete(no);
  } else if (st === 'available') {
    const room = MAX_SEATS - mine.size;
    if (state.selected.size >= room) {
      announce(room <= 0
        ? '이 회차에서는 더 고를 수 없습니다. 한 사람이 최대 4석까지 예매할 수 있습니다.'
        : `최대 ${room}석까지 고를 수 있습니다. 다른 좌석을 먼저 해제해 주세요.`);
      return;
    }
    state.selected.add(no);
  } else {
    announce(`${no}번 좌석은 선택할 수 없습니다 (${SEAT_TEXT[st]}).`);
    return;
  }
  renderSeats();
  renderSelection();
}

/** Roving tabindex: one Tab stop for the whole map, arrow keys move between seats. */
function seatKeydown(event) {
  const btn = event.target.closest('.seat');
  if (!btn) return;
  const nos = state.seats.map((s) => s.seatNo);
  const idx = nos.indexOf(Number(btn.dataset.seatNo));
  let next = idx;
  switch (event.key) {
    case 'ArrowRight': next = idx + 1; break;
    case 'ArrowLeft': next = idx - 1; break;
    case 'ArrowDown': next = idx + SEAT_COLUMNS; break;
    case 'ArrowUp': next = idx - SEAT_COLUMNS; break;
    case 'Home': next = event.ctrlKey ? 0 : idx - (idx % SEAT_COLUMNS); break;
    case 'End': next = event.ctrlKey ? nos.length - 1 : Math.min(nos.length - 1, idx - (idx % SEAT_COLUMNS) + SEAT_COLUMNS - 1); break;
    default: return;
  }
  event.preventDefault();
  next = Math.max(0, Math.min(nos.length - 1, next));
  state.seatFocus = nos[next];
  for (const b of $('seat-map').children) b.tabIndex = Number(b.dataset.seatNo) === state.seatFocus ? 0 : -1;
  $('seat-map').children[next].focus();
}

function focusSeatMap() {
  const btn = $('seat-map').querySelector('.seat[tabindex="0"]');
  if (btn && !$('seat-area').hidden) btn.focus();
  else $('booking-heading').focus();
}

function renderSelection() {
  const nos = [...state.selected];
  const price = nos.reduce((sum, n) => sum + (seatByNo(n)?.price ?? 0), 0);
  let summary = nos.length
    ? `선택한 좌석: ${fmtSeats(nos)} (${nos.length}석 · ${fmtWon(price)})`
    : '선택한 좌석: 없음';
  // One hold at a time here: paying ends the queue token (contract).
  if (nos.length && state.hold) summary += ' — 선점한 좌석을 먼저 결제하거나 취소해 주세요.';
  $('selection-summary').textContent = summary;
  $('hold-button').disabled = nos.length === 0 || !!state.hold;
}

async function holdSeats() {
  const seatNos = [...state.selected].sort((a, b) => a - b);
  if (!seatNos.length || state.hold) return;
  const { token, epoch, scheduleId } = state;
  try {
    const r = await api('POST', '/api/v1/reservations', { token, body: { scheduleId, seatNos } });
    if (epoch !== state.epoch) return;
    state.hold = { ...r, concertId: state.concert.concertId };
    state.expiredHold = null;
    state.holdWarned = false;
    state.selected.clear();
    clearAlert();
    renderHold();
    const left = Date.parse(r.expiresAt) - serverNow();
    announce(`${fmtSeats(r.seatNos)} 좌석을 선점했습니다. ${fmtClock(left)} 안에 결제해 주세요.`);
    suggestCharge();
    $('pay-button').focus();
    await loadSeats();
  } catch (err) {
    if (epoch !== state.epoch) return;
    handleError(err);
    if (err.code === 'SEAT_UNAVAILABLE' || err.code === 'HOLD_LIMIT') await loadSeats({ quiet: true });
  }
}

function renderHold() {
  const panel = $('hold-panel');
  const r = state.hold ?? state.expiredHold;
  panel.hidden = !r;
  renderSelection();
  if (!r) { delete panel.dataset.state; return; }
  panel.dataset.state = state.hold ? 'held' : 'expired';
  $('hold-heading').textContent = state.hold ? '선점한 좌석' : '선점 시간 만료';
  $('hold-seats').textContent = `좌석 ${fmtSeats(r.seatNos)}`;
  $('hold-amount').textContent = `결제 금액 ${fmtWon(r.amount)}`;
  $('hold-countdown').textContent = state.hold
    ? fmtClock(Date.parse(r.expiresAt) - serverNow()) : '00:00';
  $('pay-button').hidden = !state.hold;
  $('cancel-hold').hidden = !state.hold;
}

/** The countdown reached zero (or the server said HOLD_EXPIRED). */
function holdExpired(message = '좌석 선점 시간이 만료되었습니다. 좌석이 다시 판매 가능 상태가 되었으니 다시 선택해 주세요.') {
  const r = state.hold;
  if (!r) return;
  const hadFocus = $('hold-panel').contains(document.activeElement);
  state.hold = null;
  state.expiredHold = r;
  const local = state.reservations.find((x) => x.reservationId === r.reservationId);
  if (local && local.status === 'HELD') local.status = 'EXPIRED';
  renderHold();
  renderReservations();
  showAlert(message);
  if (hadFocus) focusSeatMap();
  // The server frees the seats at expiresAt; ask a moment later, and once more if
  // our clock ran a little ahead of the server's.
  const epoch = state.epoch;
  setTimeout(async () => {
    if (epoch !== state.epoch) return;
    await loadSeats({ quiet: true });
    const stillHeld = state.seats.some((s) => r.seatNos.includes(s.seatNo) && s.status === 'HELD');
    if (stillHeld) setTimeout(() => { if (epoch === state.epoch) loadSeats({ quiet: true }); }, 1500);
  }, 300);
}

async function cancelHold() {
  const r = state.hold;
  if (!r) return;
  const { token, epoch } = state;
  try {
    await api('DELETE', `/api/v1/reservations/${r.reservationId}`, { token });
    if (epoch !== state.epoch) return;
    state.hold = null;
    clearAlert();
    renderHold();
    announce(`선점을 취소했습니다. ${fmtSeats(r.seatNos)} 좌석을 다른 분이 고를 수 있게 되었습니다.`);
    focusSeatMap();
    await loadSeats();
  } catch (err) {
    if (epoch !== state.epoch) return;
    handleError(err);
    if (err.code === 'NOT_FOUND' || err.code === 'RESERVATION_NOT_PAYABLE') {
      state.hold = null;
      renderHold();
      await loadSeats({ quiet: true });
    }
  }
}

// ---------------------------------------------------------------- balance & payment

async function loadBalance() {
  try {
    if (!state.auth) return;
    const data = await api('GET', `/api/v1/users/${state.auth.userId}/balance`, { token: state.auth.session });
    state.balance = data.balance;
    $('balance').textContent = fmtWon(data.balance);
  } catch (err) {
    $('balance').textContent = '-';
    if (err.transient) showAlert(errorMessage(err), { transient: true });
    else handleError(err);
  }
}

/** Pre-fill the charge field with what is missing for the current hold. */
function suggestCharge() {
  if (!state.hold || state.balance == null) return;
  const missing = state.hold.amount - state.balance;
  if (missing > 0) $('charge-amount').value = String(missing);
}

async function charge() {
  const input = $('charge-amount');
  const amount = Number(input.value);
  if (!Number.isInteger(amount) || amount < 1 || amount > 1_000_000_000) {
    showAlert('충전 금액은 1원부터 10억 원까지의 정수로 입력해 주세요.');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  const session = sessionOrLogin();
  if (!session) return;
  const userId = state.userId;
  try {
    const data = await api('POST', `/api/v1/users/${userId}/balance/charge`, {
      token: session,
      body: { amount },
      idempotencyKey: newUuid(), // one key per press: a retried request charges once
    });
    if (userId !== state.userId) return;
    state.balance = data.balance;
    $('balance').textContent = fmtWon(data.balance);
    input.value = '';
    clearAlert();
    announce(`${fmtWon(amount)}을 충전했습니다. 현재 잔액은 ${fmtWon(data.balance)}입니다.`);
  } catch (err) {
    handleError(err);
  }
}

async function pay() {
  const r = state.hold;
  if (!r) return;
  const { token, epoch } = state;
  try {
    const p = await api('POST', '/api/v1/payments', {
      token,
      body: { reservationId: r.reservationId },
      idempotencyKey: newUuid(), // a new key for every payment attempt
    });
    if (epoch !== state.epoch) return;
    // The server ends the token on payment: stop polling before it answers 401.
    const concert = state.concert;
    const schedule = state.schedules.find((s) => s.scheduleId === r.scheduleId);
    dropQueueToken();
    rememberQueue(null);
    clearAlert();
    renderDone(p, r, concert, schedule);
    showStep('done');
    announce(`결제가 완료되었습니다. ${fmtSeats(r.seatNos)} 좌석 예매가 확정되었습니다.`);
    loadReservations();
  } catch (err) {
    if (epoch !== state.epoch) return;
    if (err.code === 'HOLD_EXPIRED') { holdExpired(errorMessage(err)); return; }
    handleError(err);
    if (err.code === 'INSUFFICIENT_BALANCE') {
      await loadBalance();
      suggestCharge();
      $('charge-amount').focus();
    } else if (err.code === 'RESERVATION_NOT_PAYABLE') {
      state.hold = null;
      renderHold();
      await loadSeats({ quiet: true });
    }
  }
}

function renderDone(p, r, concert, schedule) {
  const rows = [
    ['공연', concert ? [concert.title, concert.venue].filter(Boolean).join(' · ') : '-'],
    ['회차', schedule ? fmtDate(schedule.startsAt) : `#${r.scheduleId}`],
    ['좌석', fmtSeats(r.seatNos)],
    ['결제 금액', fmtWon(p.amount)],
    ['예약 번호', String(p.reservationId)],
    ['결제 번호', String(p.paymentId)],
    ['결제 시각', fmtDate(p.paidAt)],
  ];
  $('done-details').replaceChildren(...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
  $('step-done').dataset.reservationId = String(p.reservationId);
}

// ---------------------------------------------------------------- reservations list

/** A hold past its expiresAt is over even if the server has not swept it yet. */
function effectiveStatus(r) {
  if (r.status === 'HELD' && r.expiresAt && Date.parse(r.expiresAt) <= serverNow()) return 'EXPIRED';
  return r.status;
}

const STATUS_TEXT = {
  HELD: '선점 중 (결제 대기)',
  CONFIRMED: '결제 완료',
  EXPIRED: '선점 만료',
  CANCELLED: '취소됨',
};

async function loadReservations() {
  const userId = state.userId;
  if (!state.auth) return;
  try {
    const data = await api('GET', `/api/v1/users/${userId}/reservations`, { token: state.auth.session });
    if (userId !== state.userId) return;
    state.reservations = Array.isArray(data.reservations) ? data.reservations : [];
    renderReservations();
  } catch (err) {
    if (err.transient) return; // the list is secondary; keep the last one
    handleError(err);
  }
}

function renderReservations() {
  const titleOf = (id) => state.concerts.find((c) => c.concertId === id)?.title ?? `공연 #${id}`;
  const list = $('reservation-list');
  list.replaceChildren(...state.reservations.map((r) => {
    const st = effectiveStatus(r);
    const when = st === 'CONFIRMED' ? `결제 ${fmtDate(r.paidAt)}`
      : st === 'HELD' ? `${fmtDate(r.expiresAt)}까지 결제` : null;
    return h('li', { class: 'reservation', dataset: { reservationId: r.reservationId, status: st } },
      h('div', { class: 'reservation-top' },
        h('strong', {}, titleOf(r.concertId)),
        h('span', { class: 'badge', dataset: { status: st } }, STATUS_TEXT[st] ?? st)),
      h('p', {}, `예약 #${r.reservationId} · 좌석 ${fmtSeats(r.seatNos)} · ${fmtWon(r.amount)}`),
      when ? h('p', { class: 'help' }, when) : null);
  }));
  $('reservation-empty').hidden = state.reservations.length > 0;
}

// ---------------------------------------------------------------- wiring

function bind() {
  $('login-form').addEventListener('submit', submitLogin);
  $('signup-form').addEventListener('submit', submitSignup);
  $('logout').addEventListener('click', (e) => withBusy(e.currentTarget, logOut));

  $('concert-form').addEventListener('submit', chooseConcert);
  $('concert-reload').addEventListener('click', (e) => withBusy(e.currentTarget, loadConcerts));

  $('queue-rejoin').addEventListener('click', (e) => withBusy(e.currentTarget, () => joinQueue()));
  $('queue-leave').addEventListener('click', () => {
    dropQueueToken();
    rememberQueue(null);
    clearAlert();
    showStep('concert');
  });
  // Background tabs run timers rarely; look at the queue as soon as the user is back.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && state.token && state.pollFailures === 0) schedulePoll(0);
  });

  $('schedule-list').addEventListener('click', (e) => {
    const btn = e.target.closest('.schedule-btn');
    if (btn) selectSchedule(Number(btn.dataset.scheduleId));
  });
  $('seat-map').addEventListener('click', (e) => {
    const btn = e.target.closest('.seat');
    if (btn) toggleSeat(Number(btn.dataset.seatNo));
  });
  $('seat-map').addEventListener('keydown', seatKeydown);
  $('seats-reload').addEventListener('click', (e) => withBusy(e.currentTarget, () => loadSeats()));
  $('hold-button').addEventListener('click', (e) => withBusy(e.currentTarget, holdSeats));
  $('cancel-hold').addEventListener('click', (e) => withBusy(e.currentTarget, cancelHold));
  $('pay-button').addEventListener('click', (e) => withBusy(e.currentTarget, pay));
  $('charge-form').addEventListener('submit', (e) => {
    e.preventDefault(); // also while busy, or the browser would submit the form itself
    withBusy($('charge-button'), charge);
  });

  $('done-again').addEventListener('click', () => { showStep('concert'); loadConcerts(); });
  $('reservations-reload').addEventListener('click', (e) => withBusy(e.currentTarget, loadReservations));
}

async function start() {
  bind();
  state.auth = loadAuth();
  state.userId = state.auth?.userId ?? null;
  renderAccount();
  showStep('concert', { focus: false });
  if (!state.auth) $('login-email').focus();
  await loadConcerts();
  const resume = queueToResume();
  const concert = state.concerts.find((c) => c.concertId === resume);
  if (concert && state.auth) {
    state.concert = concert;
    $('concert-select').value = String(concert.concertId);
    setConcertTitle();
    joinQueue();
  } else {
    rememberQueue(null);
  }
  loadReservations();
}

start();
