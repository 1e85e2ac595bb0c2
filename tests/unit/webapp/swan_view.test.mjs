// The page's pure logic (webapp/components/swan_view.js), under Node's own test runner;
// tests/unit/webapp/test_swan_view_js.py runs this file.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  alarmFor,
  READ_ATTEMPTS,
  backoffMs,
  readAgain,
  boardFrom,
  clockDigits,
  clockOffset,
  clockSample,
  emptyBoard,
  isNewer,
  noClockSample,
  noticeFor,
  refreshAt,
  remember,
  sourceLabel,
} from "../../../webapp/components/swan_view.js";

function reported(changes = {}) {
  return {
    periodSeconds: 6480,
    deadline: 10_000,
    phase: "counting",
    lastPush: { at: 3520, by: "G030JF0553648RUH", source: "button", clickType: "SINGLE" },
    pushes: 7,
    runStartedAt: 1000,
    failures: 2,
    failedAt: null,
    updatedAt: 3520,
    ...changes,
  };
}

test("108 minutes need three minute tiles and short periods two", () => {
  assert.deepEqual([6480, 600, 8, 60_000].map(clockDigits), [3, 2, 2, 4]);
});

test("the alarm is four minutes or a quarter of a short period", () => {
  assert.deepEqual([6480, 8, 0].map(alarmFor), [240, 2, 0]);
});

test("sources read as people call them", () => {
  assert.deepEqual(
    ["web", "pi", "button", "cli", "something-new", "toString"].map(sourceLabel),
    ["web", "Raspberry Pi", "IoT Button", "command line", "something-new", "toString"],
  );
});

test("the board shows the countdown and who pushed last", () => {
  const board = boardFrom(emptyBoard(), reported(), 12);
  assert.equal(board.known, true);
  assert.equal(board.version, 12);
  assert.deepEqual([board.deadline, board.period, board.alarm, board.digits], [10_000, 6480, 240, 3]);
  assert.deepEqual([board.pushes, board.failures, board.failed], [7, 2, false]);
  assert.deepEqual([board.lastBy, board.lastSource, board.lastAt], ["G030JF0553648RUH", "IoT Button", 3520]);
  assert.deepEqual(board.history, [
    { at: 3520, by: "G030JF0553648RUH", source: "button", label: "IoT Button" },
  ]);
  assert.equal(board.ruleSet, "anytime");
});

test("a failed run shows when it ended", () => {
  const board = boardFrom(emptyBoard(), reported({ phase: "failed", failedAt: 10_000 }), 3);
  assert.equal(board.failed, true);
  assert.equal(board.failedAt, 10_000);
});

test("every browser's push is a web visitor's", () => {
  const board = boardFrom(emptyBoard(), reported({ lastPush: { at: 5, by: "us-east-1:abc", source: "web" } }), 1);
  assert.equal(board.lastBy, "a web visitor");
  assert.equal(board.lastSource, "web");
});

test("before the first push the board keeps the period it shows and is known", () => {
  const board = boardFrom({ ...emptyBoard(), period: 8, alarm: 2 }, null, 0);
  assert.equal(board.known, true);
  assert.deepEqual([board.period, board.alarm, board.deadline, board.lastBy], [8, 2, 0, ""]);
});

test("the shadow's recent pushes are the list, newest first, coalesced ones included", () => {
  const recent = [
    { n: 9, at: 9, by: "pi-kitchen", source: "pi", clickType: "SINGLE" },
    { n: 8, at: 8, by: "us-east-1:x", source: "web", clickType: "SINGLE" },
    { n: 7, at: 7, by: "laptop", source: "cli", clickType: "SINGLE" },
    "not a push",
  ];
  const seen = remember([], { at: 1, by: "old", source: "pi" });
  const board = boardFrom({ ...emptyBoard(), history: seen }, reported({ recent }), 2);
  assert.deepEqual(
    board.history.map((row) => [row.by, row.label]),
    [
      ["pi-kitchen", "Raspberry Pi"],
      ["a web visitor", "web"],
      ["laptop", "command line"],
    ],
  );
  const many = Array.from({ length: 20 }, (_, n) => ({ at: 100 - n, by: `d${n}`, source: "pi" }));
  assert.equal(boardFrom(emptyBoard(), reported({ recent: many }), 3).history.length, 12);
});

test("without a recent list the page lists the last pushes it saw, each once, bounded", () => {
  let history = [];
  for (const at of [1, 3, 2, 3]) history = remember(history, { at, by: `pi-${at}`, source: "pi" }, 3);
  assert.deepEqual(history.map((row) => row.at), [3, 2, 1]);
  history = remember(history, { at: 4, by: "pi-4", source: "pi" }, 3);
  assert.deepEqual(history.map((row) => row.at), [4, 3, 2]);
  assert.deepEqual(remember(history, null, 2), history.slice(0, 2));
  let board = emptyBoard();
  board = boardFrom(board, reported(), 1);
  board = boardFrom(board, reported({ lastPush: { at: 4000, by: "pi-1", source: "pi" } }), 2);
  assert.deepEqual(board.history.map((row) => row.by), ["pi-1", "G030JF0553648RUH"]);
});

