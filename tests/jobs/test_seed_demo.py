"""The demo seed: scripts/dev keeps its standard output (the key and login) in data/."""

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from jobs.management.commands import seed_demo

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"


def _seed(monkeypatch) -> tuple[str, str]:
    """The seed's standard output and error, processing nothing."""
    one = [("receipt-ocr", "image/jpeg", b"not read here")]
    monkeypatch.setattr(seed_demo, "demo_documents", lambda rng: one)
    monkeypatch.setattr(seed_demo.Command, "_run_one", staticmethod(lambda *args: None))
    # The command makes this process's Celery app eager (it runs as its own process);
    # left so, every later test's tasks ran in the test instead of the broker.
    monkeypatch.setattr(seed_demo, "app", SimpleNamespace(conf=SimpleNamespace(update=dict)))
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_seed_prints_only_the_credentials_on_stdout_and_progress_on_stderr(monkeypatch):
    out, err = _seed(monkeypatch)
    assert "processed demo-01 (receipt-ocr)" in err
    lines = [line for line in out.splitlines() if line.strip()]
    assert [line.split(":")[0].strip() for line in lines] == [
        "Demo data ready.",
        "API key",
        "Reviewer login",
    ]


def test_the_printed_credentials_are_one_aligned_block_as_the_readme_quotes_it(monkeypatch):
    out, _ = _seed(monkeypatch)
    key, login = out.splitlines()[1:3]
    # The values start in one column, after one space past the longer label.
    assert re.fullmatch(r"  API key:        aok_[0-9a-f]{64}", key), key
    assert re.fullmatch(r"  Reviewer login: demo / \S+ \(also an admin\)", login), login
    # The README shows the block as printed, the secrets named by placeholders.
    shown = re.sub(r"aok_[0-9a-f]{64}", "aok_…", out)
    shown = re.sub(r"demo / \S+", "demo / <generated password>", shown)
    assert f"```text\n{shown}```" in README.read_text()
