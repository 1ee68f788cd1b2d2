"""Files under the manifest's granted roots, through the host's ``fs`` capability.

Paths are absolute host paths. Symlinks and ``..`` are refused, never followed; a
read-only grant refuses every change, and so does the host while ``plan`` runs.
Python's own ``open()`` reaches nothing in the sandbox: use these.
"""

from dataclasses import dataclass

from . import _host


@dataclass
class Entry:
    """A directory entry or a file's metadata."""

    name: str
    is_dir: bool
    is_symlink: bool
    size: int
    modified: int


def _entry(wit) -> Entry:
    return Entry(wit.name, wit.is_dir, wit.is_symlink, wit.size, wit.modified)


def read(path: str) -> bytes:
    """A whole file."""
    return bytes(_host.call("fs.read", lambda: _host.fs.read(path)))


def read_text(path: str) -> str:
    """A whole file as UTF-8 text."""
    return read(path).decode("utf-8")


def write(path: str, data: bytes | str) -> None:
    """Create or replace a file (needs a read-write grant)."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    _host.call("fs.write", lambda: _host.fs.write(path, payload))


def list_dir(path: str) -> list[Entry]:
    """The entries of a directory, in no particular order."""
    return [_entry(entry) for entry in _host.call("fs.list_dir", lambda: _host.fs.list_dir(path))]


def metadata(path: str) -> Entry:
    """A file's metadata, without following a final symlink."""
    return _entry(_host.call("fs.metadata", lambda: _host.fs.metadata(path)))


def create_dir(path: str) -> None:
    """Create a directory and its missing parents (needs a read-write grant)."""
    _host.call("fs.create_dir", lambda: _host.fs.create_dir(path))


def rename(src: str, dst: str) -> None:
    """Move a file within the read-write grants of one root."""
    _host.call("fs.rename", lambda: _host.fs.rename(src, dst))


def remove_file(path: str) -> None:
    """Delete a file (needs a read-write grant)."""
    _host.call("fs.remove_file", lambda: _host.fs.remove_file(path))
