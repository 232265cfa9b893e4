"""What the commands do beyond sync and the worker: setup, doctor, explain, the demo, and the
HubSpot project checker. The CLI (connector.cli) parses arguments and prints; these do the work."""
