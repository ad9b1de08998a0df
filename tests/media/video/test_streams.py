"""Audio and subtitle streams: copied, re-encoded or dropped."""

from __future__ import annotations

import av

from restorecli.media.video import VideoOptions, restore_video

from .clips import RATE, assert_inverted, audio_packets, invert


def test_no_audio_drops_audio_and_subtitles(videos, tmp_path):
    dst = tmp_path / "out.mkv"
    report = restore_video(videos["opus_srt"], dst, invert, options=VideoOptions(audio=False))
    assert report.audio_copied == report.subtitles_copied == 0
    assert report.streams_dropped == 2
    with av.open(str(dst)) as container:
        assert [s.type for s in container.streams] == ["video"]


def test_subtitles_copied_when_container_allows(videos, tmp_path):
    src, dst = videos["opus_srt"], tmp_path / "out.mkv"
    report = restore_video(src, dst, invert)
    assert report.audio_copied == 1 and report.subtitles_copied == 1
    assert audio_packets(dst) == audio_packets(src)
    with av.open(str(dst)) as container:
        text = [bytes(p) for p in container.demux(container.streams.subtitles[0]) if p.size]
    assert text == [b"hello there"]


def test_audio_reencoded_when_container_refuses_codec(videos, tmp_path):
    dst = tmp_path / "out.avi"  # AVI cannot hold Opus (nor SubRip)
    report = restore_video(videos["opus_srt"], dst, invert)
    assert report.audio_reencoded == 1 and report.audio_copied == 0
    assert any("re-encoded" in note for note in report.notes)
    assert any("subtitles: dropped" in note for note in report.notes)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        samples = sum(f.samples for f in container.decode(audio=0))
    assert abs(samples / 48000 - 10 / RATE) < 0.1
    assert_inverted(videos["opus_srt"], dst)
