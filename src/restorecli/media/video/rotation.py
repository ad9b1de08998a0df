"""Rotation: read from the display matrix (or legacy ``rotate`` tag) and carried to the output.

Frames are restored in their stored orientation; only the metadata that tells players how to
turn them is copied, so nothing is resampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from av.sidedata.sidedata import Type as _SideDataType


def display_matrix(frame: Any) -> tuple[int, ...] | None:
    """The frame's 3x3 display matrix (9 int32, FFmpeg layout) or None."""
    for side in frame.side_data:
        if side.type == _SideDataType.DISPLAYMATRIX:
            values = np.frombuffer(bytes(side), dtype=np.int32)
            if values.size == 9:
                return tuple(int(v) for v in values)
    return None


def rotate_tag(stream: Any) -> int | None:
    """Legacy clockwise ``rotate`` tag, as a counter-clockwise angle."""
    try:
        return -int(float(stream.metadata["rotate"]))
    except (KeyError, ValueError):
        return None


def frame_rotation(stream: Any, frame: Any) -> int:
    """Counter-clockwise degrees as players apply them: display matrix, else rotate tag, else 0."""
    if display_matrix(frame) is not None:
        return int(frame.rotation)
    return rotate_tag(stream) or 0


def carry_rotation(video_out: Any, video: Any, first_frame: Any) -> int:
    """Copy the display matrix (or legacy rotate tag) to ``video_out``; return the degrees."""
    matrix = display_matrix(first_frame)
    if matrix is not None:
        video_out.set_display_matrix(matrix)
    elif (legacy := rotate_tag(video)) is not None:
        video_out.set_display_rotation(legacy)
    return frame_rotation(video, first_frame)
