"""The errors every host call raises, and a remediation raises to say why it stopped.

``Denied`` is not ``Failed``: a denied call was refused by the manifest or the operator's
risk ceiling before anything happened, and medic's audit log holds the refusal. Let it
propagate (the run ends ``denied``); never retry a refused call some other way.
"""


class MedicError(Exception):
    """Why a host call, or the remediation, did not succeed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Denied(MedicError):
    """The host refused the call; the message names the grant that would allow it."""


class NotFound(MedicError):
    """The target does not exist: a file, a directory, a checkpoint key, a program."""


class Failed(MedicError):
    """The call was allowed but failed, or the remediation gave up."""


class InvalidInput(MedicError):
    """The incident lacks a parameter the remediation needs, or one is invalid."""


class NotInSandbox(MedicError):
    """A host call outside medic's sandbox (plain Python): nothing happened.

    Test the logic around host calls natively; test the calls with ``medic test``.
    """

    def __init__(self, call: str):
        super().__init__(
            f"`{call}` is a medic host call: it is answered only inside medic's sandbox "
            "(a component run by `medic run` or `medic test`), not in plain Python"
        )
        self.call = call
