from __future__ import annotations

import pytest

from cxloop.config import CONFIG_FILE, WorkspaceConfig, render_config
from cxloop.errors import ConfigError


def test_rendered_config_round_trips_with_comments():
    text = render_config(
        brand='Say "hi"', competitors=("Contoso", "Fabrikam"), timezone="Europe/Paris"
    )
    assert text.count("#") > 10, "every setting is explained"
    config = WorkspaceConfig.from_dict(__import__("tomllib").loads(text))
    assert config.brand.name == 'Say "hi"'
    assert config.brand.competitors == ("Contoso", "Fabrikam")
    assert config.locale.timezone == "Europe/Paris"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"locale": {"timezone": "Mars/Base"}}, "IANA"),
        ({"locale": {"currency": "dollars"}}, "ISO 4217"),
        ({"identity": {"match_email": "yes"}}, "true or false"),
        ({"identity": {"colour": 1}}, "unknown setting [identity] colour"),
        ({"brand": "x"}, "must be a table"),
    ],
)
def test_bad_settings_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        WorkspaceConfig.from_dict(raw)


def test_invalid_toml_is_a_clear_error(tmp_path):
    path = tmp_path / CONFIG_FILE
    path.write_text("brand = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        WorkspaceConfig.load(path)
