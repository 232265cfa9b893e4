"""HubSpot lead-scoring connector: pull contacts, score them locally, write MQL decisions back."""

__version__ = "0.1.0"
