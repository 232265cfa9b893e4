"""A stand-in HubSpot portal: HubSpot's paths, shapes, limits, errors and webhooks, on loopback.

Start it in-process with `Sandbox(SandboxConfig(...)).start()` or from the shell with
`connector sandbox`. See docs/sandbox.md.
"""

from connector.sandbox.server import DEFAULT_TOKEN, Sandbox, SandboxConfig

__all__ = ["DEFAULT_TOKEN", "Sandbox", "SandboxConfig"]
