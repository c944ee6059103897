"""voicefleet: fleets of Pipecat voice bots on Knative. Shared contracts and infrastructure."""
