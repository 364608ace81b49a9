"""The exceptions hfkit raises: one class per family of C API status codes.

Every exception carries ``.status`` (the negative ``hfk_status`` code), ``.status_name``
(``"HFK_E_NOT_FOUND"``) and the library's message (``str(e)``). The mapping below covers every
code of ``hfkit.h``; a code this package does not know yet becomes a plain :class:`HfkitError`.
"""

from __future__ import annotations

from typing import Dict, Type


class HfkitError(Exception):
    """Base class of every error reported by the hfkit library.

    Attributes:
        status: the C API status code (a negative int, e.g. -6).
        status_name: its name, e.g. ``"HFK_E_NOT_FOUND"``.
        message: the library's detail message.
    """

    status: int
    status_name: str
    message: str

    def __init__(self, message: str = "", status: int = -99, status_name: str = "HFK_E_INTERNAL"):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = status_name

    def __str__(self) -> str:
        return f"{self.message} [{self.status_name}]" if self.message else self.status_name

    def __reduce__(self):  # keep status through pickling (multiprocessing, concurrent.futures)
        return (type(self), (self.message, self.status, self.status_name))


class InvalidArgumentError(HfkitError, ValueError):
    """An argument or option is out of range (HFK_E_INVALID_ARG)."""


class OutOfMemoryError(HfkitError, MemoryError):
    """An allocation failed (HFK_E_NOMEM)."""


class HfkitIOError(HfkitError, OSError):
    """A local file could not be read or written (HFK_E_IO, HFK_E_NO_SPACE)."""


class NotFoundError(HfkitError, FileNotFoundError):
    """A repository, local path, revision, file or cache entry does not exist (HFK_E_NOT_FOUND,
    HFK_E_REVISION_NOT_FOUND, HFK_E_ENTRY_NOT_FOUND, HFK_E_OFFLINE)."""


class NetworkError(HfkitError, ConnectionError):
    """The Hub could not be reached, or kept failing (HFK_E_NETWORK, HFK_E_RATE_LIMITED,
    HFK_E_SERVER)."""


class AuthError(HfkitError, PermissionError):
    """The token is missing, invalid or lacks access (HFK_E_AUTH, HFK_E_DISABLED)."""


class GatedRepoError(AuthError):
    """The repository is gated: accept its conditions on the Hub first (HFK_E_GATED)."""


class ChecksumError(HfkitError):
    """Downloaded bytes do not match their ETag / sha256 (HFK_E_CHECKSUM)."""


class FormatError(HfkitError):
    """A malformed config.json, safetensors or tokenizer file (HFK_E_FORMAT)."""


class UnsupportedError(HfkitError):
    """An architecture, tokenizer component, dtype or operation hfkit does not support
    (HFK_E_UNSUPPORTED)."""


class ContextFullError(HfkitError):
    """The prompt does not fit in the context (HFK_E_CONTEXT_FULL)."""


class CancelledError(HfkitError):
    """The call was cancelled: Session.cancel(), or a progress callback returned True
    (HFK_E_CANCELLED)."""


class StateError(HfkitError, RuntimeError):
    """The handle cannot do that now (HFK_E_STATE, HFK_E_BUSY, HFK_E_REENTRANT, HFK_E_IN_USE)."""


class ResourceError(HfkitError):
    """The model is estimated not to fit in memory or disk (HFK_E_RESOURCE)."""


class CallbackError(HfkitError):
    """A callback failed (HFK_E_CALLBACK)."""


class NumericError(HfkitError, ArithmeticError):
    """The model produced NaN or infinite values (HFK_E_NUMERIC)."""


class BufferTooSmallError(HfkitError):
    """A buffer was too small (HFK_E_BUFFER_TOO_SMALL); the binding sizes buffers itself, so
    seeing this is a bug."""


class InternalError(HfkitError):
    """A bug in hfkit (HFK_E_INTERNAL): please report it."""


# Every status code of hfkit.h -> its exception class. Codes are only ever appended in C; an
# unknown negative code maps to HfkitError.
STATUS_CLASSES: Dict[int, Type[HfkitError]] = {
    -1: InvalidArgumentError,  # HFK_E_INVALID_ARG
    -2: OutOfMemoryError,  # HFK_E_NOMEM
    -3: HfkitIOError,  # HFK_E_IO
    -4: NetworkError,  # HFK_E_NETWORK
    -5: AuthError,  # HFK_E_AUTH
    -6: NotFoundError,  # HFK_E_NOT_FOUND
    -7: ChecksumError,  # HFK_E_CHECKSUM
    -8: UnsupportedError,  # HFK_E_UNSUPPORTED
    -9: FormatError,  # HFK_E_FORMAT
    -10: ContextFullError,  # HFK_E_CONTEXT_FULL
    -11: CancelledError,  # HFK_E_CANCELLED
    -12: StateError,  # HFK_E_REENTRANT
    -13: StateError,  # HFK_E_STATE
    -14: StateError,  # HFK_E_BUSY
    -15: GatedRepoError,  # HFK_E_GATED
    -16: NotFoundError,  # HFK_E_REVISION_NOT_FOUND
    -17: NotFoundError,  # HFK_E_ENTRY_NOT_FOUND
    -18: AuthError,  # HFK_E_DISABLED
    -19: NetworkError,  # HFK_E_RATE_LIMITED
    -20: NetworkError,  # HFK_E_SERVER
    -21: NotFoundError,  # HFK_E_OFFLINE
    -22: HfkitIOError,  # HFK_E_NO_SPACE
    -23: ResourceError,  # HFK_E_RESOURCE
    -24: CallbackError,  # HFK_E_CALLBACK
    -25: NumericError,  # HFK_E_NUMERIC
    -26: StateError,  # HFK_E_IN_USE
    -27: BufferTooSmallError,  # HFK_E_BUFFER_TOO_SMALL
    -99: InternalError,  # HFK_E_INTERNAL
}


def _from_status(status: int, status_name: str, message: str) -> HfkitError:
    """Builds the exception for a failed C call (called by the _hfkit extension)."""
    cls = STATUS_CLASSES.get(status, HfkitError)
    return cls(message, status, status_name)
