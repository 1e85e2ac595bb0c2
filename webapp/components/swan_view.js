// What the page shows, as plain values: the button shadow's `reported` section turned into
// the page's fields, the push answers turned into notices, and the browser's clock error
// bounded from the shadow documents' times. No I/O and no clock: callers pass the time.
// (tests/unit/webapp/swan_view.test.mjs runs it under Node.)

export const HISTORY_LIMIT = 12;
export const NO_ANSWER_SECONDS = 5;
export const NOTICE_SECONDS = 6;
export const DEFAULT_PERIOD_SECONDS = 6480; // the Swan's 108 minutes, until the shadow says
const ALARM_SECONDS = 240; // swan.core.countdown.ALARM_SECONDS: the longest alarm
const RULE_SETS = ["anytime", "swan"];

const SOURCE_LABELS = {
  web: "web",
  pi: "Raspberry Pi",
  button: "IoT Button",
  cli: "command line",
};

export function sourceLabel(source) {
  return Object.hasOwn(SOURCE_LABELS, source) ? SOURCE_LABELS[source] : String(source);
}

// Every browser pushes as an identity of its own; the page calls them all the same.
export function pusherName(push) {
  return push.source === "web" ? "a web visitor" : String(push.by);
}

// How many minute tiles the flip counter needs: 3 for 108 minutes, never fewer than 2.
export function clockDigits(periodSeconds) {
  const minutes = Math.floor(Math.max(periodSeconds, 0) / 60);
  return Math.max(2, String(minutes).length);
}

// The alarm window of a period: swan.core.countdown.alarm_window, the rule's one home, for
// a shadow that does not carry `alarmSeconds` (tests/unit/webapp holds the two equal).
export function alarmFor(periodSeconds) {
  return periodSeconds > 0 ? Math.min(ALARM_SECONDS, periodSeconds / 4) : 0;
}

export function emptyBoard() {
  return {
    known: false, // the shadow has been read (or found empty)
    version: 0,
    deadline: 0,
    period: DEFAULT_PERIOD_SECONDS,
    alarm: alarmFor(DEFAULT_PERIOD_SECONDS),
    digits: clockDigits(DEFAULT_PERIOD_SECONDS),
    failed: false,
    pushes: 0,
    failures: 0,
    runStartedAt: 0,
    failedAt: 0,
    lastBy: "",
    lastSource: "",
    lastAt: 0,
    history: [],
    ruleSet: "anytime",
  };
}