test("the shadow's rule set, period and alarm are the page's", () => {
  const swan = boardFrom(emptyBoard(), reported({ ruleSet: "swan", periodSeconds: 8, alarmSeconds: 3 }), 4);
  assert.deepEqual([swan.ruleSet, swan.period, swan.alarm, swan.digits], ["swan", 8, 3, 2]);
  const unnamed = boardFrom(swan, reported({ periodSeconds: 8 }), 5);
  assert.equal(unnamed.ruleSet, "swan"); // kept until the shadow names one
  assert.equal(unnamed.alarm, 2); // the period's rule
  assert.equal(boardFrom(swan, reported({ ruleSet: "bogus" }), 6).ruleSet, "swan");
  assert.equal(boardFrom(swan, reported({ ruleSet: "anytime" }), 7).ruleSet, "anytime");
});

test("the newest version wins, and a connection's own read is taken unless a newer came", () => {
  assert.equal(isNewer(5, 6), true);
  assert.equal(isNewer(5, 5), false);
  assert.equal(isNewer(5, 4), false);
  assert.equal(isNewer(5, undefined), false);
  assert.equal(isNewer(-1, 1, true), true); // the shadow was made anew: version 1 again
  assert.equal(isNewer(6, 6, true), true);
  assert.equal(isNewer(7, 6, true), false);
});

test("notices for each answer", () => {
  assert.deepEqual(noticeFor({ accepted: { clientToken: "t", deadline: 1, pushes: 42 } }), {
    text: "Pushed. Push #42 reset the countdown.",
    kind: "ok",
  });
  const rejected = (reason, message, retryAfter) => noticeFor({ rejected: { reason, message, retryAfter } });
  assert.deepEqual(rejected("rate_limited", "slow down", 0.64), { text: "Too fast. Wait 0.6 s.", kind: "wait" });
  assert.equal(rejected("rate_limited", "slow down", 75).text, "Too fast. Wait 1 min 15 s.");
  assert.equal(rejected("rate_limited", "slow down", 12).text, "Too fast. Wait 12 s.");
  assert.equal(rejected("rate_limited", "slow down").text, "Too fast.");
  assert.deepEqual(rejected("too_early", "the prompt opens later", 100), {
    text: "Not yet: the prompt opens later.",
    kind: "refused",
  });
  assert.equal(rejected("wrong_code", "the code is 4 8 15 16 23 42").kind, "refused");
  assert.match(rejected("wrong_code", "x").text, /^Wrong code/);
  assert.equal(rejected("invalid_request", "bad").kind, "error");
  assert.deepEqual(noticeFor(null), { text: "No answer within 5 s. Try again.", kind: "error" });
});

test("a browser clock that fits the documents' times is left alone", () => {
  // AWS's clock says 1000 s (whole seconds); this browser's reads 1000.4 s at arrival.
  const bounds = clockSample(noClockSample(), { timestamp: 1000 }, 1_000_400);
  assert.equal(clockOffset(bounds), 0);
});

test("a browser clock an hour slow is corrected to within a second, then closer", () => {
  const hour = 3_600_000;
  let bounds = clockSample(noClockSample(), { timestamp: 1000 }, 1_000_300 - hour);
  const first = clockOffset(bounds);
  assert.ok(first >= hour - 300 && first <= hour + 700, first);
  // The push handler's updatedAt is finer than the timestamp: the true time is past it.
  bounds = clockSample(bounds, { timestamp: 1002, updatedAt: 1002.25 }, 1_002_300 - hour);
  assert.ok(Math.abs(clockOffset(bounds) - hour) <= 300, clockOffset(bounds));
});

test("a browser clock an hour fast is corrected", () => {
  const bounds = clockSample(noClockSample(), { timestamp: 1000 }, 1_000_500 + 3_600_000);
  const offset = clockOffset(bounds);
  assert.ok(offset <= -3_599_000 && offset >= -3_600_500, offset);
});

test("when this browser's clock is set, the samples start again", () => {
  let bounds = clockSample(noClockSample(), { timestamp: 1000 }, 1_000_500);
  bounds = clockSample(bounds, { timestamp: 1010 }, 1_010_500 - 60_000);
  assert.ok(Math.abs(clockOffset(bounds) - 60_000) <= 1000, clockOffset(bounds));
  assert.deepEqual(clockSample(noClockSample(), {}, 5), noClockSample());
});

test("credentials are renewed five minutes early, or halfway through a short life", () => {
  assert.equal(refreshAt(3_600_000, 0), 3_300_000);
  assert.equal(refreshAt(20_000, 0), 10_000);
  assert.equal(refreshAt(5_000, 10_000), 10_000); // already past: now
});

test("reconnects back off from half a second to at most 32 s, spread at random", () => {
  assert.equal(backoffMs(0, 0), 500);
  assert.equal(backoffMs(1, 0), 1000);
  assert.equal(backoffMs(3, 0.999), 2002);
  assert.equal(backoffMs(10, 0), 32_000);
  assert.equal(backoffMs(1000, 0), 32_000);
  assert.ok(backoffMs(10, 0.999) >= 16_000);
});

test("the empty board is waiting for the 108 minutes", () => {
  const board = emptyBoard();
  assert.deepEqual([board.known, board.period, board.alarm, board.digits], [false, 6480, 240, 3]);
});

test("a read refused for now is asked again, a few times; any other refusal is the answer", () => {
  assert.ok(readAgain(429, 0));
  assert.ok(readAgain(503, READ_ATTEMPTS - 1));
  assert.ok(!readAgain(429, READ_ATTEMPTS));
  assert.ok(!readAgain(404, 0)); // no shadow yet: that is the answer
  assert.ok(!readAgain(400, 0));
});
