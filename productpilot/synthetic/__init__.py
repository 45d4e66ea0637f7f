"""Deterministic synthetic data for a SaaS product: events, backlog and labelled anomalies.

Pure Python + numpy. See docs/synthetic-data.md for the model, the event catalogue and the
determinism guarantee.

Example:
    >>> from productpilot.synthetic import SyntheticConfig, generate
    >>> dataset = generate(SyntheticConfig.preset("tiny", seed=7))
    >>> paths = dataset.write("/tmp/pp-synthetic")  # events.jsonl, backlog.json, ...
"""

from productpilot.synthetic.anomalies import ANOMALY_KINDS
from productpilot.synthetic.catalogue import EVENT_NAMES
from productpilot.synthetic.config import DEFAULT_FEATURES, PRESETS, SyntheticConfig
from productpilot.synthetic.dataset import SyntheticDataset, generate
from productpilot.synthetic.features import FeatureSpec

__all__ = [
    "ANOMALY_KINDS",
    "DEFAULT_FEATURES",
    "EVENT_NAMES",
    "PRESETS",
    "FeatureSpec",
    "SyntheticConfig",
    "SyntheticDataset",
    "generate",
]
