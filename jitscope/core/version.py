"""jitscope's version, in a leaf module: the one place it is written (pyproject.toml reads it
from here), so ``core`` can record it in a run's environment without importing the package
above it, and ``jitscope --version`` and ``jitscope.__version__`` say the same."""

__version__ = "0.1.0"
