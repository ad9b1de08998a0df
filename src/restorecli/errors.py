"""Errors that reach the user, each with its own process exit code.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; the codes are
documented in the README and must stay stable because scripts branch on them.
"""

from __future__ import annotations


class RestoreError(Exception):
    """Base class: an expected failure with a one-line message for the user."""

    exit_code = 1


class InputNotFoundError(RestoreError):
    exit_code = 3


class UnsupportedInputError(RestoreError):
    """Not an image or video we can read (wrong type, unsupported codec)."""

    exit_code = 4


class CorruptInputError(RestoreError):
    """Empty, truncated or otherwise undecodable media."""

    exit_code = 5


class InputTooLargeError(RestoreError):
    """Pixel count above the configured limit (decompression-bomb guard)."""

    exit_code = 6


class OutputExistsError(RestoreError):
    """The output exists and --overwrite was not given, or it would replace the input."""

    exit_code = 7


class OutputNotWritableError(RestoreError):
    """The destination folder is missing, read-only or not a folder."""

    exit_code = 8


class WeightsError(RestoreError):
    """Weights missing, not downloadable, or failing their checksum."""

    exit_code = 9


class ModelNotAvailableError(RestoreError):
    """No weights are registered for the requested task or name."""

    exit_code = 10


class SettingError(RestoreError):
    """A setting the chosen model was not made for (e.g. a step count it was not validated at):
    refused with the reason before any file is touched."""

    exit_code = 14


class DeviceError(RestoreError):
    """The requested device or precision is not available here."""

    exit_code = 11


class OutputFormatError(RestoreError):
    """The output name asks for a format we cannot write (unknown extension)."""

    exit_code = 12


class DiskFullError(RestoreError):
    """The destination ran out of space while writing (nothing is left behind)."""

    exit_code = 13


# Exit codes not tied to an exception class.
EXIT_OK = 0
EXIT_FAILURES = 1  # batch finished but some files failed
EXIT_USAGE = 2  # bad command-line usage (Typer/Click's own code)
EXIT_INTERNAL = 70  # unexpected internal error (a bug): EX_SOFTWARE from sysexits.h
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells expect (128 + SIGINT)
EXIT_BROKEN_PIPE = 141  # stdout closed by its reader (128 + SIGPIPE)
EXIT_HANGUP = 129  # SIGHUP (terminal closed), unwound like Ctrl-C (128 + SIGHUP)
EXIT_TERMINATED = 143  # SIGTERM (kill, timeout, docker stop), unwound like Ctrl-C
