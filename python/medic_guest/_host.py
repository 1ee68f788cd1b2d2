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


def error_of(host_error) -> Exception:
    """The SDK exception for a WIT ``host-error`` value."""
    name = type(host_error).__name__
    message = getattr(host_error, "value", str(host_error))
    if name.endswith("Denied"):
        return Denied(message)
    if name.endswith("NotFound"):
        return NotFound(message)
    if name.endswith("InvalidInput"):
        return InvalidInput(message)
    return Failed(message)


def call(name: str, function, *args):
    """Call host function ``function`` (named ``name`` for messages) with ``args``."""
    if not IN_SANDBOX:
        raise NotInSandbox(name)
    try:
        return function(*args)
    except Err as error:
        raise error_of(error.value) from None
