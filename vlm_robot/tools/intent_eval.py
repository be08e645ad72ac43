"""Patterns vs the grammar-constrained model: how often each gives the right intent for a request.

    .venv/bin/python -m vlm_robot.tools.intent_eval [sim/suites/intent_requests.yaml]

Each request has one expected intent (type and place or thing) or none (small talk). Right means the
intents found are exactly that one (for the model, its single JSON object). Prints both, per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from vlm_robot.core.types import Intent
from vlm_robot.reasoning.intents import GrammarIntents, intents_from_transcript

DEFAULT = Path(__file__).resolve().parents[2] / "sim" / "suites" / "intent_requests.yaml"


def key(intents: list[Intent]) -> tuple[str, str] | str:
    """``(type, place or thing)`` of a single intent, ``"none"`` for no intent, ``"several"`` otherwise."""
    if not intents:
        return "none"
    if len(intents) > 1:
        return "several: " + ",".join(i.type for i in intents)
    it = intents[0]
    name = it.object if it.type == "offer" else it.target if it.type in ("fetch", "navigate") else ""
    return (it.type, name)


@dataclass
class Score:
    right: int = 0
    total: int = 0
    seconds: list[float] | None = None


def evaluate(path: str | Path = DEFAULT, model: GrammarIntents | None = None) -> dict[str, Score]:
    """Score patterns and (when ``model`` is given) the grammar path on the requests in ``path``."""
    requests = yaml.safe_load(Path(path).read_text())["requests"]
    scores = {"patterns": Score(seconds=[]), "grammar": Score(seconds=[])}
    for r in requests:
        want = r["expect"] if r["expect"] == "none" else tuple(r["expect"])
        row = []
        for name, fn in (("patterns", intents_from_transcript), ("grammar", model and model.intents)):
            if fn is None:
                continue
            t0 = time.perf_counter()
            got = key(fn(r["say"], "person1", 0.0))
            scores[name].seconds.append(time.perf_counter() - t0)
            scores[name].total += 1
            scores[name].right += got == want
            row.append(f"{name} {'ok ' if got == want else 'BAD'} {got}")
        print(f"  {r['say'][:40]:<40} want {want!s:<28} " + " | ".join(row))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Intents from requests: the fixed patterns against the "
                                                 "grammar-constrained model, on a YAML of requests.")
    parser.add_argument("requests", nargs="?", default=str(DEFAULT), help=f"YAML of requests (default: {DEFAULT})")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    model = GrammarIntents()
    scores = evaluate(args.requests, model)
    for name, s in scores.items():
        if s.total:
            print(f"{name}: {s.right}/{s.total} right ({100 * s.right / s.total:.0f} %), "
                  f"median {1000 * statistics.median(s.seconds):.1f} ms per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
