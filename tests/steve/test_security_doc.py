"""docs/security.md names tests that exist: a renamed or deleted test breaks the build."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r"`([\w/]*\.py)?::(test_\w+)`")
RISKS = [f"API{n} " for n in range(1, 11)]


def test_every_test_named_in_security_md_exists():
    text = (REPO / "docs" / "security.md").read_text()
    assert all(risk in text for risk in RISKS)
    current, named = None, []
    for path, name in TOKEN.findall(text):
        current = path or current
        assert current, name
        named.append((current, name))
    assert len(named) > 30
    for path, name in named:
        source = (REPO / "tests" / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name}"
