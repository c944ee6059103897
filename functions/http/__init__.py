"""What every voicefleet HTTP function shares: errors, bodies, API keys and routing."""
