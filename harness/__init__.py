"""What tests and benchmarks share: the WebRTC test caller, the dev stack as a subprocess,
synthesized speech, Chromium, and local stand-ins for the services a deployment calls."""
