"""The demo seed: scripts/dev keeps its standard output (the key and login) in data/."""

import io
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from jobs.management.commands import seed_demo

pytestmark = pytest.mark.django_db


def test_the_seed_prints_only_the_credentials_on_stdout_and_progress_on_stderr(monkeypatch):
    one = [("receipt-ocr", "image/jpeg", b"not read here")]
    monkeypatch.setattr(seed_demo, "demo_documents", lambda rng: one)
    monkeypatch.setattr(seed_demo.Command, "_run_one", staticmethod(lambda *args: None))
    # The command makes this process's Celery app eager (it runs as its own process);
    # left so, every later test's tasks ran in the test instead of the broker.
    monkeypatch.setattr(seed_demo, "app", SimpleNamespace(conf=SimpleNamespace(update=dict)))
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    assert "processed demo-01 (receipt-ocr)" in err.getvalue()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert [line.split(":")[0].strip() for line in lines] == [
        "Demo data ready.",
        "API key",
        "Reviewer login",
    ]
