"""What the tests share that is not a fixture: one fake clock, one loopback HTTP receiver, the
repository's paths, and helpers for the sandbox, the scoring core and the web app."""
