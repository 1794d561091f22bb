"""inkshadow: a self-hosted video-understanding service for Qwen vision-language models."""

__version__ = "0.1.0"
