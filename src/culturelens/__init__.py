"""culturelens: reproducible cross-cultural evaluation of language models."""

__version__ = "0.1.0"
