// How loud the bot is, measured on its remote audio track in the page: what the level meter
// shows, so a user (and the browser test) can see the greeting arrive.

const INTERVAL_MS = 100;

export class LevelMeter {
  private timer: ReturnType<typeof setInterval> | null = null;
  private source: MediaStreamAudioSourceNode | null = null;

  /** The context is made on the user's click, so that autoplay rules let it run. */
  constructor(
    private readonly context: AudioContext,
    private readonly show: (level: number) => void,
  ) {}

  measure(track: MediaStreamTrack): void {
    this.stop();
    void this.context.resume();
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 1024;
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      // RMS of speech sits around 0.01-0.2; the square root spreads it over the meter.
      this.show(Math.min(1, Math.sqrt(Math.sqrt(sum / samples.length))));
    }, INTERVAL_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.source?.disconnect();
    this.source = null;
    this.show(0);
  }
}
