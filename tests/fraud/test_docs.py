"""docs/fraud.md keeps up with the code it documents."""

from pathlib import Path

from fraud.models import FraudMatch
from fraud.policy import DEFAULTS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "fraud.md").read_text()


def test_every_policy_key_and_check_type_is_documented():
    assert not [key for key in DEFAULTS if f"`{key}`" not in DOC]
    assert not [check for check in FraudMatch.CheckType.values if f"`{check}`" not in DOC]
    assert not [r for r in FraudMatch.Resolution.values if f"`{r}`" not in DOC]
