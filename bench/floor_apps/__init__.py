"""WSGI apps for ``bench/floors.py``: the layers the Hub is built on, each answering one-task /predict
with the dummy model's answer and nothing else."""
