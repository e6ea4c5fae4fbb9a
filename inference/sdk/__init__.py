"""WOW AI Hub SDK: ``from inference.sdk import WOWAIHUB`` (or ``LabelStudioMLBase``, ``ModelResponse``)."""

from label_studio_sdk.label_interface.objects import PredictionValue

from inference.sdk.model import WOWAIHUB, LabelStudioMLBase
from inference.sdk.response import ModelResponse

__all__ = ["WOWAIHUB", "LabelStudioMLBase", "ModelResponse", "PredictionValue"]
