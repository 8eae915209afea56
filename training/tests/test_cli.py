import ast
import importlib
import importlib.util
import subprocess
import sys

import pytest

from training.common.cli import dispatch


@pytest.mark.parametrize("package", ["mfcd", "caption", "trackclass"])
def test_every_model_command_imports_and_has_a_main(package):
    commands = importlib.import_module(f"training.{package}.__main__").COMMANDS
    assert commands
    for name, (module, summary) in commands.items():
        assert summary, name
        assert callable(importlib.import_module(module).main), module


def test_every_fixture_generator_has_a_main():
    # Parsed, not imported: several import diffusers/transformers, which takes longer than all other tests.
    commands = importlib.import_module("training.fixtures.__main__").COMMANDS
    assert len(commands) >= 13
    for name, (module, _) in commands.items():
        tree = ast.parse(open(importlib.util.find_spec(module).origin).read())
        mains = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"]
        assert mains and [a.arg for a in mains[0].args.args] == ["argv", "prog"], name


def test_entry_point_lists_its_commands():
    run = subprocess.run([sys.executable, "-m", "training.fixtures"], capture_output=True, text=True)
    assert run.returncode == 2  # no command given: the list, as usage
    for name in ("mfcd-tiny", "scene-clip", "tiny-sd", "ssim", "steppred-tiny", "thumbnail-refs"):
        assert f"  {name} " in run.stdout


@pytest.mark.parametrize("module", ["training.thumbnail.model", "training.steppredictor.model"])
def test_subcommand_entry_points_parse(module, capsys):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"], prog="python -m x")
    assert e.value.code == 0
    assert "usage: python -m x train" in capsys.readouterr().out


def test_dispatch_unknown_and_help(capsys):
    commands = {"ssim": ("training.fixtures.ssim", "x")}
    assert dispatch("prog", "doc", commands, ["nope"]) == 2
    assert dispatch("prog", "doc", commands, []) == 2
    with pytest.raises(SystemExit) as e:
        dispatch("prog", "doc", commands, ["ssim", "--help"])
    assert e.value.code == 0
    assert "usage: prog ssim" in capsys.readouterr().out
