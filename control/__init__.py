"""The `voicefleet` command line and the fleet operations: above every service, so that the base
(`voicefleet/`) and the services never import it."""
