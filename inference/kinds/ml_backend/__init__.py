"""The ``ml_backend`` kind: an existing Label Studio ML backend, fronted by the Hub."""
