"""One module per command (train, evaluate, predict, compare, visualize, explain, audit, demo, zero-shot):
each is also a function to call from Python. The command line and the explorer call these.
"""
