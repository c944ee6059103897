// One call: Pipecat's client SDK over the transport chosen at connect time. SmallWebRTC (with
// our getUserMedia microphone) works offline against the dev stack; Daily is for
// `createDailyRoom` sessions online, where the bot's events arrive as Daily app messages.

import {
  type BotOutputData,
  PipecatClient,
  type RTVIEventCallbacks,
  type TranscriptData,
  type TransportState,
} from "@pipecat-ai/client-js";
import { DailyTransport } from "@pipecat-ai/daily-transport";
import { SmallWebRTCTransport } from "@pipecat-ai/small-webrtc-transport";

import { MicrophoneManager } from "./microphone";
import { endSession, offerUrl, type Started, startSession, type TransportChoice } from "./session-api";

export interface CallListener {
  onState(state: TransportState): void;
  onUserText(text: string, final: boolean): void;
  /** A piece of the bot's speech; a segment id seen before replaces that piece's text. */
  onBotText(text: string, segment: number | undefined): void;
  /** A server message: the bot's tool events, routed by the page. */
  onEvent(message: unknown): void;
  onBotAudio(track: MediaStreamTrack): void;
  /** Who is talking, as the bot's voice activity detection and its output say. */
  onSpeaking(who: "user" | "bot", speaking: boolean): void;
  onError(message: string): void;
}

function callbacks(listener: CallListener): RTVIEventCallbacks {
  return {
    onTransportStateChanged: (state) => listener.onState(state),
    onUserTranscript: (data: TranscriptData) => listener.onUserText(data.text, data.final),
    // A segment is announced before it is spoken and again once spoken (same segment_id);
    // word-by-word outputs repeat the sentence they belong to, so sentences only.
    onBotOutput: (data: BotOutputData) => {
      if (data.aggregated_by !== "word") listener.onBotText(data.text, data.segment_id);
    },
    onServerMessage: (data: unknown) => listener.onEvent(data),
    onUserStartedSpeaking: () => listener.onSpeaking("user", true),
    onUserStoppedSpeaking: () => listener.onSpeaking("user", false),
    onBotStartedSpeaking: () => listener.onSpeaking("bot", true),
    onBotStoppedSpeaking: () => listener.onSpeaking("bot", false),
    onTrackStarted: (track, participant) => {
      if (track.kind === "audio" && !participant?.local) listener.onBotAudio(track);
    },
    onError: (message) => {
      const data = message.data as { message?: unknown } | undefined;
      listener.onError(typeof data?.message === "string" ? data.message : "the call failed");
    },
  };
}

function webrtcTransport(): SmallWebRTCTransport {
  // Candidates trickle (PATCH): waiting for all of them before the offer measured slower against
  // the bot's aiortc (benchmarks/interface_latency.py).
  return new SmallWebRTCTransport({ mediaManager: new MicrophoneManager() });
}

function dailyTransport(listener: CallListener): DailyTransport {
  // avoidEval: Daily's call bundle loads as a script from its CDN rather than through eval,
  // so the page's CSP needs no 'unsafe-eval' (devstack/web APP_CSP allows Daily's hosts).
  const transport = new DailyTransport({ dailyConfig: { avoidEval: true } });
  // The bot's forwarder sends plain app messages over Daily; RTVI's own carry its label.
  transport.dailyCallClient.on("app-message", (event) => {
    const data: unknown = event?.data;
    const label = (data as { label?: unknown } | null)?.label;
    if (label !== "rtvi-ai") listener.onEvent(data);
  });
  return transport;
}

function connectParams(choice: TransportChoice, started: Started): Record<string, unknown> {
  if (choice === "daily") {
    if (!started.dailyRoom) throw new Error("the gateway sent no Daily room");
    return { url: started.dailyRoom, ...(started.dailyToken ? { token: started.dailyToken } : {}) };
  }
  return {
    webrtcRequestParams: { endpoint: offerUrl(started.sessionId) },
    ...(started.iceConfig ? { iceConfig: started.iceConfig } : {}),
  };
}

export class Call {
  private readonly client: PipecatClient;
  sessionId: string | null = null;

  /** Ready to hang up at once, even while `start` is still under way. */
  constructor(
    readonly transport: TransportChoice,
    listener: CallListener,
  ) {
    this.client = new PipecatClient({
      transport: transport === "daily" ? dailyTransport(listener) : webrtcTransport(),
      enableMic: true,
      enableCam: false,
      callbacks: callbacks(listener),
    });
  }

  /** `POST /start`, then the transport's own connection; resolves once the bot is ready. */
  async start(body: Record<string, string>): Promise<void> {
    const starting = startSession(this.transport, body);
    // Over WebRTC the microphone opens (and the browser asks for it) while the gateway starts the
    // bot. Daily's devices wait for a room: a gateway without Daily never loads Daily's bundle.
    if (this.transport === "webrtc") await Promise.all([starting, this.client.initDevices()]);
    const started = await starting;
    this.sessionId = started.sessionId;
    await this.client.connect(connectParams(this.transport, started));
  }

  get muted(): boolean {
    return !this.client.isMicEnabled;
  }

  setMuted(muted: boolean): void {
    this.client.enableMic(!muted);
  }

  async hangUp(): Promise<void> {
    await this.client.disconnect();
    if (this.sessionId !== null) await endSession(this.sessionId);
  }
}
