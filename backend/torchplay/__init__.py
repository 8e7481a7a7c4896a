"""torchplay: a visual neural-network playground backed by PyTorch."""

__version__ = "0.1.0"
