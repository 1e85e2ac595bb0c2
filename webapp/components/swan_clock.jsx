// The Swan's flip counter, ticking in the browser from the shadow's deadline.
//
// The deadline changes only when the shadow does; every second is drawn here. AWS's clock
// is the authority: `offset` (ms, from the shadow documents' times: swan_view.js) corrects
// this browser's clock.
import { useEffect, useRef, useState } from "react";
import "./swan_clock.css";
import { DEFAULT_PERIOD_SECONDS, alarmFor } from "./swan_view.js";

let offsetMs = 0;
const listeners = new Set();
let ticker = null;

function serverNow() {
  return Date.now() + offsetMs;
}

// One interval for every ticking element on the page; each element re-renders only when
// the time at its own resolution changes (the counter: a tenth, "ago" texts: a second).
const TICK_MS = 100;

function useNow(resolutionMs) {
  const bucket = () => Math.floor(serverNow() / resolutionMs) * resolutionMs;
  const [now, setNow] = useState(bucket);
  useEffect(() => {
    const update = () => setNow(bucket());
    listeners.add(update);
    if (ticker === null) {
      ticker = setInterval(() => listeners.forEach((listener) => listener()), TICK_MS);
    }
    return () => {
      listeners.delete(update);
      if (listeners.size === 0 && ticker !== null) {
        clearInterval(ticker);
        ticker = null;
      }
    };
  }, [resolutionMs]);
  return now;
}

// ---------------------------------------------------------------- sound

let audio = null;

function audioContext() {
  if (audio === null && typeof window !== "undefined") {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context) audio = new Context();
  }
  return audio;
}

function unlockAudio() {
  // Browsers start audio only after a gesture; every click or key press offers one.
  const context = audioContext();
  if (context && context.state === "suspended") context.resume();
}

