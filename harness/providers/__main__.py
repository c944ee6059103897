"""`python -m harness.providers --port P [--paced] [--line TEXT | --whisper]`: the stand-ins as
a process of their own; prints one line when they serve, and stops on SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading

from harness.providers.deepgram import ScriptedTranscriber, Transcriber, WhisperTranscriber
from harness.providers.openai import Pacing
from harness.providers.server import ProviderServer

READY_LINE = "provider stand-ins serving"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paced", action="store_true", help="take the real services' time")
    parser.add_argument("--line", default="What can you do?", help="what every utterance says")
    parser.add_argument("--whisper", action="store_true", help="recognize speech (tiny.en)")
    args = parser.parse_args()
    transcriber: Transcriber = (
        WhisperTranscriber() if args.whisper else ScriptedTranscriber(args.line)
    )
    pacing = Pacing.like_the_services() if args.paced else Pacing()
    server = ProviderServer(transcriber, pacing=pacing, port=args.port).start()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(READY_LINE, flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
