"""siaga: keeps small data centres safe."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("siaga")  # set from git tags when the package is built (setuptools-scm)
except PackageNotFoundError:  # running from a tree that was never installed
    __version__ = "0.0.0+unknown"
