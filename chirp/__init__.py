"""chirp: a Twitter-style social backend run as one process of supervised trio actors."""

__version__ = "0.1.0"
