"""The ``python`` kind: a model class written with the SDK, run in the web worker's process."""
