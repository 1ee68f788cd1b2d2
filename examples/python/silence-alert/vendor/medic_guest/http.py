"""One HTTP request, or a TCP connect check, through the host's ``http`` capability.

The host checks method, scheme, host, port and path against the manifest, follows no
redirects and caps the response body::

    from medic_guest import http, Denied, MedicError

    def healthy(url: str) -> bool:
        try:
            return http.get(url).status == 200
        except Denied:
            raise
        except MedicError:
            return False               # not reaching the server means unhealthy
"""

from dataclasses import dataclass, field

from . import _host


@dataclass
class Response:
    """A response, its body cut at the host's cap."""

    status: int
    headers: list = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False

    @property
    def text(self) -> str:
        """The body as text, invalid UTF-8 replaced."""
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        """The first header named ``name``, case-insensitively."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def send(method: str, url: str, headers: list | None = None, body: bytes = b"") -> Response:
    """Send one request; ``headers`` are (name, value) pairs."""

    def go():
        request = _host.http.Request(
            method=method, url=url, headers=list(headers or []), body=bytes(body)
        )
        return _host.http.send(request)

    response = _host.call("http.send", go)
    return Response(
        status=response.status,
        headers=list(response.headers),
        body=bytes(response.body),
        truncated=response.truncated,
    )


def get(url: str) -> Response:
    """``GET url``."""
    return send("GET", url)


def post(url: str, body: bytes = b"", headers: list | None = None) -> Response:
    """``POST url`` with ``body``."""
    return send("POST", url, headers, body)


def delete(url: str) -> Response:
    """``DELETE url``."""
    return send("DELETE", url)


def connect(host: str, port: int) -> float:
    """Open a TCP connection to ``host:port`` and close it; seconds the connect took.

    Needs an http grant with method ``CONNECT`` and a ``tcp://host:port`` URL.
    """
    millis = _host.call("http.connect", lambda: _host.http.connect(host, port))
    return millis / 1000.0
