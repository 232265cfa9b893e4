"""The candidate config as YAML in the live config's schema, each number with where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import yaml

ORDER = ("version", "rules", "groups", "caps", "decay", "grade", "policy")


def render(config: Mapping, result, *, source: str, read_at: float) -> str:
    """YAML text that `load_rules` reads back as the candidate (comments explain each number)."""
    why = {r["name"]: r for r in result.rules}
    split = result.split
    cand, cur = result.compare["candidate"], result.compare["current"]
    line = result.threshold["holdout"]
    lines = [
        "# Candidate scoring config written by `connector calibrate`",
        f"# on {_day(read_at)} from the contacts of the portal and {source} (the current config).",
        *(("# Points were learned from what really happened: each contact rebuilt from its property",
           "# history as it was at its decision moment (its MQL date, or a fixed age after creation),",
           f"# and whether it then reached {result.counts['outcome']}.")
          if result.point_in_time else
          ("# NOT POINT-IN-TIME: the portal's history is flat (imported); today's values stood in for",
           "# the values each contact had when it was judged, and its outcome as known today",
           f"# ({result.counts['outcome']}). Treat these numbers as optimistic.")),
        f"# Trained on {split['train']:,} decisions from {_day(split['train_from'])} to "
        f"{_day(split['train_to'])} ({split['train_converted']} converted);",
        f"# tested on the {split['holdout']:,} newer ones ({_day(split['holdout_from'])} to "
        f"{_day(split['holdout_to'])}, {split['holdout_converted']} converted):",
        f"#   AUC candidate {cand['auc']:.3f} ({cand['auc_low']:.3f}-{cand['auc_high']:.3f}), "
        f"current {cur['auc']:.3f} ({cur['auc_low']:.3f}-{cur['auc_high']:.3f});",
        f"#   at mql_threshold {line['threshold']:g}: {line['mqls_per_week']:.1f} MQLs a week, "
        f"{line['conversion']:.1%} of them converted (base rate {line['base_rate']:.1%}).",
        "# Points = the logistic regression's coefficient x the common scale "
        f"{result.cv['scale']:.2f}, rounded.",
        "# Load it with SCORING_CONFIG=<this file>, or try it beside the live one first with",
        "# SHADOW_SCORING_CONFIG=<this file> (docs/scoring.md, \"Calibrate\").",
        "",
    ]
    for key in ORDER:
        if key not in config:
            continue
        if key == "rules":
            lines.append("rules:")
            for section in ("fit", "engagement", "hand_raise"):
                specs = (config["rules"] or {}).get(section) or []
                lines.append(f"  {section}:" + (" []" if not specs else ""))
                for spec in specs:
                    info = why.get(spec["name"])
                    if info is not None:
                        lines.append(f"    # {_explain(info)}")
                    elif section == "hand_raise":
                        lines.append("    # kept from the current config (a hand-raise adds no points)")
                    lines.extend("    " + ln for ln in _dump([spec]).splitlines())
            continue
        comment = _SECTION_NOTES.get(key)
        if comment:
            lines.append(f"# {comment}")
        lines.extend(_dump({key: config[key]}).splitlines())
    return "\n".join(lines) + "\n"


_SECTION_NOTES = {
    "caps": "The points are scaled so the best possible contact scores about 100; no group caps.",
    "grade": "Bands from the training contacts: A/1 = the top 20 %, B/2 = the next 30 %.",
    "policy": "mql_threshold: chosen on the training contacts for the stated target; "
              "fit_minimum 0: the learned points weigh fit already.",
}


def _explain(info: Mapping) -> str:
    unit = " per unit" if info["per_unit"] else ""
    origin = "current rule" if info["current"] else "new rule: " + info["why"]
    return f"learned {info['points']:+d}{unit} (coefficient {info['coefficient']:+.4f}); {origin}"


class _Dumper(yaml.SafeDumper):
    """Block style, except short lists of plain values (`in: [a, b]`), as people write them."""


def _represent_list(dumper: yaml.SafeDumper, value: list):
    flow = all(not isinstance(v, (dict, list)) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def _dump(value) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d")
