"""Parallax's errors: one family, each message naming the cause and the fix.

Catch :class:`ParallaxError` where "any Parallax error" is meant; the command line prints its
message and exits with code 2 (something the user can fix: input, settings, files, a server),
whatever the subclass. Exit code 1 is kept for a check that ran and found a problem
(``parallax models check``, ``eval-detector`` below its targets).

::

    ParallaxError
    ├── ConfigError          settings: the TOML file, an environment variable, an option
    ├── ManifestError        the model manifest (models/models.toml)
    │   └── UnknownModelError    a model id the manifest does not have (also a KeyError)
    ├── ModelFileError       a model's file is missing, corrupt or not the pinned one
    ├── PromptError          a prompt profile or completion template
    ├── BackendError         a model could not be loaded, or failed while answering
    └── StorageError         the database refuses a write (disk full, locked, read-only)

Each class keeps the built-in base it had (ValueError, RuntimeError, KeyError), so code that
caught those still does. The Telegram front end's own conditions (a chat that is gone, a job
that does not unseal) stay in that front end.
"""

from __future__ import annotations


class ParallaxError(Exception):
    """Any error Parallax reports to its user."""


class ConfigError(ParallaxError, ValueError):
    """A setting is invalid: the message names the setting, where it came from, and why."""


class ManifestError(ParallaxError, ValueError):
    """The model manifest is invalid or missing: the message names the entry and the fix."""


class UnknownModelError(ManifestError, KeyError):
    """A model id that the manifest does not have."""

    def __init__(self, model_id: str, known: list[str]) -> None:
        super().__init__(model_id)
        self.model_id = model_id
        self.known = known

    def __str__(self) -> str:  # KeyError would print the id alone, quoted
        return f"unknown model {self.model_id!r}; known models: {', '.join(self.known)}"


class ModelFileError(ParallaxError, RuntimeError):
    """A model file is missing, corrupt or unpinned; the message names the file and the fix."""


class PromptError(ParallaxError, ValueError):
    """A prompt profile or template is missing or invalid."""


class BackendError(ParallaxError, RuntimeError):
    """The model could not be loaded or failed while generating."""


class StorageError(ParallaxError):
    """The database cannot take a write (locked by another process, disk full, read-only):
    nothing was run, and the message names the cause and the fix."""
