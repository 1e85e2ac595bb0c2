// The page's one link to AWS IoT, in the browser: no server of ours in between.
//
// 1. `/swan-config.json`, beside the page, names the deployment: region, identity pool,
//    the IoT WebSocket URL (`wss://<endpoint>/mqtt`) and, locally, the Cognito endpoint.
// 2. Cognito Identity gives this page an unauthenticated identity and its temporary
//    credentials (the identity pool's unauthenticated role: read the button shadow, push
//    on its own topic).
// 3. The WebSocket URL is presigned with SigV4 (service `iotdevicegateway`), the session
//    token appended after signing, as AWS IoT documents for MQTT over WebSocket:
//    https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html#mqtt-ws
// 4. MQTT 3.1.1 (mqtt.js) as the identity itself (the role lets it connect with no other
//    client id); the button shadow is read on every connect, then followed through
//    `/update/documents` (newest version wins); pushes go to `swan/push/web/<identity>`
//    and the answer comes back on `.../accepted` or `.../rejected`.
// 5. Before the credentials expire the URL is signed afresh and the link connects again;
//    when the link drops it reconnects with backoff, signing afresh each time.
//
// Everything the page shows goes out through `onChange` (the page's client-side state).
import { useEffect, useRef } from "react";
import mqtt from "mqtt";
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";
import { fromCognitoIdentityPool } from "@aws-sdk/credential-provider-cognito-identity";
import { provide } from "./swan_actions.js";
import {
  NO_ANSWER_SECONDS,
  NOTICE_SECONDS,
  backoffMs,
  boardFrom,
  clockOffset,
  clockSample,
  emptyBoard,
  isNewer,
  noClockSample,
  noticeFor,
  readAgain,
  refreshAt,
} from "./swan_view.js";

const CONFIG_URL = "/swan-config.json";
const SHADOW = "$aws/things/button/shadow";
// The documents at QoS 0: each carries the whole state and the page reads the whole document
// whenever it connects (clean session), so a PUBACK per page per push would buy nothing.
// The rule and its reasons: DOCUMENTS_QOS in swan/core/topics.py (a test keeps them equal).
const DOCUMENTS_QOS = 0;
const MUTE_KEY = "swan-muted";
const URL_EXPIRES_SECONDS = 60; // the signed URL is used at once
const CONNECT_TIMEOUT_MS = 10_000;
const KEEPALIVE_SECONDS = 60;
// The Cognito provider's identity cache: nothing kept beyond this page (see `cognito`).
const PAGE_ONLY = { getItem: () => null, setItem: () => undefined, removeItem: () => undefined };

function randomToken() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// RFC 3986 percent-encoding, as SigV4 canonicalizes a query.
function escape(text) {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function readConfig(config) {
  const fields = ["region", "identityPoolId", "iotEndpoint"];
  for (const name of fields) {
    if (typeof config?.[name] !== "string" || !config[name]) {
      throw new Error(`${CONFIG_URL} has no ${name}`);
    }
  }
  const endpoint = new URL(config.iotEndpoint);
  if (endpoint.protocol !== "wss:" && endpoint.protocol !== "ws:") {
    throw new Error(`${CONFIG_URL}: iotEndpoint must be a ws:// or wss:// URL`);
  }
  return {
    region: config.region,
    identityPoolId: config.identityPoolId,
    iotEndpoint: endpoint,
    cognitoEndpoint: typeof config.cognitoEndpoint === "string" ? config.cognitoEndpoint : null,
  };
}

// The MQTT-over-WebSocket URL, presigned for `credentials` at `signingDate`.
async function signedUrl(config, credentials, signingDate) {
  const url = config.iotEndpoint;
  const signer = new SignatureV4({
    service: "iotdevicegateway",
    region: config.region,
    // Without the session token: AWS IoT wants it appended after signing.
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    },
    sha256: Sha256,
  });
  const signed = await signer.presign(
    {
      method: "GET",
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query: {},
      headers: { host: url.host },
    },
    { expiresIn: URL_EXPIRES_SECONDS, signingDate },
  );
  const query = { ...signed.query };
  if (credentials.sessionToken) query["X-Amz-Security-Token"] = credentials.sessionToken;
  const search = Object.entries(query)
    .map(([name, value]) => `${escape(name)}=${escape(String(value))}`)
    .join("&");
  return `${url.protocol}//${url.host}${url.pathname}?${search}`;
}

