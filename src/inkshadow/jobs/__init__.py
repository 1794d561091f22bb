"""Durable jobs: a lease-based queue in the application database, workers, chunk fan-out
and merge, progress, metrics and webhooks."""

from inkshadow.jobs.queue import JobQueue
from inkshadow.jobs.types import HandlerRegistry, JobHandler, JobView
from inkshadow.jobs.worker import Worker

__all__ = ["HandlerRegistry", "JobHandler", "JobQueue", "JobView", "Worker"]
