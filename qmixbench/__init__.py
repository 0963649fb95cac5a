"""qmixbench: benchmark QMIX, VDN and IQL on PettingZoo parallel envs with honest statistics."""

__version__ = "0.1.0"