function tone(frequency, start, length, volume, shape = "square") {
  const context = audioContext();
  if (!context || context.state !== "running") return;
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  const at = context.currentTime + start;
  oscillator.type = shape;
  oscillator.frequency.setValueAtTime(frequency, at);
  gain.gain.setValueAtTime(0.0001, at);
  gain.gain.exponentialRampToValueAtTime(volume, at + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
  oscillator.connect(gain).connect(context.destination);
  oscillator.start(at);
  oscillator.stop(at + length + 0.02);
}

function alarmBeep() {
  tone(1046, 0, 0.12, 0.06);
  tone(1046, 0.2, 0.12, 0.06);
}

function failureTone() {
  tone(220, 0, 0.9, 0.08, "sawtooth");
  tone(110, 0.25, 1.4, 0.08, "sawtooth");
}

// ---------------------------------------------------------------- hieroglyphs

// Five glyphs drawn for the counter at zero: three in the minutes, two in the seconds.
const GLYPHS = [
  // a loop over a cross (ankh-like)
  <g key="a">
    <ellipse cx="20" cy="15" rx="7" ry="9" />
    <path d="M8 27 H32 M20 24 V50" />
  </g>,
  // an eye with its tear line
  <g key="b">
    <path d="M5 24 Q20 10 35 24 Q20 34 5 24 Z" />
    <circle cx="20" cy="23" r="4" />
    <path d="M16 30 L13 44 Q18 48 22 42 M24 30 L30 44" />
  </g>,
  // a standing bird
  <g key="c">
    <path d="M12 16 Q16 8 23 11 L31 12 L24 15 Q30 24 28 34 L14 40 Q10 30 15 22 Z" />
    <path d="M18 38 L16 50 M24 36 L25 50 M12 50 H30" />
  </g>,
  // water
  <g key="d">
    <path d="M5 16 L10 12 L15 16 L20 12 L25 16 L30 12 L35 16" />
    <path d="M5 28 L10 24 L15 28 L20 24 L25 28 L30 24 L35 28" />
    <path d="M5 40 L10 36 L15 40 L20 36 L25 40 L30 36 L35 40" />
  </g>,
  // a reed
  <g key="e">
    <path d="M20 50 V20 M20 20 Q30 12 22 4 Q12 12 20 20 Z" />
    <path d="M20 34 Q28 30 30 22 M20 42 Q12 38 10 30" />
  </g>,
];

function Face({ value }) {
  if (typeof value === "number") {
    return (
      <span className="face">
        <svg className="glyph" viewBox="0 0 40 56" aria-hidden="true">
          {GLYPHS[value % GLYPHS.length]}
        </svg>
      </span>
    );
  }
  return <span className="face">{value}</span>;
}

// One split-flap tile: the old face folds down over the new one.
function Flap({ value, kind }) {
  const [flap, setFlap] = useState({ current: value, previous: value, turns: 0 });
  useEffect(() => {
    setFlap((seen) =>
      seen.current === value
        ? seen
        : { current: value, previous: seen.current, turns: seen.turns + 1 },
    );
  }, [value]);
  const { current, previous, turns } = flap;
  return (
    <span className={`flap ${kind}`} data-value={String(current)}>
      <span className="half top">
        <Face value={current} />
      </span>
      <span className="half bottom">
        <Face value={previous} />
      </span>
      {turns > 0 && (
        <span key={`fold-${turns}`} className="half top fold">
          <Face value={previous} />
        </span>
      )}
      {turns > 0 && (
        <span key={`unfold-${turns}`} className="half bottom unfold">
          <Face value={current} />
        </span>
      )}
    </span>
  );
}

// ---------------------------------------------------------------- the counter

function phaseOf(known, failed, deadline, alarm, now) {
  if (!known || deadline <= 0) return "waiting";
  if (failed || now >= deadline * 1000) return "failed";
  if (deadline * 1000 - now <= alarm * 1000) return "alarm";
  return "counting";
}

const ANNOUNCEMENTS = {
  waiting: "Waiting for the first push.",
  counting: "Counting down.",
  alarm: "Alarm: the countdown is in its last minutes. Push the button.",
  failed: "System failure. A push starts a new run.",
};

function isTyping(target) {
  if (!target || !target.closest) return false;
  return Boolean(target.closest("input, textarea, select, button, a, [contenteditable]"));
}

export function SwanClock({
  known = false,
  failed = false,
  deadline = 0,
  alarm = alarmFor(DEFAULT_PERIOD_SECONDS),
  period = DEFAULT_PERIOD_SECONDS,
  digits = 3,
  offset = 0,
  muted = false,
  promptMode = false,
}) {
  // Every ticking element on the page follows the corrected clock.
  offsetMs = offset;

  const now = useNow(TICK_MS);
  const phase = phaseOf(known, failed, deadline, alarm, now);
  const left =
    phase === "waiting"
      ? Math.round(period)
      : Math.max(0, Math.ceil((deadline * 1000 - now) / 1000 - 1e-6));
  const shown = phase === "failed" ? 0 : Math.min(left, Math.ceil(period));
  const minutes = String(Math.floor(shown / 60)).padStart(digits, "0");
  const seconds = String(shown % 60).padStart(2, "0");

  // The whole page follows the phase (colours, alarm pulse, failure screen).
  useEffect(() => {
    document.documentElement.dataset.phase = phase;
  }, [phase]);

  // The tab shows the time too, for when the page is behind another one.
  const title =
    phase === "failed"
      ? "SYSTEM FAILURE · The Swan"
      : `${Math.floor(shown / 60)}:${seconds} · The Swan`;
  useEffect(() => {
    document.title = title;
  }, [title]);

  // Sound: two short beeps a second during the alarm, a low tone at failure.
  const lastPhase = useRef(phase);
  useEffect(() => {
    if (!muted && phase === "alarm") alarmBeep();
  }, [phase, shown, muted]);
  useEffect(() => {
    if (!muted && phase === "failed" && lastPhase.current === "alarm") failureTone();
    lastPhase.current = phase;
  }, [phase, muted]);

  // Space or Enter anywhere on the page pushes (or opens the prompt, in swan mode).
  useEffect(() => {
    const onKey = (event) => {
      unlockAudio();
      if (event.repeat || isTyping(event.target)) return;
      if (event.key !== " " && event.key !== "Enter") return;
      const prompt = document.getElementById("prompt");
      const button = document.getElementById("push");
      event.preventDefault();
      if (prompt) prompt.focus();
      else if (button && !button.disabled) button.click();
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", unlockAudio);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", unlockAudio);
    };
  }, []);

  const failedTiles = phase === "failed";
  const tiles = failedTiles
    ? {
        minutes: Array.from({ length: digits }, (_, index) => index),
        seconds: [digits, digits + 1],
      }
    : { minutes: minutes.split(""), seconds: seconds.split("") };
  const label =
    phase === "failed"
      ? "System failure"
      : `${Math.floor(shown / 60)} minutes ${shown % 60} seconds left`;

  return (
    <div className="clock-block">
      <div
        id="clock"
        className="clock"
        role="timer"
        aria-label={label}
        data-phase={phase}
        data-remaining={shown}
      >
        <span className="tiles minutes">
          {tiles.minutes.map((value, index) => (
            <Flap key={`m${index}`} value={value} kind={failedTiles ? "glyph-black" : "digit"} />
          ))}
        </span>
        <span className="colon" aria-hidden="true">
          <i />
          <i />
        </span>
        <span className="tiles seconds">
          {tiles.seconds.map((value, index) => (
            <Flap key={`s${index}`} value={value} kind={failedTiles ? "glyph-red" : "digit"} />
          ))}
        </span>
      </div>
      <div className="phase-line" id="clock-phase" data-phase={phase}>
        {phase === "failed" ? (
          <span className="failure-text">
            <span>SYSTEM FAILURE</span>
            <span aria-hidden="true">SYSTEM FAILURE</span>
            <span aria-hidden="true">SYSTEM FAILURE</span>
          </span>
        ) : (
          <span className="phase-name">
            {phase === "alarm"
              ? promptMode
                ? "ALARM · ENTER THE CODE"
                : "ALARM · PUSH THE BUTTON"
              : phase === "waiting"
                ? "WAITING FOR THE FIRST PUSH"
                : "COUNTING DOWN"}
          </span>
        )}
      </div>
      <p className="sr-only" aria-live="assertive" id="phase-announcement">
        {ANNOUNCEMENTS[phase]}
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- elapsed times

function spell(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// "4 min 12 s ago" (mode "ago") or "1 h 02 min" (mode "for"), ticking.
export function Since({ at = 0, mode = "ago", until = 0 }) {
  const now = useNow(1000);
  if (!at) return <span className="since">—</span>;
  const end = until > 0 ? until * 1000 : now;
  const seconds = (end - at * 1000) / 1000;
  if (mode === "ago") {
    return <span className="since">{seconds < 2 ? "just now" : `${spell(seconds)} ago`}</span>;
  }
  return <span className="since">{spell(seconds)}</span>;
}
