"""Speech-to-text providers, chosen by configuration: Deepgram with a key, else Whisper."""
