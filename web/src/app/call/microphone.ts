// A media manager for SmallWebRTCTransport that needs no internet: the microphone straight
// from getUserMedia. The transport's default manager drives the mic through a Daily call
// object, which loads Daily's bundle from the internet; WavMediaManager records PCM through an
// AudioWorklet loaded from a blob: URL, which this page's CSP (script-src 'self') refuses.
// SmallWebRTC only needs the track itself: it puts it on the peer connection's audio sender.

import {
  DeviceError,
  type DeviceErrorType,
  type PipecatClientOptions,
  type RTVIEventCallbacks,
  type Tracks,
} from "@pipecat-ai/client-js";

const LOCAL = { id: "local", name: "", local: true };

function errorType(error: unknown): DeviceErrorType {
  const name = error instanceof DOMException ? error.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "permissions";
  if (name === "NotFoundError") return "not-found";
  if (name === "NotReadableError") return "in-use";
  if (name === "OverconstrainedError") return "constraints";
  return "unknown";
}

/** The methods SmallWebRTCTransport calls on its `mediaManager` (transport-lib's MediaManager). */
export class MicrophoneManager {
  readonly supportsScreenShare = false;
  private callbacks: RTVIEventCallbacks = {};
  private configured = false;
  private micEnabled = true;
  private stream: MediaStream | null = null;
  private device: MediaDeviceInfo | null = null;

  setUserAudioCallback(): void {
    // SmallWebRTC sends the track itself, not PCM chunks.
  }

  setClientOptions(options: PipecatClientOptions, override = false): void {
    if (this.configured && !override) return;
    this.configured = true;
    this.callbacks = options.callbacks ?? {};
    this.micEnabled = options.enableMic ?? true;
  }

  async initialize(): Promise<void> {
    // The client may initialize again on connect: one microphone stream per call.
    if (this.stream === null) await this.open();
  }

  async connect(): Promise<void> {
    if (this.stream === null) await this.open();
  }

  async disconnect(): Promise<void> {
    for (const track of this.stream?.getTracks() ?? []) {
      track.stop();
      this.callbacks.onTrackStopped?.(track, LOCAL);
    }
    this.stream = null;
  }

  private async open(): Promise<void> {
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.callbacks.onDeviceError?.(new DeviceError(["mic"], errorType(error), message));
      throw error;
    }
    this.stream = stream;
    const track = stream.getAudioTracks()[0];
    if (track === undefined) return;
    track.enabled = this.micEnabled;
    const deviceId = track.getSettings().deviceId;
    const devices = await navigator.mediaDevices.enumerateDevices();
    this.device = devices.find((d) => d.kind === "audioinput" && d.deviceId === deviceId) ?? null;
    if (this.device !== null) this.callbacks.onMicUpdated?.(this.device);
    this.callbacks.onTrackStarted?.(track, LOCAL);
  }

  async getAllMics(): Promise<MediaDeviceInfo[]> {
    return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  }

  async getAllCams(): Promise<MediaDeviceInfo[]> {
    return [];
  }

  async getAllSpeakers(): Promise<MediaDeviceInfo[]> {
    return [];
  }

  updateMic(): void {
    // One microphone per call: the page offers no device switching.
  }

  updateCam(): void {}

  updateSpeaker(): void {}

  get selectedMic(): MediaDeviceInfo | Record<string, never> {
    return this.device ?? {};
  }

  get selectedCam(): Record<string, never> {
    return {};
  }

  get selectedSpeaker(): Record<string, never> {
    return {};
  }

  enableMic(enable: boolean): void {
    this.micEnabled = enable;
    for (const track of this.stream?.getAudioTracks() ?? []) track.enabled = enable;
  }

  enableCam(): void {}

  enableScreenShare(): void {}

  get isMicEnabled(): boolean {
    return this.micEnabled;
  }

  get isCamEnabled(): boolean {
    return false;
  }

  get isSharingScreen(): boolean {
    return false;
  }

  tracks(): Tracks {
    const audio = this.stream?.getAudioTracks()[0];
    return { local: audio ? { audio } : {} };
  }
}
