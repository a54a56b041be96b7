"""Scenario files as a user may write them: JSON, a byte-order mark, repeated keys, broken syntax,
other encodings. Every bad file is one line naming the file and where; none is a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from engines.tune.scenario import ScenarioError, load, loads
from sidecar.cli import main

SUITE = Path(__file__).resolve().parents[4] / "benchmarks" / "scenarios"
GRAY = SUITE / "gray-failure.yaml"


def _one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message


def test_json_is_accepted_even_with_tab_indentation() -> None:
    data = yaml.safe_load(GRAY.read_text())
    text = json.dumps(data, indent="\t")
    with pytest.raises(yaml.YAMLError):  # what PyYAML alone makes of it
        yaml.safe_load(text)
    assert loads(text, "s.json") == load(GRAY)


def test_a_flow_mapping_is_still_yaml() -> None:
    text = "{name: x, duration: 9, slo: {latency: 1}, endpoints: [{capacity: 9, latency: 1}], load: [{at: 0, rate: 1}]}"
    assert loads(text, "s.yaml").name == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [", r"^s\.yaml: not valid YAML: line 1, column 8: expected the node content"),
        ("name: x\n\tduration: 1s\n", r"^s\.yaml: not valid YAML: line 2, column 1: found character '\\t'"),
        ('{"name": "x" "seed": 1}', r"^s\.yaml: not valid JSON \(line 1, column 14: .*\) nor YAML \(line 1"),
        ('{"name": "x", "name": "y"}', r"^s\.yaml: not valid JSON: the key 'name' appears twice in one object"),
        ("[" * 5000, r"^s\.yaml: nested too deeply to be a scenario"),
    ],
)
def test_broken_syntax_is_one_line_with_its_place(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as info:
        loads(text, "s.yaml")
    _one_line(str(info.value))


def test_a_repeated_key_is_an_error_not_a_silent_overwrite() -> None:
    # PyYAML keeps the second `load:` and drops the first without a word.
    text = GRAY.read_text().replace("load:", "load:\n  - {at: 0s, rate: 1}\nload:", 1)
    with pytest.raises(ScenarioError, match=r"not valid YAML: line \d+, column 1: the key 'load' appears twice"):
        loads(text, "s.yaml")


def test_encoding_problems(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + GRAY.read_bytes())
    assert load(bom) == load(GRAY)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(GRAY.read_bytes().replace(b"name: gray-failure", b"name: gr\xe9y"))
    with pytest.raises(ScenarioError, match=r"latin\.yaml: not a UTF-8 text file"):
        load(latin)
    with pytest.raises(ScenarioError, match=r"cannot read"):
        load(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\n", "scenario.duration: required field is missing"),
        (GRAY.read_text().replace("seed: 7", "seed: 7\nspeed: 3"), "scenario.speed: unknown field"),
        ("\xff\xfe", "scenario: expected a mapping"),
        ("name: [", "not valid YAML: line 1"),
    ],
)
def test_tune_scenario_names_the_problem_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text, encoding="utf-8")
    assert main(["tune", "scenario", "--scenario", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"apex tune scenario: {f}: ") and message in err and err.count("\n") == 1
