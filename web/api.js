// Thin client for the public HTTP API (see the project's API contract).
// Every failure becomes an ApiError carrying the contract's error.code, so the
// UI can map it to a Korean message and never has to show raw JSON.

export class ApiError extends Error {
  constructor(code, status, detail, retryAfterMs = null) {
    super(`${code} (${status})`);
    this.code = code;          // contract code, or NETWORK / BAD_RESPONSE / UNKNOWN
    this.status = status;      // HTTP status, 0 when the request never got an answer
    this.detail = detail;      // server's human text, kept for the console only
    this.retryAfterMs = retryAfterMs;
  }
  /** The queue token is gone for good: the user has to join the queue again. */
  get tokenLost() {
    return this.code === 'TOKEN_MISSING' || this.code === 'TOKEN_INVALID'
      || this.code === 'TOKEN_WRONG_CONCERT';
  }
  /** The login session is unknown, expired or ended: the user has to log in again. */
  get sessionLost() {
    return this.code === 'SESSION_INVALID';
  }
  /** Worth trying again later (server busy, rate limited, proxy error, no network). */
  get transient() {
    return this.code === 'NETWORK' || this.code === 'UNAVAILABLE' || this.code === 'RATE_LIMITED'
      || this.status === 429 || this.status >= 500;
  }
}

// Korean text for every error code of the contract, plus the client-side ones.
const MESSAGES = {
  INVALID_REQUEST: '요청 내용이 올바르지 않습니다. 입력한 값을 확인해 주세요.',
  SESSION_INVALID: '로그인이 만료되었거나 로그아웃되었습니다. 다시 로그인해 주세요.',
  LOGIN_FAILED: '이메일 또는 비밀번호가 올바르지 않습니다.',
  EMAIL_TAKEN: '이미 가입된 이메일입니다. 로그인해 주세요.',
  FORBIDDEN: '다른 사용자의 정보에는 접근할 수 없습니다. 다시 로그인해 주세요.',
  TOKEN_MISSING: '대기열 입장권이 없습니다. 대기열에 다시 참여해 주세요.',
  TOKEN_INVALID: '입장 시간이 끝났거나 대기열 입장권이 만료되었습니다. 대기열에 다시 참여해 주세요.',
  TOKEN_NOT_ACTIVE: '아직 입장 순서가 아닙니다. 대기열에서 조금만 기다려 주세요.',
  TOKEN_WRONG_CONCERT: '다른 공연의 입장권입니다. 이 공연의 대기열에 다시 참여해 주세요.',
  NOT_FOUND: '요청한 공연, 회차, 좌석 또는 예약을 찾을 수 없습니다.',
  METHOD_NOT_ALLOWED: '지원하지 않는 요청입니다. 페이지를 새로 고쳐 주세요.',
  INSUFFICIENT_BALANCE: '잔액이 부족합니다. 잔액을 충전한 뒤 다시 결제해 주세요.',
  SEAT_UNAVAILABLE: '선택한 좌석 중 이미 다른 분이 선점했거나 판매된 좌석이 있습니다. 좌석을 다시 골라 주세요.',
  HOLD_LIMIT: '한 회차에는 한 사람이 최대 4석까지만 선점하거나 구매할 수 있습니다.',
  RESERVATION_NOT_PAYABLE: '이미 결제되었거나 취소된 예약이라 결제할 수 없습니다.',
  BALANCE_LIMIT: '충전하면 잔액이 한도(1조 원)를 넘습니다. 금액을 줄여 주세요.',
  HOLD_EXPIRED: '좌석 선점 시간이 지나 결제할 수 없습니다. 좌석을 다시 선택해 주세요.',
  PAYLOAD_TOO_LARGE: '요청 내용이 너무 큽니다.',
  UNAVAILABLE: '서비스가 일시적으로 혼잡합니다. 잠시 후 자동으로 다시 시도합니다.',
  // Failed logins are limited (429); the nginx front also limits token issuance per address.
  RATE_LIMITED: '요청이 너무 많아 잠시 기다려야 합니다. 잠시 후 다시 시도해 주세요.',
  NETWORK: '서버에 연결할 수 없습니다. 네트워크 연결을 확인해 주세요.',
  BAD_RESPONSE: '서버 응답을 이해할 수 없습니다. 잠시 후 다시 시도해 주세요.',
  UNKNOWN: '알 수 없는 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.',
};

export function errorMessage(err) {
  if (err instanceof ApiError || typeof err?.code === 'string') return MESSAGES[err.code] ?? MESSAGES.UNKNOWN;
  return MESSAGES.UNKNOWN;
}

// Difference between the server's clock and ours, learnt from the Date header.
// Date has one-second resolution, so only a real skew (over 2 s) is applied;
// otherwise countdowns could end a moment before the server's own expiry.
let clockSkewMs = 0;
export function serverNow() { return Date.now() + clockSkewMs; }

function learnClock(dateHeader) {
  const t = Date.parse(dateHeader ?? '');
  if (Number.isNaN(t)) return;
  const skew = t - Date.now();
  clockSkewMs = Math.abs(skew) > 2000 ? skew : 0;
}

/** Retry-After is either delay-seconds or an HTTP date. */
function parseRetryAfter(value) {
  if (!value) return null;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : Math.max(0, t - Date.now());
}

/** crypto.randomUUID exists only in secure contexts; fall back to getRandomValues. */
export function newUuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Call the API. Resolves with the parsed JSON body of a 2xx answer, rejects
 * with ApiError otherwise.
 */
export async function api(method, path, { body, token, idempotencyKey } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;

  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError('NETWORK', 0, String(e));
  }
  learnClock(res.headers.get('Date'));

  let data = null;
  try {
    const text = await res.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // an HTML error page from a proxy, a cut-off body, ...
  }

  if (res.status === 204) return {}; // logout: done, nothing to say
  if (res.ok) {
    if (data === null || typeof data !== 'object') throw new ApiError('BAD_RESPONSE', res.status, null);
    return data;
  }
  const retryAfterMs = parseRetryAfter(res.headers.get('Retry-After'));
  const code = data?.error?.code
    ?? (res.status >= 500 ? 'UNAVAILABLE' : res.status === 429 ? 'RATE_LIMITED' : 'BAD_RESPONSE');
  throw new ApiError(code, res.status, data?.error?.message ?? null, retryAfterMs);
}
