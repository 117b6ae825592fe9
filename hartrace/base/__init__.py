"""The bottom layer: errors, atomic writes, progress bars and the device, which every other layer may use."""
