"""The gateway: a lean HTTP/1.1 proxy in front of inkshadow API replicas or vLLM servers,
with video-aware routing, health ejection, retries, API keys, limits and graceful drain."""

from inkshadow.gateway.app import Gateway

__all__ = ["Gateway"]