function readMuted() {
  try {
    return Boolean(window.localStorage.getItem(MUTE_KEY));
  } catch {
    return false; // storage refused (private mode): sound on
  }
}

class Link {
  constructor(emit) {
    this.emit = emit;
    this.view = {
      ...emptyBoard(),
      link: "connecting",
      offset: 0,
      inFlight: false,
      notice: "",
      noticeKind: "",
      muted: false,
    };
    this.clock = noClockSample();
    this.stopped = false;
    this.config = null;
    this.credentials = null; // the Cognito provider
    this.spare = null; // fresh credentials fetched before a planned reconnect
    this.client = null;
    this.live = false;
    this.identityId = null;
    this.attempt = 0;
    this.answers = new Map(); // clientToken -> resolve
    this.waitingForLive = new Set(); // publishes waiting for the link
    this.readToken = null; // our shadow get in flight on this connection
    this.connectionVersion = -1; // newest shadow version seen on this connection
    this.notices = 0;
    this.timers = new Set();
    this.wake = null;
  }

  show(changes) {
    this.view = { ...this.view, ...changes };
    this.emit(this.view);
  }

  now() {
    return Date.now() + this.view.offset;
  }

  later(action, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  start() {
    this.show({ muted: readMuted() });
    this.withdraw = provide({
      push: (code) => this.push(code),
      mute: () => this.toggleMute(),
    });
    this.onOnline = () => this.wake?.();
    window.addEventListener("online", this.onOnline);
    this.run();
  }

  stop() {
    this.stopped = true;
    this.withdraw?.();
    window.removeEventListener("online", this.onOnline);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.wake?.();
    this.client?.end(true);
  }

  // ------------------------------------------------------------ the connection loop

  async run() {
    while (!this.stopped) {
      let planned = false;
      try {
        planned = await this.session();
      } catch (error) {
        console.warn("The Swan: no link to AWS IoT:", error?.message ?? error);
      }
      if (this.stopped) return;
      if (planned) continue; // the credentials were renewed: connect again at once
      if (this.view.link === "live") this.show({ link: "reconnecting" });
      const wait = backoffMs(this.attempt, Math.random());
      this.attempt += 1;
      await new Promise((resolve) => {
        const timer = this.later(resolve, wait);
        this.wake = () => {
          clearTimeout(timer);
          this.timers.delete(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async loadConfig() {
    if (this.config) return this.config;
    const sent = Date.now();
    const response = await fetch(CONFIG_URL, { cache: "no-store" });
    if (!response.ok) throw new Error(`${CONFIG_URL}: HTTP ${response.status}`);
    const config = readConfig(await response.json());
    // The server's Date header (whole seconds) is a first sample of the time: enough to
    // sign with even when this browser's clock is off by more than AWS's five minutes.
    const date = Date.parse(response.headers.get("date") ?? "");
    if (Number.isFinite(date) && Date.now() - sent < 2000) {
      this.sampleClock({ timestamp: date / 1000 }, Date.now());
    }
    this.config = config;
    return config;
  }

  // The Cognito provider: GetId once, then GetCredentialsForIdentity at every call. The
  // identity is this page's own, kept in memory only: the role connects an identity with
  // its own id as the client id, and AWS IoT drops a connection when another one connects
  // with the same client id, so two tabs sharing one identity would push each other off.
  cognito(config) {
    if (!this.credentials) {
      this.credentials = fromCognitoIdentityPool({
        identityPoolId: config.identityPoolId,
        cache: PAGE_ONLY,
        clientConfig: {
          region: config.region,
          ...(config.cognitoEndpoint ? { endpoint: config.cognitoEndpoint } : {}),
        },
      });
    }
    return this.credentials;
  }

  async freshCredentials(config) {
    try {
      return await this.cognito(config)();
    } catch (error) {
      this.credentials = null; // next time, from a new identity (this one may be gone)
      throw error;
    }
  }

  // One connection, from signing to its end. Resolves true when it ended to renew the
  // credentials (connect again at once), false when it failed or dropped.
  async session() {
    const config = await this.loadConfig();
    const credentials = this.spare ?? (await this.freshCredentials(config));
    this.spare = null;
    const received = this.now();
    const url = await signedUrl(config, credentials, new Date(this.now()));
    this.identityId = credentials.identityId;
    const base = `swan/push/web/${credentials.identityId}`;
    return new Promise((resolve) => {
      const client = mqtt.connect(url, {
        clientId: credentials.identityId,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0, // this loop reconnects, with a freshly signed URL
        connectTimeout: CONNECT_TIMEOUT_MS,
        keepalive: KEEPALIVE_SECONDS,
        resubscribe: false,
      });
      this.client = client;
      let planned = false;
      let renewing = null;
      let ended = false;
      const due = refreshAt(credentials.expiration?.getTime() ?? Infinity, received);
      client.on("connect", () => {
        this.connectionVersion = -1;
        const topics = {
          [`${SHADOW}/get/accepted`]: { qos: 1 },
          [`${SHADOW}/get/rejected`]: { qos: 1 },
          [`${SHADOW}/update/documents`]: { qos: DOCUMENTS_QOS },
          [`${base}/accepted`]: { qos: 1 },
          [`${base}/rejected`]: { qos: 1 },
        };
        client.subscribe(topics, (error, granted) => {
          if (error || granted.some((grant) => grant.qos > 2)) {
            console.warn("The Swan: subscription refused", error ?? granted);
            client.end(true);
            return;
          }
          this.readAttempts = 0;
          this.read(client);
          this.live = true;
          this.attempt = 0;
          this.show({ link: "live" });
          for (const send of this.waitingForLive) send(client, base);
          this.waitingForLive.clear();
        });
        renewing = setInterval(async () => {
          if (planned || this.now() < due) return;
          planned = true;
          try {
            this.spare = await this.freshCredentials(config);
          } catch (error) {
            console.warn("The Swan: could not renew the credentials:", error?.message ?? error);
          }
          client.end();
        }, 1000);
      });
      client.on("message", (topic, payload) => this.received(topic, payload, base, client));
      client.on("error", (error) => console.warn("The Swan: MQTT:", error?.message ?? error));
      client.on("close", () => {
        if (ended) return;
        ended = true;
        clearInterval(renewing);
        if (this.client === client) {
          this.client = null;
          this.live = false;
        }
        client.end(true);
        resolve(planned);
      });
    });
  }

  // ------------------------------------------------------------ what arrives

  sampleClock(times, arrived) {
    this.clock = clockSample(this.clock, times, arrived);
    const offset = clockOffset(this.clock);
    if (offset !== this.view.offset) this.show({ offset });
  }

  received(topic, payload, base, client) {
    let message;
    try {
      message = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return; // not JSON: nothing AWS IoT sends on these topics
    }
    const arrived = Date.now();
    if (topic === `${SHADOW}/update/documents`) {
      const current = message.current ?? {};
      const reported = current.state?.reported ?? null;
      this.sampleClock({ timestamp: message.timestamp, updatedAt: reported?.updatedAt }, arrived);
      this.connectionVersion = Math.max(this.connectionVersion, current.version ?? -1);
      if (isNewer(this.view.version, current.version)) this.showShadow(reported, current.version);
    } else if (topic === `${SHADOW}/get/accepted`) {
      const reported = message.state?.reported ?? null;
      this.sampleClock({ timestamp: message.timestamp }, arrived);
      // This connection's read is taken even if older than what the page shows (the
      // shadow may have been made anew), unless a newer document came first.
      const fresh = message.clientToken === this.readToken;
      if (isNewer(fresh ? this.connectionVersion : this.view.version, message.version, fresh)) {
        this.connectionVersion = message.version;
        this.showShadow(reported, message.version);
      }
      if (fresh) this.readDone(client);
    } else if (topic === `${SHADOW}/get/rejected`) {
      if (message.clientToken !== this.readToken) return;
      if (readAgain(message.code, this.readAttempts) && this.connectionVersion < 0) {
        this.readAgainLater(client); // throttled while many pages open: ask again, spread out
        return;
      }
      if (message.code === 404) this.showShadow(null, 0); // nobody has pushed yet
      this.readDone(client);
    } else if (topic === `${base}/accepted` || topic === `${base}/rejected`) {
      const answer = this.answers.get(message.clientToken);
      if (!answer) return;
      answer(topic.endsWith("/accepted") ? { accepted: message } : { rejected: message });
    }
  }

  // Ask for the shadow (again), unless a document has told this connection already.
  read(client) {
    this.readToken = randomToken();
    client.publish(`${SHADOW}/get`, JSON.stringify({ clientToken: this.readToken }), { qos: 1 });
  }

  readAgainLater(client) {
    const wait = backoffMs(this.readAttempts, Math.random());
    this.readAttempts += 1;
    setTimeout(() => {
      if (this.client !== client || !this.readToken) return; // gone, or answered since
      if (this.connectionVersion >= 0) this.readDone(client); // a document came: newer
      else this.read(client);
    }, wait);
  }

  // Every page hears the answers to every page's read: once ours is in, stop listening.
  readDone(client) {
    this.readToken = null;
    client.unsubscribe([`${SHADOW}/get/accepted`, `${SHADOW}/get/rejected`]);
  }

  showShadow(reported, version) {
    this.show(boardFrom(this.view, reported, version));
  }

  // ------------------------------------------------------------ what the page asks

  async push(code) {
    if (this.view.inFlight) return;
    const clientToken = randomToken();
    const payload = { clientToken, source: "web" };
    if (code) payload.code = code;
    this.show({ inFlight: true, notice: "", noticeKind: "" });
    let send = null;
    const answer = await new Promise((resolve) => {
      this.later(() => resolve(null), NO_ANSWER_SECONDS * 1000);
      this.answers.set(clientToken, resolve);
      send = (client, base) => client.publish(base, JSON.stringify(payload), { qos: 1 });
      if (this.live && this.client) send(this.client, `swan/push/web/${this.identityId}`);
      else this.waitingForLive.add(send); // sent when the link is back, if in time
    });
    this.answers.delete(clientToken);
    this.waitingForLive.delete(send);
    if (this.stopped) return;
    const notice = noticeFor(answer);
    // Only the `swan` rule set asks for a code: a shadow that does not name its rule set
    // yet (nobody has pushed) is told by the refusal.
    const learnt = answer?.rejected?.reason === "wrong_code" ? { ruleSet: "swan" } : {};
    this.notices += 1;
    const shown = this.notices;
    this.show({ inFlight: false, notice: notice.text, noticeKind: notice.kind, ...learnt });
    // The answer is news for a while, then old: it must not linger into a later scene.
    this.later(() => {
      if (this.notices === shown && !this.view.inFlight) this.show({ notice: "", noticeKind: "" });
    }, NOTICE_SECONDS * 1000);
  }

  toggleMute() {
    const muted = !this.view.muted;
    try {
      window.localStorage.setItem(MUTE_KEY, muted ? "1" : "");
    } catch {
      // storage refused: muted for this page only
    }
    this.show({ muted });
  }
}

export function SwanLink({ onChange }) {
  const report = useRef(onChange);
  report.current = onChange;
  useEffect(() => {
    const link = new Link((view) => report.current?.(view));
    link.start();
    return () => link.stop();
  }, []);
  return null;
}
