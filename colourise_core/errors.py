"""Exceptions with messages meant for people: each names the file or value and the problem."""


class ColouriseError(ValueError):
    """Base class of every error the library raises on bad input."""


class ImageError(ColouriseError):
    """An image that cannot be read or is unsafe to decode."""


class ArchiveError(ColouriseError):
    """A dataset archive or folder that is unsafe, corrupt or holds no images."""


class DatasetError(ColouriseError):
    """A dataset request that cannot be served (unknown name, class, split...)."""


class WeightsError(ColouriseError):
    """Weights that are missing, corrupt, tampered with, or for another architecture."""


class HintsError(ColouriseError):
    """A colour-hints file or object that is malformed or does not fit the image."""
