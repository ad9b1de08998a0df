"""The `restore` entry point: exit codes, one-line errors, --debug, --version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import restorecli
from restorecli import errors
from restorecli.cli import app, main


def run_main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code or 0


def test_every_error_class_has_its_own_documented_code() -> None:
    base = errors.RestoreError
    found = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, base)]
    classes = [c for c in found if c is not base]
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes)
    reserved = {errors.EXIT_OK, errors.EXIT_FAILURES, errors.EXIT_USAGE, errors.EXIT_INTERNAL,
                errors.EXIT_INTERRUPTED}  # fmt: skip
    assert not reserved & set(codes)
    table = sys.modules["restorecli.cli"].__doc__
    for c in classes:
        assert f"{c.exit_code:<4}  {c.__name__}" in table, c.__name__


def test_version(capsys) -> None:
    assert run_main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"restore {restorecli.__version__}"


def test_user_error_is_one_line(capsys, tmp_path: Path) -> None:
    assert run_main(["derain", str(tmp_path / "missing.png")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("restore: error: ")


def test_usage_errors_exit_2(capsys) -> None:
    assert run_main(["no-such-command"]) == 2
    assert run_main(["derain"]) == 2  # missing INPUT


def boom(*args, **kwargs):
    raise RuntimeError("something unexpected\nover two lines")


def test_internal_error_is_70_with_a_hint(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setattr("restorecli.cli.restore_cmd.restore_one", boom)
    assert run_main(["derain", str(tmp_path / "x.png")]) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError" in err and "--debug" in err


def test_debug_lets_the_traceback_through(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr("restorecli.cli.restore_cmd.restore_one", boom)
    with pytest.raises(RuntimeError):
        main(["--debug", "derain", str(tmp_path / "x.png")])
    monkeypatch.setenv("RESTORE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["derain", str(tmp_path / "x.png")])


def test_keyboard_interrupt_exits_130(monkeypatch, capsys, tmp_path: Path) -> None:
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("restorecli.cli.restore_cmd.restore_one", interrupted)
    assert run_main(["derain", str(tmp_path / "x.png")]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_real_process_exit_code_and_stderr(tmp_path: Path) -> None:
    """`python -m restorecli`: what a shell script sees."""
    src = Path(restorecli.__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("RESTORE_DEBUG", None)
    (tmp_path / "notes.png").write_text("text")
    proc = subprocess.run(
        [sys.executable, "-m", "restorecli", "derain", "notes.png"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 4
    assert proc.stderr == "restore: error: notes.png: not an image or video we can read\n"
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.png"]


def test_app_keeps_the_other_command_groups() -> None:
    import typer

    names = {c.name for c in typer.main.get_command(app).commands.values()}
    assert {"derain", "batch", "models"} <= names


def test_a_usage_error_is_one_line_with_where_to_look(capsys) -> None:
    assert run_main(["derain", "x.png", "--steps", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("restore: error: Invalid value for '--steps'")
    assert err.endswith("(see 'restore derain --help')")
    assert run_main(["derain", "--no-such-flag"]) == 2
    assert capsys.readouterr().err.startswith("restore: error: No such option: --no-such-flag")


def test_a_task_without_weights_says_so_without_loading_torch(tmp_path) -> None:
    import subprocess

    code = (
        "import sys\n"
        "from restorecli.cli import main\n"
        "try:\n"
        "    main(['deblur', sys.argv[1]])\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, 'torch' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RESTORE_WEIGHTS_TOML"}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.png")], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.split() == ["10", "False"]
    assert "no weights are registered for task 'deblur'" in out.stderr


def test_a_photo_is_read_without_loading_pyav_or_opencv(tmp_path) -> None:
    import subprocess

    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    code = (
        "import sys\n"
        "import restorecli.cli\n"
        "from restorecli.jobs.inputs import open_input\n"
        "open_input(sys.argv[1])\n"
        "print(sorted(m for m in ('av', 'cv2', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.png")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


def test_tasks_without_weights_are_marked_in_the_help() -> None:
    import typer

    commands = typer.main.get_command(sys.modules["restorecli.cli"].app).commands
    assert commands["deblur"].short_help.endswith("(no weights yet: needs --weights)")
    assert "no weights" not in commands["derain"].short_help


def test_help_shows_no_bool_or_str_tags():
    """Flags take no value and text values show what they name: no <bool>/<str> noise."""
    import typer
    from typer.testing import CliRunner

    root = typer.main.get_command(app)
    paths = [[]]
    for name, command in root.commands.items():
        paths.append([name])
        paths += [[name, sub] for sub in getattr(command, "commands", {})]
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert "<bool>" not in result.stdout and "<str>" not in result.stdout, path
    shown = CliRunner().invoke(app, ["derain", "--help"], terminal_width=200).stdout
    assert "DEVICE" in shown and "<int" in shown  # typed values keep their tags
