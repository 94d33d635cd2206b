"""The provider server's errors: a user error reads as its message, a bug keeps its traceback."""

from __future__ import annotations

import subprocess
import sys

from segment_provider.api.errors import ValidationError
from segment_provider.resources.base import ResourceError
from segment_provider.resources.provider_errors import error_text, install


def raised(error: Exception) -> str:
    try:
        raise error
    except Exception:
        return error_text()


def test_a_user_error_is_its_message_and_a_bug_keeps_its_traceback() -> None:
    assert raised(ResourceError("Source 'x' was marked adopt: true but does not exist")) == (
        "Source 'x' was marked adopt: true but does not exist"
    )
    assert raised(ValidationError("Segment refused it", operation="createSource", status=422)).startswith(
        "Segment refused it"
    )
    bug = raised(KeyError("id"))
    assert bug.startswith("Traceback (most recent call last):") and "KeyError: 'id'" in bug


def test_only_the_provider_server_process_is_changed() -> None:
    assert install() is False, "this process is not `python -m pulumi.dynamic`"
    # Run as the provider server's main module would be: the server's `traceback` is replaced.
    probe = (
        "import runpy, sys, types, traceback;"
        "main = types.ModuleType('__main__'); main.__spec__ = types.SimpleNamespace(name='pulumi.dynamic.__main__');"
        "main.traceback = traceback; sys.modules['__main__'] = main;"
        "from segment_provider.resources import provider_errors as p;"
        "print(p.install(), main.traceback is not traceback, main.traceback.extract_stack is traceback.extract_stack)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True", "True"]
