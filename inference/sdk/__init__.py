"""The SDK's former home: ``inference.sdk`` and its modules are names for ``wow_ai_hub``'s."""

import sys

from wow_ai_hub import (
    WOWAIHUB,
    LabelStudioMLBase,
    ModelResponse,
    PredictionValue,
    binding,
    model,
    response,
    state,
)

# ``from inference.sdk.model import X`` keeps working: the submodules are the SDK's own objects.
for _name, _module in {"binding": binding, "model": model, "response": response, "state": state}.items():
    sys.modules[f"{__name__}.{_name}"] = _module

__all__ = ["WOWAIHUB", "LabelStudioMLBase", "ModelResponse", "PredictionValue"]
