"""What tests and benchmarks share: the WebRTC test caller, the scripted phone callers
(Twilio's and Telnyx's media streams), the dev stack as a subprocess, synthesized speech,
Chromium, and local stand-ins for the services a deployment calls."""
