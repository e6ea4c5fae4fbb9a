"""WOW AI Hub's SDK, module for module like ``label_studio_ml``: ``wow_ai_hub.model`` (``WOWAIHUB``,
``LabelStudioMLBase``), ``wow_ai_hub.response`` (``ModelResponse``), ``wow_ai_hub.utils`` and
``wow_ai_hub.api`` (``init_app``). A model file written for label-studio-ml-backend runs with its
``label_studio_ml`` imports renamed to ``wow_ai_hub``."""

from importlib.metadata import PackageNotFoundError, version

from label_studio_sdk.label_interface.objects import PredictionValue

from wow_ai_hub.model import WOWAIHUB, LabelStudioMLBase
from wow_ai_hub.response import ModelResponse

# What label_studio_ml names itself by: the distribution and its version.
package_name = "wow-ai-hub"
try:
    __version__ = version(package_name)
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0.0.0"

__all__ = ["WOWAIHUB", "LabelStudioMLBase", "ModelResponse", "PredictionValue", "__version__", "package_name"]