function number(value, fallback = 0) {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function isPush(value) {
  return Boolean(value) && typeof value === "object" && typeof value.at === "number";
}

function row(push) {
  return {
    at: push.at,
    by: pusherName(push),
    source: String(push.source),
    label: sourceLabel(push.source),
  };
}

// `history` with `push` added: newest first, each push once, at most `limit` rows. Used
// while the shadow keeps no `recent` list: the page lists the `lastPush` values it saw.
export function remember(history, push, limit = HISTORY_LIMIT) {
  if (!isPush(push)) return history.slice(0, limit);
  const added = row(push);
  if (history.some((seen) => seen.at === added.at && seen.by === added.by)) {
    return history.slice(0, limit);
  }
  return [...history, added].sort((a, b) => b.at - a.at).slice(0, limit);
}

// The board after the shadow reached `version` with `reported` (null: nobody pushed yet).
export function boardFrom(previous, reported, version) {
  if (!reported || typeof reported !== "object") {
    return { ...previous, known: true, version };
  }
  const period = number(reported.periodSeconds, previous.period) || previous.period;
  const last = isPush(reported.lastPush) ? reported.lastPush : null;
  const history = Array.isArray(reported.recent)
    ? reported.recent.filter(isPush).slice(0, HISTORY_LIMIT).map(row)
    : remember(previous.history, last);
  return {
    known: true,
    version,
    deadline: number(reported.deadline),
    period,
    alarm: typeof reported.alarmSeconds === "number" ? reported.alarmSeconds : alarmFor(period),
    digits: clockDigits(period),
    failed: reported.phase === "failed",
    pushes: number(reported.pushes),
    failures: number(reported.failures),
    runStartedAt: number(reported.runStartedAt),
    failedAt: number(reported.failedAt),
    lastBy: last ? pusherName(last) : "",
    lastSource: last ? sourceLabel(last.source) : "",
    lastAt: last ? last.at : 0,
    history,
    ruleSet: RULE_SETS.includes(reported.ruleSet) ? reported.ruleSet : previous.ruleSet,
  };
}

// Newest version wins. A fresh connection's first read is taken whatever its version (the
// shadow may have been deleted and made anew meanwhile), unless a newer document came first.
export function isNewer(seenVersion, version, freshRead = false) {
  if (typeof version !== "number") return false;
  return freshRead ? version >= seenVersion : version > seenVersion;
}

// ---------------------------------------------------------------- notices

function seconds(value) {
  if (value < 10) return `${value.toFixed(1)} s`;
  const whole = Math.round(value);
  const minutes = Math.floor(whole / 60);
  const rest = whole % 60;
  return minutes ? `${minutes} min ${String(rest).padStart(2, "0")} s` : `${rest} s`;
}

// The line under the button after a push. `answer`: {accepted: payload},
// {rejected: payload}, or null when no answer came in time.
export function noticeFor(answer) {
  if (!answer) {
    return { text: `No answer within ${NO_ANSWER_SECONDS} s. Try again.`, kind: "error" };
  }
  if (answer.accepted) {
    return { text: `Pushed. Push #${answer.accepted.pushes} reset the countdown.`, kind: "ok" };
  }
  const { reason, message, retryAfter } = answer.rejected;
  if (reason === "rate_limited") {
    const wait = typeof retryAfter === "number" && retryAfter > 0 ? ` Wait ${seconds(retryAfter)}.` : "";
    return { text: `Too fast.${wait}`, kind: "wait" };
  }
  if (reason === "too_early") return { text: `Not yet: ${message}.`, kind: "refused" };
  if (reason === "wrong_code") return { text: `Wrong code: ${message}.`, kind: "refused" };
  return { text: `Refused: ${message}.`, kind: "error" };
}

// ---------------------------------------------------------------- the browser's clock

// What the shadow documents say about this browser's clock. AWS IoT stamps every shadow
// document with `timestamp`, whole epoch seconds, when it sends it: at arrival the true time
// is at least `timestamp` (and `updatedAt` of the reported state, written by the push
// handler's clock) and, the trip being short, before `timestamp + 1`. Each document narrows
// the window [low, high] of the offset (true time minus this browser's time, in ms).
export function noClockSample() {
  return { low: -Infinity, high: Infinity };
}

export function clockSample(bounds, { timestamp, updatedAt }, arrivedMs) {
  let { low, high } = bounds;
  if (typeof timestamp === "number") {
    low = Math.max(low, timestamp * 1000 - arrivedMs);
    high = Math.min(high, (timestamp + 1) * 1000 - arrivedMs);
  }
  if (typeof updatedAt === "number") low = Math.max(low, updatedAt * 1000 - arrivedMs);
  if (low > high) {
    // This browser's clock was changed (or a sample came late): start again from this one.
    return clockSample(noClockSample(), { timestamp, updatedAt }, arrivedMs);
  }
  return { low, high };
}

// The correction to add to this browser's clock: none when its clock fits the window,
// else the nearest edge.
export function clockOffset({ low, high }) {
  if (low > 0) return low;
  if (high < 0) return high;
  return 0;
}

// When to sign afresh: 5 minutes before the credentials expire, or halfway through their
// life if they live shorter than 10 minutes (all times in ms, on the corrected clock).
export function refreshAt(expiresMs, receivedMs) {
  const life = Math.max(0, expiresMs - receivedMs);
  return life > 600_000 ? expiresMs - 300_000 : receivedMs + life / 2;
}

// Wait before reconnect attempt `attempt` (0, 1, ...): doubling from half a second up to
// 32 s, less a random part of up to a half (`random` in [0, 1)) so pages spread out: every
// client's policy, swan.core.backoff.RECONNECT (tests/unit/webapp holds the two together).
export function backoffMs(attempt, random) {
  const ceiling = Math.min(32_000, 500 * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (1 - random / 2));
}

// A read of the shadow refused for now (429: AWS serves 20 shadow requests a second per
// thing, and pages opening together ask more; 500, 503) is asked again, `READ_ATTEMPTS`
// times at most, after `backoffMs`; any other refusal (404: no shadow yet) is the answer.
export const READ_ATTEMPTS = 8;
const READ_AGAIN = new Set([429, 500, 503]);

export function readAgain(code, attempt) {
  return READ_AGAIN.has(code) && attempt < READ_ATTEMPTS;
}
