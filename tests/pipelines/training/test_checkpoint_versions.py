"""A checkpoint's state.json is read through the shared versioned-JSON reader (one-line version errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xtalgen.pipelines.training import load_checkpoint, save_checkpoint
from xtalgen.pipelines.training.checkpoint import FORMAT_VERSION, STATE_FILE, read_state


def test_newer_or_unknown_state_version_is_refused(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 1)
    folder = save_checkpoint(tmp_path / "checkpoints", 3, {"m": model}, {})
    assert read_state(folder)["format_version"] == FORMAT_VERSION and load_checkpoint(folder).step == 3
    state_file = folder / STATE_FILE
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError) as err:
        load_checkpoint(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{state_file}: a checkpoint state of format_version {FORMAT_VERSION + 1}")
    assert "written by a newer xtalgen" in message
    state_file.write_text(json.dumps({**state, "format_version": "x"}))
    with pytest.raises(ValueError, match="a checkpoint state of unknown format_version 'x'"):
        read_state(folder)
