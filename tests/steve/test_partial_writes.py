"""A write to the local disk goes to a partial file renamed once whole (steve.storage):
one whose process was killed before the rename (the OOM killer, gunicorn's timeout)
cleans nothing up itself, and beat's sweep removes what it left once surely abandoned."""

import os
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage

from steve import storage
from steve.tasks import sweep_partial_writes


class Killed(BaseException):
    """The process ending mid-write: no except or finally of its runs after it."""


def killed_before_the_rename(monkeypatch, key: str) -> None:
    def kill(*args: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(storage.os, "replace", kill)
        patched.setattr(FileSystemStorage, "delete", lambda self, name: None)  # never ran
        with pytest.raises(Killed):
            storage.store(key=key, data=b"receipt bytes")


def files_under(root: Path) -> list[Path]:
    return [path for path in Path(root).rglob("*") if path.is_file()]


def test_a_write_killed_before_its_rename_leaves_a_file_the_sweep_removes_an_hour_on(
    monkeypatch, settings
):
    killed_before_the_rename(monkeypatch, "submissions/cmp_1/sub_1/0")
    [abandoned] = files_under(settings.MEDIA_ROOT)
    an_hour_ago = time.time() - 3601
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    killed_before_the_rename(monkeypatch, "submissions/cmp_1/sub_2/0")  # maybe still writing

    assert sweep_partial_writes() == 1

    [kept] = files_under(settings.MEDIA_ROOT)
    assert kept != abandoned
    assert not Path(settings.MEDIA_ROOT, "submissions/cmp_1/sub_2/0").exists()


def test_a_whole_write_leaves_nothing_for_the_sweep(settings):
    storage.store(key="results/cmp_1/ses_1.json", data=b"{}")
    assert files_under(settings.MEDIA_ROOT) == [
        Path(settings.MEDIA_ROOT, "results/cmp_1/ses_1.json")
    ]
    assert sweep_partial_writes() == 0
