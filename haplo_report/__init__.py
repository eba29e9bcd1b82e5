"""haplo-report: per-data-cut clinical study report for the haplo-HSCT blinatumomab trial."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("haplo-report")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
