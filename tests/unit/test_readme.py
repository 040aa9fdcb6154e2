"""The README documents every setting and flag the code reads."""

from __future__ import annotations

from pathlib import Path

from oneapi.__main__ import build_parser
from oneapi.settings import setting_fields
from scripts import provider_table
from scripts.settings_table import readme_with_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_settings_table_is_current() -> None:
    text = README.read_text()
    assert readme_with_table(text) == text, (
        "README's configuration table is stale: run python -m scripts.settings_table --write")


def test_provider_table_is_current() -> None:
    text = README.read_text()
    assert provider_table.readme_with_table(text) == text, (
        "README's provider table is stale: run python -m scripts.provider_table --write")


def test_every_variable_and_flag_is_documented() -> None:
    text = README.read_text()
    for f in setting_fields():
        assert f"`{f.metadata['env']}`" in text
    for action in build_parser()._actions:
        for option in action.option_strings:
            if option.startswith("--"):
                assert f"`{option}`" in text, option


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
