"""Where things are, from the tests' point of view."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
DATA = TESTS / "data"
DEFAULT_CONFIG = ROOT / "connector" / "defaults" / "scoring.yaml"
SCORING = str(DEFAULT_CONFIG)
SIGNATURE_VECTORS = DATA / "webhook-signature-vectors.json"
