"""Settings come from flags > INKSHADOW_* environment > a YAML or TOML --config file >
defaults, and a bad file is a plain error."""

from __future__ import annotations

from pathlib import Path

import pytest

from inkshadow.errors import InvalidRequest
from inkshadow.settings import load_settings


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("c.yaml", "model: from-file\nport: 9001\nvideo-fps: 1.5\napi_keys: 'k1,k2'\n"),
        ("c.toml", 'model = "from-file"\nport = 9001\nvideo-fps = 1.5\napi_keys = "k1,k2"\n'),
    ],
)
def test_precedence_flags_env_file_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    config = tmp_path / name
    config.write_text(text)
    from_file = load_settings(config)
    assert (from_file.model, from_file.port, from_file.video_fps) == ("from-file", 9001, 1.5)
    assert from_file.api_keys == ["k1", "k2"]
    assert from_file.max_batch_size == 8  # a default the file leaves alone
    monkeypatch.setenv("INKSHADOW_PORT", "9002")
    assert load_settings(config).port == 9002  # environment over file
    assert load_settings(config, port=9003, model=None).port == 9003  # flag over both
    assert load_settings(config, model=None).model == "from-file"  # unset flags do not shadow


def test_bad_config_files_are_plain_errors(tmp_path: Path) -> None:
    wrong = tmp_path / "c.ini"
    wrong.write_text("x=1")
    with pytest.raises(InvalidRequest, match=r"\.yaml, \.yml or \.toml"):
        load_settings(wrong)
    listing = tmp_path / "c.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(InvalidRequest, match="mapping"):
        load_settings(listing)
    unknown = tmp_path / "u.yaml"
    unknown.write_text("no_such_setting: 1\n")
    with pytest.raises(ValueError, match="no_such_setting"):
        load_settings(unknown)
