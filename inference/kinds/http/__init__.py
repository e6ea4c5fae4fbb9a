"""The ``http`` kind: an external model server speaking V7's BYOM contract, and the conversion of its
results to Label Studio regions."""
