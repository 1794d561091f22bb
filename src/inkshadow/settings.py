"""Every setting inkshadow reads, in one class. Read from (highest first): explicit values
(CLI flags), `INKSHADOW_*` environment variables, a YAML or TOML `--config` file, defaults.

No other module reads the environment: build a `Settings` once and pass it in.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from inkshadow.errors import InvalidRequest

EngineKind = Literal["transformers", "remote"]
DType = Literal["auto", "bf16", "fp16", "fp32"]
Device = Literal["auto", "cpu", "cuda"]


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="INKSHADOW_", extra="forbid", validate_default=True
    )

    # --- engine ---------------------------------------------------------------------------
    model: str = Field("", description="Hugging Face model id or local folder to serve.")
    served_model_name: str | None = Field(
        None, description="Name clients use in `model`; defaults to the model id or folder name."
    )
    engine: EngineKind = Field("transformers", description="In-process engine or a remote one.")
    upstream_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible upstream (vLLM, SGLang, TGI)."
    )
    upstream_api_key: SecretStr | None = Field(None, description="Key sent to the upstream.")
    upstream_model: str | None = Field(
        None, description="Model name at the upstream; defaults to the first one it lists."
    )
    upstream_timeout_s: float = Field(600.0, gt=0, description="Deadline of one upstream call.")
    device: Device = Field("auto", description="Where the in-process engine runs.")
    dtype: DType = Field("auto", description="Weights dtype of the in-process engine.")
    max_batch_size: int = Field(8, ge=1, le=256, description="Requests generated together.")
    batch_wait_ms: float = Field(
        5.0, ge=0, description="How long the batcher waits for more requests to join a batch."
    )
    max_model_len: int = Field(32768, ge=256, description="Prompt plus output tokens, at most.")
    default_max_tokens: int = Field(512, ge=1, description="max_tokens when a request omits it.")

    # --- HTTP server ----------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    max_body_bytes: int = Field(100 * 1024 * 1024, ge=1024, description="Request body cap.")
    max_media_parts: int = Field(16, ge=0, description="Images and videos in one request, at most.")
    drain_grace_s: float = Field(
        30.0, ge=0, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    api_keys: CsvList = Field(
        default_factory=list, description="Accepted API keys, comma-separated; empty: no auth."
    )
    client_api_key: SecretStr | None = Field(
        None, description="Key `inkshadow analyze --server` sends as Authorization: Bearer."
    )
    log_level: str = Field("INFO", description="Log level.")
    data_dir: Path = Field(Path("./data"), description="Where files the server keeps live.")

    # --- media: fetch ---------------------------------------------------------------------
    fetch_timeout_s: float = Field(30.0, gt=0, description="Total deadline of one URL fetch.")
    fetch_max_redirects: int = Field(3, ge=0, le=20, description="Redirect hops followed.")
    fetch_max_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="Bytes read from one URL, at most."
    )
    fetch_allow_hosts: CsvList = Field(
        default_factory=list,
        description="Hosts, IPs or CIDRs that may be fetched even when private or loopback.",
    )
    media_root: Path | None = Field(
        None, description="Folder `file://` URLs may read from; unset: `file://` is refused."
    )

    # --- media: images --------------------------------------------------------------------
    image_max_pixels: int = Field(
        40_000_000, ge=1, description="width x height cap, checked from the header."
    )
    image_formats: CsvList = Field(
        default_factory=lambda: ["JPEG", "PNG", "WEBP", "GIF", "BMP"],
        description="Accepted image formats (Pillow names).",
    )

    # --- media: video ---------------------------------------------------------------------
    video_max_bytes: int = Field(
        1024 * 1024 * 1024, ge=1, description="Bytes of one video, at most."
    )
    video_max_duration_s: float = Field(
        4 * 3600.0, gt=0, description="Duration of one video, at most."
    )
    video_max_frames: int = Field(
        768, ge=2, description="Frames sampled from one video, at most (qwen-vl-utils' cap)."
    )
    video_fps: float = Field(2.0, gt=0, description="Default sampling rate, frames per second.")

    # --- video understanding (tasks, blobs, frame cache) -------------------------------
    blob_store: str = Field(
        "",
        description="Where uploaded and fetched media are kept: empty for data_dir/blobs, "
        "a folder, or s3://bucket/prefix.",
    )
    s3_endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO etc.).")
    upload_max_bytes: int = Field(
        1024 * 1024 * 1024, ge=1, description="Bytes of one file uploaded to /v1/files, at most."
    )
    frame_cache_bytes: int = Field(
        2 * 1024 * 1024 * 1024, ge=0, description="Disk kept for sampled frames; 0: no cache."
    )
    exact_resize: bool = Field(
        True,
        description="Resize frames bit-exactly as qwen-vl-utils does (slower) rather than with "
        "FFmpeg's scaler (mean difference about 1.5/255).",
    )
    chunk_seconds: float = Field(
        300.0, gt=0, description="Videos longer than this are analysed in chunks of this length."
    )
    chunk_overlap_s: float = Field(5.0, ge=0, description="Overlap of neighbouring chunks.")
    chunk_max_frames: int = Field(64, ge=2, description="Frames sampled per chunk, at most.")

    # --- jobs, storage, cache ---------------------------------------------------------------
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty: a SQLite file in data_dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    job_max_attempts: int = Field(3, ge=1, description="Tries of a job chunk before it fails.")
    job_lease_s: float = Field(60.0, gt=0, description="A worker's lease on a task; renewed.")
    worker_concurrency: int = Field(1, ge=1, description="Tasks one worker process runs at once.")
    cache_ttl_s: float = Field(24 * 3600.0, gt=0, description="Lifetime of a cached analysis.")
    cache_max_entries: int = Field(10_000, ge=0, description="In-memory cache size, entries.")
    session_ttl_s: float = Field(3600.0, gt=0, description="Lifetime of an idle chat session.")

    # --- gateway --------------------------------------------------------------------------
    gateway_port: int = Field(8080, ge=0, le=65535, description="Port the gateway listens on.")
    gateway_upstreams: CsvList = Field(
        default_factory=list, description="Base URLs of the replicas behind the gateway."
    )
    gateway_upstream_dns: str | None = Field(
        None, description="NAME:PORT re-resolved for upstreams (a headless Service)."
    )
    gateway_dns_interval_s: float = Field(5.0, gt=0, description="DNS re-resolution period.")
    gateway_policy: Literal["least_outstanding", "round_robin", "session", "media"] = Field(
        "least_outstanding", description="How the gateway picks a replica."
    )
    gateway_session_header: str = Field(
        "x-session-id", description="Header naming a session for session affinity."
    )
    gateway_session_cookie: str = Field(
        "inkshadow_session", description="Cookie naming a session for session affinity."
    )
    gateway_hash_load_bound: float = Field(
        1.25, ge=1.0, description="Bounded-load factor of consistent hashing (CHWBL)."
    )
    gateway_health_interval_s: float = Field(2.0, gt=0, description="Active check period.")
    gateway_health_path: str = Field("/ready", description="Path of the active check.")
    gateway_health_timeout_s: float = Field(1.0, gt=0, description="Deadline of one check.")
    gateway_eject_after: int = Field(
        3, ge=1, description="Consecutive failures that eject a replica."
    )
    gateway_eject_base_s: float = Field(1.0, gt=0, description="First ejection time.")
    gateway_eject_max_s: float = Field(60.0, gt=0, description="Longest ejection time.")
    gateway_retries: int = Field(
        2, ge=0, le=10, description="Other replicas tried before the first response byte."
    )
    gateway_connect_timeout_s: float = Field(2.0, gt=0, description="Upstream connect deadline.")
    gateway_upstream_timeout_s: float = Field(
        600.0, gt=0, description="Deadline for an upstream's response head."
    )
    gateway_max_concurrent: int = Field(
        1024, ge=1, description="Requests proxied at once; more wait in the admission queue."
    )
    gateway_queue_size: int = Field(
        512, ge=0, description="Requests waiting for admission; past it: 429."
    )
    gateway_queue_timeout_s: float = Field(
        5.0, gt=0, description="Longest wait in the admission queue before a 429."
    )
    gateway_key_rpm: int = Field(0, ge=0, description="Requests per minute per key; 0: no cap.")
    gateway_key_concurrency: int = Field(
        0, ge=0, description="Concurrent requests per key; 0: no cap."
    )
    gateway_max_header_bytes: int = Field(
        64 * 1024, ge=1024, description="Request line plus headers, at most."
    )
    gateway_canary_upstreams: CsvList = Field(
        default_factory=list, description="Second upstream group receiving canary traffic."
    )
    gateway_canary_percent: float = Field(
        0.0, ge=0, le=100, description="Share of requests sent to the canary group."
    )
    gateway_access_log: bool = Field(True, description="One JSON line per proxied request.")
    api_keys_file: Path | None = Field(
        None, description="File of accepted keys as sha256 hex digests, one a line."
    )
    redis_url: str | None = Field(
        None, description="Redis for shared state (gateway limits, cache); unset: in memory."
    )

    @field_validator(
        "api_keys",
        "fetch_allow_hosts",
        "image_formats",
        "gateway_upstreams",
        "gateway_canary_upstreams",
        mode="before",
    )
    @classmethod
    def _csv(cls, value: Any) -> Any:
        return _split_csv(value)

    @property
    def model_name(self) -> str:
        """The name clients see in /v1/models."""
        if self.served_model_name:
            return self.served_model_name
        if self.engine == "remote" and self.upstream_model:
            return self.upstream_model
        return self.model.rstrip("/").split("/")[-1] if Path(self.model).is_dir() else self.model


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a YAML or TOML settings file into a dict of field values."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest(f"cannot read config file {path.name}: {exc.strerror}") from exc
    data: Any
    if path.suffix in {".toml"}:
        data = tomllib.loads(text)
    elif path.suffix in {".yaml", ".yml"}:
        data = yaml.safe_load(text) or {}
    else:
        raise InvalidRequest("config file must end in .yaml, .yml or .toml")
    if not isinstance(data, dict):
        raise InvalidRequest("config file must hold a mapping of setting names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: overrides > environment > config file > defaults.

    Overrides whose value is None are dropped, so unset CLI flags do not shadow the rest.
    """
    explicit = {k: v for k, v in overrides.items() if v is not None}
    file_values = read_config_file(config_file) if config_file else {}
    env_only = Settings()  # environment and defaults
    env_set = env_only.model_fields_set
    merged: dict[str, Any] = {}
    for key, value in file_values.items():
        if key not in env_set:
            merged[key] = value
    merged.update({k: getattr(env_only, k) for k in env_set})
    merged.update(explicit)
    return Settings(**merged)
