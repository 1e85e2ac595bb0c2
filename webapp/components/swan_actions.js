// What the page's controls do, for the controls declared in Python: the push button, the
// prompt's Execute and the mute switch call these (with what Reflex passes an event
// handler, which they do not need); the link to AWS IoT (swan_link.jsx, loaded in the
// browser only) provides them once it runs. Until then they do nothing.

let provided = {};

// Called by the link when it starts; returns the function that withdraws what it gave.
export function provide(actions) {
  provided = actions;
  return () => {
    if (provided === actions) provided = {};
  };
}

// The push button (click, touch, or Space / Enter anywhere on the page).
export function swanPush() {
  provided.push?.(null);
}

// The prompt's form (webapp/components/controls.py): push with the code typed at `>:`,
// read as it is submitted (the form clears itself after).
export function swanExecute() {
  const field = document.getElementById("prompt");
  const code = typeof field?.value === "string" ? field.value.trim().slice(0, 64) : "";
  provided.push?.(code || null);
}

export function swanToggleMute() {
  provided.mute?.();
}
