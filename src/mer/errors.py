"""Errors a user can act on: each names the file or key at fault and how to fix it."""


class MerError(Exception):
    """Base class; the CLI and workflow print these without a traceback."""


class DataError(MerError):
    """A dataset file is missing, malformed or inconsistent."""


class AudioError(MerError):
    """An audio file cannot be decoded or is too short to use."""


class ConfigError(MerError):
    """A value in params.yaml (or a name given on the command line) is invalid."""
