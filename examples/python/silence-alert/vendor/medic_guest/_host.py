"""The bindings componentize-py generates from medic's WIT, when there are any.

Inside the component ``wit_world`` exists and every call goes to medic; in plain Python
it does not, and :func:`call` raises :class:`NotInSandbox`.
"""

from .errors import Denied, Failed, InvalidInput, NotFound, NotInSandbox

try:
    from componentize_py_types import Err
    from wit_world.imports import checkpoint, env, exec, fs, http, log, types

    IN_SANDBOX = True
except ImportError:  # plain Python: no host
    Err = None
    checkpoint = env = exec = fs = http = log = types = None
    IN_SANDBOX = False


def host_error_kinds() -> dict:
    """Each WIT ``host-error`` case's class, to the SDK exception it becomes."""
    return {
        types.HostError_Denied: Denied,
        types.HostError_NotFound: NotFound,
        types.HostError_Failed: Failed,
        types.HostError_InvalidInput: InvalidInput,
    }


def error_of(host_error, kinds: dict) -> Exception:
    """The SDK exception for a WIT ``host-error`` value (by its class, per ``kinds``)."""
    kind = kinds.get(type(host_error), Failed)
    return kind(getattr(host_error, "value", str(host_error)))


def call(name: str, function, *args):
    """Call host function ``function`` (named ``name`` for messages) with ``args``."""
    if not IN_SANDBOX:
        raise NotInSandbox(name)
    try:
        return function(*args)
    except Err as error:
        raise error_of(error.value, host_error_kinds()) from None
