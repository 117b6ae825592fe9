"""The run folder: checkpoints, finding runs, opening a run's model and dataset, batched inference, distributed helpers.

Above the library (data, models, probe, ...), below the workflows that make and read runs.
"""
