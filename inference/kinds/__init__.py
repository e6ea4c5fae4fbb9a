"""The kinds of model the Hub serves, a package each (``registry.kinds.ModelKind``), and the one place
they are registered: ``registry.kinds`` imports this module on first use. Their order is the admin's
order of fieldsets and the command line's order of preference (``registry.kinds.kind_for_target``)."""

from inference.kinds.http.kind import HttpKind
from inference.kinds.ml_backend.kind import MlBackendKind
from inference.kinds.python.kind import PythonKind
from registry.kinds import register_kind

for _kind in (PythonKind(), HttpKind(), MlBackendKind()):
    register_kind(_kind)
