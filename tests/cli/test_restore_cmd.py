"""`restore TASK INPUT` and `restore batch DIR` through the real command line, fake model."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import signal
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

# tests/jobs/fakes.py (tests/ is on sys.path: see tests/conftest.py)
from jobs import fakes
from jobs.fakes import count_opens, make_video, pixels, write_png
from restorecli.cli import app
from restorecli.errors import ModelNotAvailableError
from restorecli.media.video import probe_video

TASKS = ("derain", "dehaze", "desnow", "deraindrop", "denoise", "deblur")


@dataclasses.dataclass
class FakeConfig(fakes.FakeConfig):
    """Every option the restore commands set (the jobs' fake has only those the jobs read)."""

    lam: float = 0.5
    ensemble: int = 1
    guide_radius: int = 0
    guide_eps: float = 1e-4
    strength: float = 1.0
    tile: int = 512
    tile_overlap: int = 64
    fidelity: float = 1.0
    requantize: str = "hard"
    batch_size: int = 4


class FakeRestorer(fakes.FakeRestorer):
    """The jobs' fake restorer (1 - x) with every option; ``behaviour`` "interrupt" or "sigterm":
    Ctrl-C or a SIGTERM arrives while it restores a photo."""

    def __init__(self, behaviour: str = "invert") -> None:
        super().__init__()
        self.config = FakeConfig()
        self.behaviour = behaviour

    def restore_array(self, image: np.ndarray, *, callback=None) -> np.ndarray:
        if self.behaviour == "interrupt":
            raise KeyboardInterrupt
        if self.behaviour == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        return super().restore_array(image, callback=callback)


class FakePipeline:
    """Installed as ``restorecli.pipeline``; records every from_pretrained call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.behaviour = "invert"
        self.error: Exception | None = None
        self.last: FakeRestorer | None = None
        self.on_load = None  # called with each restorer made
        pipeline = self

        class Restorer:
            @classmethod
            def from_pretrained(cls, name=None, **kwargs):
                pipeline.calls.append({"name": name, **kwargs})
                if pipeline.error is not None:
                    raise pipeline.error
                pipeline.last = FakeRestorer(pipeline.behaviour)
                if pipeline.on_load is not None:
                    pipeline.on_load(pipeline.last)
                return pipeline.last

        self.Restorer = Restorer


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePipeline:
    pipeline = FakePipeline()
    module = types.SimpleNamespace(Restorer=pipeline.Restorer)
    monkeypatch.setitem(sys.modules, "restorecli.pipeline", module)
    return pipeline


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def png_bytes(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("restore: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


# --- help ----------------------------------------------------------------------------------------


def test_help_lists_every_task_and_batch(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in (*TASKS, "batch"):
        assert name in result.stdout
    assert "Remove raindrops" in result.stdout
    sub = runner.invoke(app, ["derain", "--help"])
    assert sub.exit_code == 0
    for option in ("--init", "--weights", "--tile-overlap", "--max-pixels", "--crf", "--json"):
        assert option in sub.stdout
    assert "--skip-existing" in runner.invoke(app, ["batch", "--help"]).stdout


def test_task_and_batch_commands_share_the_run_options() -> None:
    import typer

    from restorecli.cli.restore_cmd import RunOptions

    commands = typer.main.get_command(app).commands
    auto_only = ("detector", "threshold")
    fields = [f.name for f in dataclasses.fields(RunOptions) if f.name != "sampling"]
    shared = [f for f in fields if f not in auto_only]
    for name in ("derain", "batch", "auto"):
        params = [p.name for p in commands[name].params]
        assert [p for p in params if p in shared] == shared, name
        assert all((p in params) == (name != "derain") for p in auto_only), name
    for name in ("derain", "batch"):
        params = [p.name for p in commands[name].params]
        assert params.index("suffix") == params.index("overwrite") + 1  # beside the output options


# --- single files --------------------------------------------------------------------------------


def test_restores_next_to_the_input(runner: CliRunner, fake: FakePipeline, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src)])
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "in_derain.png"
    assert np.array_equal(pixels(out), 255 - pixels(src))
    assert names(tmp_path) == ["in.png", "in_derain.png"]
    assert "restored" in result.stderr and result.stdout == ""
    assert fake.calls == [
        {"name": None, "task": "derain", "device": "auto", "precision": "fp32", "offline": None}
    ]
    assert fake.last.config == FakeConfig()  # nothing given: the model's own defaults


@pytest.mark.parametrize("task", TASKS)
def test_every_task_command_runs(runner, fake, tmp_path, task: str) -> None:
    src = write_png(tmp_path / "in.png")
    # --weights: four tasks have no registered weights, which fails before any model loads.
    result = runner.invoke(app, [task, str(src), "-q", "--weights", "m"])
    assert result.exit_code == 0 and result.stderr == ""
    assert (tmp_path / f"in_{task}.png").exists()
    assert fake.calls[0]["task"] == task


def test_options_reach_the_restorer(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    args = ["dehaze", str(src), "-o", str(tmp_path / "o.png"), "--init", "lerp", "--lam", "0.3",
            "--steps", "2", "--ensemble", "2", "--seed", "-1",
            "--guide-radius", "16", "--guide-eps", "0.01", "--strength", "0.7",
            "--tile", "0", "--tile-overlap", "8",
            "--batch-size", "3", "--weights", "my-model", "--device", "cpu",
            "--precision", "fp32", "--offline"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert fake.calls == [
        {"name": "my-model", "task": "dehaze", "device": "cpu", "precision": "fp32",
         "offline": True}
    ]  # fmt: skip
    assert fake.last.config == FakeConfig(
        init="lerp",
        lam=0.3,
        steps=2,
        ensemble=2,
        guide_radius=16,
        guide_eps=0.01,
        strength=0.7,
        seed=None,
        tile=0,
        tile_overlap=8,
        batch_size=3,
    )


def test_bad_option_values_are_usage_errors(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    for bad in (["--init", "nope"], ["--quality", "0"], ["--steps", "0"], ["--precision", "x"],
                ["--ensemble", "9"], ["--guide-radius", "-1"], ["--strength", "1.5"]):  # fmt: skip
        result = runner.invoke(app, ["derain", str(src), *bad])
        assert result.exit_code == 2, bad
    assert fake.calls == [] and names(tmp_path) == ["in.png"]


def test_suffix_output_format_and_quality(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png", size=(32, 32))
    assert runner.invoke(app, ["derain", str(src), "--suffix", ".clean", "-q"]).exit_code == 0
    assert (tmp_path / "in.clean.png").exists()
    for q in ("40", "95"):
        result = runner.invoke(app, ["derain", str(src), "-o", str(tmp_path / f"q{q}.jpg"),
                                     "--quality", q])  # fmt: skip
        assert result.exit_code == 0
        assert Image.open(tmp_path / f"q{q}.jpg").format == "JPEG"
    assert (tmp_path / "q40.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size


def test_pipe_stdin_to_stdout(runner, fake) -> None:
    data = png_bytes()
    result = runner.invoke(app, ["derain", "-", "-o", "-"], input=data)
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(pixels(result.stdout_bytes), 255 - pixels(data))
    # the input's format is kept for standard output; stdin alone implies stdout
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(data)).save(jpeg, "JPEG")
    result = runner.invoke(app, ["denoise", "-", "--weights", "m"], input=jpeg.getvalue())
    assert result.exit_code == 0
    assert Image.open(io.BytesIO(result.stdout_bytes)).format == "JPEG"


def test_stdin_to_a_file(runner, fake, tmp_path) -> None:
    result = runner.invoke(app, ["derain", "-", "-o", str(tmp_path / "o.webp")], input=png_bytes())
    assert result.exit_code == 0
    assert Image.open(tmp_path / "o.webp").format == "WEBP"


def test_json_summary_on_stdout_or_stderr_with_stdout_output(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src), "--json"])
    summary = json.loads(result.stdout)
    assert summary["status"] == "restored" and summary["output"].endswith("in_derain.png")
    assert (summary["width"], summary["height"], summary["task"]) == (10, 8, "derain")
    assert summary["config"]["init"] == "chebyshev"
    result = runner.invoke(app, ["derain", "-", "-o", "-", "--json"], input=png_bytes())
    assert result.exit_code == 0
    assert json.loads(result.stderr.splitlines()[-1])["output"] == "<stdout>"
    assert result.stdout_bytes.startswith(b"\x89PNG")  # stdout holds only the image


def png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 100).save(buf, "JPEG")
    return buf.getvalue()


BAD_INPUTS = {
    "empty.png": (b"", 5, "empty"),
    "truncated.png": (png_bytes()[:50], 5, "truncated"),
    "truncated.jpg": (jpeg_bytes()[:300], 5, "truncated"),
    "notes.png": (b"shopping list: milk, eggs\n", 4, "not an image"),
    "bomb.png": (png_header(100_000, 100_000), 6, "megapixels"),
    # A video cut short after its signature: damaged, not "not media".
    "cut.mp4": (
        b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(300),
        5,
        "truncated video",
    ),
    "cut.mkv": (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + bytes(300), 5, "truncated video"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_one_line_exit_code_no_output(runner, fake, tmp_path, name: str) -> None:
    content, code, words = BAD_INPUTS[name]
    (tmp_path / name).write_bytes(content)
    result = runner.invoke(app, ["derain", str(tmp_path / name)])
    assert result.exit_code == code
    assert words in one_error_line(result)
    assert names(tmp_path) == [name]  # no output, no temp file
    assert fake.calls == []  # refused before the model was loaded
    piped = runner.invoke(app, ["derain", "-", "-o", "-"], input=content)
    assert piped.exit_code == code and piped.stdout_bytes == b""
    one_error_line(piped)


def test_missing_input_and_pixel_limit(runner, fake, tmp_path, monkeypatch) -> None:
    result = runner.invoke(app, ["derain", str(tmp_path / "nope.png")])
    assert result.exit_code == 3 and "no such file" in one_error_line(result)
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src), "--max-pixels", "79"])
    assert result.exit_code == 6 and "--max-pixels" in one_error_line(result)
    monkeypatch.setenv("RESTORE_MAX_PIXELS", "79")
    assert runner.invoke(app, ["derain", str(src)]).exit_code == 6
    assert runner.invoke(app, ["derain", str(src), "--max-pixels", "0", "-q"]).exit_code == 0


def test_unwritable_outputs(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    regular = tmp_path / "file.txt"
    regular.write_text("x")
    for dst in (regular / "out.png", Path("/proc/out.png"), tmp_path / "missing" / "o.png"):
        result = runner.invoke(app, ["derain", str(src), "-o", str(dst)])
        assert result.exit_code == 8, dst
        one_error_line(result)
    assert names(tmp_path) == ["file.txt", "in.png"] and fake.calls == []


def test_existing_output_needs_overwrite(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    out = write_png(tmp_path / "in_derain.png", seed=5)
    before = out.read_bytes()
    result = runner.invoke(app, ["derain", str(src)])
    assert result.exit_code == 7 and "--overwrite" in one_error_line(result)
    assert out.read_bytes() == before and fake.calls == []
    assert runner.invoke(app, ["derain", str(src), "--overwrite"]).exit_code == 0
    assert np.array_equal(pixels(out), 255 - pixels(src))


def test_never_writes_over_the_input(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    before = src.read_bytes()
    for args in (["-o", str(src), "--overwrite"], ["-o", str(tmp_path / "." / "in.png")]):
        result = runner.invoke(app, ["derain", str(src), *args])
        assert result.exit_code == 7 and "input" in one_error_line(result)
    assert src.read_bytes() == before and names(tmp_path) == ["in.png"]


def test_output_extension_must_name_a_format(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src), "-o", str(tmp_path / "out.gif")])
    assert result.exit_code == 12 and ".gif" in one_error_line(result)


def test_model_not_available(runner, fake, tmp_path) -> None:
    fake.error = ModelNotAvailableError("no model for task 'desnow' (models exist for: derain)")
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["desnow", str(src)])
    assert result.exit_code == 10
    assert "derain" in one_error_line(result)
    assert names(tmp_path) == ["in.png"]


def test_ctrl_c_exits_130_and_leaves_no_file(runner, fake, tmp_path) -> None:
    fake.behaviour = "interrupt"
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src)])
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert names(tmp_path) == ["in.png"]


def test_sigterm_unwinds_like_ctrl_c_and_leaves_no_file(fake, tmp_path, capsys) -> None:
    from restorecli.cli import main

    fake.behaviour = "sigterm"
    src = write_png(tmp_path / "in.png")
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as caught:
        main(["derain", str(src)])
    assert caught.value.code == 128 + signal.SIGTERM
    assert "terminated by SIGTERM" in capsys.readouterr().err
    assert names(tmp_path) == ["in.png"]  # the temporary output was removed
    assert signal.getsignal(signal.SIGTERM) is before  # main put the handler back


def test_debug_shows_the_traceback(runner, fake, tmp_path) -> None:
    (tmp_path / "e.png").write_bytes(b"")
    result = runner.invoke(app, ["derain", str(tmp_path / "e.png"), "--debug"])
    assert type(result.exception).__name__ == "CorruptInputError"
    result = runner.invoke(app, ["--debug", "derain", str(tmp_path / "e.png")])
    assert type(result.exception).__name__ == "CorruptInputError"


def test_video_file_and_video_on_stdin(runner, fake, tmp_path) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=4)
    result = runner.invoke(app, ["derain", str(src), "--json", "--crf", "30", "--no-audio"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["kind"], summary["frames"]) == ("video", 4)
    info = probe_video(tmp_path / "clip_derain.mp4", count_frames=True)
    assert (info.frames, info.width, info.height) == (4, 32, 24)
    result = runner.invoke(app, ["derain", "-", "-o", str(tmp_path / "o.mkv")],
                           input=src.read_bytes())  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert probe_video(tmp_path / "o.mkv", count_frames=True).frames == 4
    result = runner.invoke(app, ["derain", str(src), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 12
    assert names(tmp_path) == ["clip.mp4", "clip_derain.mp4", "o.mkv"]


def test_a_video_is_opened_once(runner, fake, tmp_path, monkeypatch) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=4)
    opened = count_opens(monkeypatch)
    result = runner.invoke(app, ["derain", str(src), "-q"])
    assert result.exit_code == 0, result.stderr
    assert opened == [str(src)]  # kind, checks, first frame and the restore: one container
    opened.clear()
    result = runner.invoke(app, ["derain", "-", "-o", str(tmp_path / "o.mkv"), "-q"],
                           input=src.read_bytes())  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert len(opened) == 1  # the spooled copy of standard input


# --- batch ---------------------------------------------------------------------------------------


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    write_png(root / "a.png", 1)
    write_png(root / "sub" / "b.png", 2)
    (root / "readme.txt").write_text("not media")
    (root / "corrupt.jpg").write_bytes(jpeg_bytes()[:200])
    return root


def test_batch_reports_failures_and_writes_the_rest(runner, fake, photos, tmp_path) -> None:
    out = tmp_path / "clean"
    result = runner.invoke(app, ["batch", str(photos), "--task", "derain", "-o", str(out), "-r"])
    assert result.exit_code == 1
    assert np.array_equal(pixels(out / "a.png"), 255 - pixels(photos / "a.png"))
    assert (out / "sub" / "b.png").exists()
    assert not (out / "corrupt.jpg").exists() and not (out / "readme.txt").exists()
    assert "readme.txt" in result.stderr and "failed" in result.stderr
    assert "2 restored" in result.stderr
    assert len(fake.calls) == 1  # the model is loaded once for the whole batch
    quiet = runner.invoke(app, ["batch", str(photos), "-t", "derain", "-o", str(out), "-q",
                                "--skip-existing"])  # fmt: skip
    assert quiet.exit_code == 1
    assert one_error_line(quiet).startswith(f"restore: error: {photos / 'corrupt.jpg'}")


def test_batch_default_output_is_a_sibling_and_json(runner, fake, photos, tmp_path) -> None:
    (photos / "corrupt.jpg").unlink()
    result = runner.invoke(app, ["batch", str(photos), "-t", "dehaze", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == str(tmp_path / "photos_dehaze")
    assert report["counts"] == {"restored": 1, "kept": 0, "skipped": 0, "ignored": 1, "failed": 0}
    assert names(tmp_path / "photos_dehaze") == ["a.png"]  # not recursive: sub/ left out
    assert "photos_dehaze" not in names(photos)


def test_batch_skip_existing_resumes(runner, fake, photos, tmp_path) -> None:
    out = tmp_path / "o"
    args = ["batch", str(photos), "-t", "derain", "-o", str(out), "-r", "-q"]
    runner.invoke(app, args)
    (out / "a.png").write_bytes(b"kept")  # pretend: from an earlier run
    (out / "sub" / "b.png").unlink()  # pretend: never done
    (photos / "corrupt.jpg").unlink()
    result = runner.invoke(app, [*args, "--skip-existing", "--json"])
    assert result.exit_code == 0
    statuses = {Path(f["input"]).name: f["status"] for f in json.loads(result.stdout)["files"]}
    assert statuses == {"a.png": "skipped", "b.png": "restored", "readme.txt": "ignored"}
    assert (out / "a.png").read_bytes() == b"kept" and (out / "sub" / "b.png").exists()
    result = runner.invoke(app, args)  # neither flag: existing outputs are failures
    assert result.exit_code == 1 and (out / "a.png").read_bytes() == b"kept"


def test_batch_refusals(runner, fake, photos, tmp_path) -> None:
    result = runner.invoke(app, ["batch", str(photos), "-t", "derain", "-o", str(photos)])
    assert result.exit_code == 7 and "input folder" in one_error_line(result)
    result = runner.invoke(app, ["batch", str(tmp_path / "nope"), "-t", "derain"])
    assert result.exit_code == 3
    one_error_line(result)
    assert runner.invoke(app, ["batch", str(photos)]).exit_code == 2  # --task is required
    assert fake.calls == []


# --- end to end with the real pipeline and tiny random weights ----------------------------------


def test_end_to_end_with_tiny_weights(runner, tiny_weights: Path, tmp_path: Path) -> None:
    src = write_png(tmp_path / "in.png", size=(20, 24))
    gray16 = tmp_path / "g16.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 65536, (12, 10), dtype=np.uint16)).save(
        gray16
    )
    # --init zq keeps this test about the command line (the Chebyshev path is the pipeline's).
    common = ["--weights", str(tiny_weights), "--device", "cpu", "--steps", "2", "--init", "zq"]
    common.append("-q")
    result = runner.invoke(app, ["derain", str(src), "-o", str(tmp_path / "a.png"), *common])
    assert result.exit_code == 0, result.stderr
    a = Image.open(tmp_path / "a.png")
    assert (a.size, a.mode) == ((24, 20), "RGB")
    result = runner.invoke(app, ["denoise", str(gray16), *common])
    assert result.exit_code == 0, result.stderr
    out = Image.open(tmp_path / "g16_denoise.png")
    assert (out.size, out.mode) == ((10, 12), "I;16")
    result = runner.invoke(app, ["derain", str(src), "--tile", "32", *common])
    assert result.exit_code == 2  # inconsistent sampling options are usage errors
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    result = runner.invoke(app, ["derain", str(clip), "--batch-size", "2", *common])
    assert result.exit_code == 0, result.stderr
    info = probe_video(tmp_path / "clip_derain.mp4", count_frames=True)
    assert (info.frames, info.width, info.height) == (3, 32, 24)


def test_fidelity_and_requantize_reach_the_restorer(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    args = ["derain", str(src), "-q", "--fidelity", "0.25", "--requantize", "vr"]
    assert runner.invoke(app, args).exit_code == 0
    assert (fake.last.config.fidelity, fake.last.config.requantize) == (0.25, "vr")
    for bad in (["--fidelity", "1.5"], ["--requantize", "soft"]):
        assert runner.invoke(app, ["derain", str(src), *bad]).exit_code == 2, bad


def test_every_declared_option_is_a_flag_of_the_restore_commands(runner) -> None:
    from restorecli.config import declared, flag

    for command in ("derain", "batch"):
        text = runner.invoke(app, [command, "--help"], terminal_width=200).stdout
        for f, opt in declared():
            assert (flag(f.name) in text) == opt.cli, (command, f.name)


def test_a_setting_the_model_refuses_is_a_one_line_usage_error(runner, fake, tmp_path) -> None:
    from restorecli.errors import SettingError

    def refuse(given=()):
        if "steps" in given:
            raise SettingError("--steps 4: m was validated at 1 step(s) only")

    src = write_png(tmp_path / "in.png")
    fake.on_load = lambda r: setattr(r, "check_config", refuse)
    result = runner.invoke(app, ["derain", str(src), "--steps", "4"])
    assert result.exit_code == 14
    assert "restore: error: --steps 4: m was validated at 1 step(s) only" in result.stderr
    assert names(tmp_path) == ["in.png"]


def test_json_summary_of_a_failed_file(runner, fake, tmp_path) -> None:
    missing = tmp_path / "nope.png"
    result = runner.invoke(app, ["derain", str(missing), "--json"])
    assert result.exit_code == 3
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and summary["exit_code"] == 3
    assert summary["input"] == str(missing) and "nope.png" in summary["message"]
    assert "restore: error:" in result.stderr  # the one-line error as always


def test_a_model_of_another_task_is_named_in_a_note(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")

    def other(r):
        r.task, r.name = "dehaze", "dehaze-cheb"

    fake.on_load = other
    result = runner.invoke(app, ["derain", str(src), "--weights", "dehaze-cheb"])
    assert result.exit_code == 0
    assert "dehaze-cheb was trained for dehaze, not derain" in " ".join(result.stderr.split())
    fake.on_load = None
    quiet = runner.invoke(app, ["derain", str(src), "-o", str(tmp_path / "b.png")])
    assert "trained for" not in quiet.stderr


def test_threads_set_torchs_cpu_threads(runner, fake, tmp_path, monkeypatch) -> None:
    import torch

    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    src = write_png(tmp_path / "in.png")
    assert runner.invoke(app, ["derain", str(src), "-q", "--threads", "1"]).exit_code == 0
    assert seen == [1]
    monkeypatch.setenv("RESTORE_THREADS", "2")
    out = str(tmp_path / "b.png")
    assert runner.invoke(app, ["derain", str(src), "-q", "-o", out]).exit_code == 0
    assert seen == [1, 2]
    assert runner.invoke(app, ["derain", str(src), "--threads", "0"]).exit_code == 2


def test_a_png_bomb_with_the_pixel_limit_off_is_refused_for_memory(runner, fake, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(100_000, 100_000))
    result = runner.invoke(app, ["derain", str(bomb), "--max-pixels", "0"])
    assert result.exit_code == 6
    assert "GiB of memory" in result.stderr and fake.calls == []


def test_output_to_dev_null_is_written_as_a_stream(runner, fake, tmp_path) -> None:
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["derain", str(src), "-o", os.devnull, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["output"] == os.devnull
    assert names(tmp_path) == ["in.png"]


# --- restore auto, batch --task auto ------------------------------------------------------------


def test_auto_keeps_a_photo_it_judges_clean(runner, fake, tmp_path, detector_file) -> None:
    src = tmp_path / "in.jpg"
    Image.fromarray(np.full((12, 10, 3), 90, np.uint8)).save(src, quality=70)
    det = detector_file({"derain": 0.3})
    result = runner.invoke(app, ["auto", str(src), "--detector", str(det)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "in_auto.jpg"
    assert out.read_bytes() == src.read_bytes()  # untouched, byte for byte
    assert "judged clean (highest: derain 0.30)" in result.stderr
    assert fake.calls == []  # no restore model was loaded


def test_auto_runs_what_it_detects_in_order(
    runner, fake, tmp_path, detector_file, monkeypatch
) -> None:
    from restorecli.cli import restore_cmd

    monkeypatch.setattr(restore_cmd, "_tasks_with_weights", lambda: None)  # every task has one
    src = write_png(tmp_path / "in.png")
    det = detector_file({"dehaze": 0.9, "denoise": 0.7})
    result = runner.invoke(
        app, ["auto", str(src), "-o", str(tmp_path / "o.png"), "--detector", str(det), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["task"] == "auto" and summary["status"] == "restored"
    assert summary["tasks"] == ["denoise", "dehaze"]
    assert summary["scores"]["dehaze"] == pytest.approx(0.9, abs=1e-3)
    assert [c["task"] for c in fake.calls] == ["denoise", "dehaze"]
    # Each fake model inverts: two of them give the photo back.
    assert np.array_equal(pixels(tmp_path / "o.png"), pixels(src))
    raised = runner.invoke(
        app, ["auto", str(src), "-o", str(tmp_path / "p.png"), "--detector", str(det),
              "--threshold", "0.8"],
    )  # fmt: skip
    assert raised.exit_code == 0 and np.array_equal(pixels(tmp_path / "p.png"), 255 - pixels(src))


def test_auto_refuses_weights_and_pipes(runner, fake, tmp_path, detector_file) -> None:
    src = write_png(tmp_path / "in.png")
    result = runner.invoke(app, ["auto", str(src), "--weights", "derain-cheb"])
    assert result.exit_code == 2 and "auto runs each task's own model" in result.stderr
    det = detector_file({})
    piped = runner.invoke(app, ["auto", "-", "--detector", str(det)], input=png_bytes())
    assert piped.exit_code == 0 and piped.stdout_bytes == png_bytes()


def test_batch_auto_decides_per_file(runner, fake, tmp_path, detector_file) -> None:
    folder = tmp_path / "in"
    write_png(folder / "a.png")
    write_png(folder / "b.png", seed=1)
    det = detector_file({})
    result = runner.invoke(
        app, ["batch", str(folder), "--task", "auto", "--detector", str(det), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [r["status"] for r in report["files"]] == ["kept", "kept"]
    assert all(r["tasks"] == [] for r in report["files"]) and report["counts"]["kept"] == 2
    out = tmp_path / "in_auto"
    assert (out / "a.png").read_bytes() == (folder / "a.png").read_bytes()
    wrong = runner.invoke(app, ["batch", str(folder), "--task", "derain", "--detector", str(det)])
    assert wrong.exit_code == 2 and "only --task auto uses a detector" in wrong.stderr
