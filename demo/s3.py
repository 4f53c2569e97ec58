"""The S3 stand-in: moto's server on 127.0.0.1 and a free port, in this process.

moto keeps everything in memory, so each start is an empty S3: a rebuild starts clean.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

BUCKET = "yan-smart-maintenance-artifacts"
REGION = "us-east-1"
# moto accepts any credentials; these only keep boto3 from hunting for real ones.
DEMO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "demo-access-key",
    "AWS_SECRET_ACCESS_KEY": "demo-secret-key",  # noqa: S105 - moto's, not a secret
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class S3StandIn:
    """A running moto server: its endpoint URL and the server object (to stop it)."""

    endpoint_url: str
    server: object

    def env(self) -> dict[str, str]:
        """The environment a client (MLflow, boto3, sync_registry) needs to reach it."""
        return {**DEMO_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url}


def start_s3_stand_in() -> S3StandIn:
    """Start moto's threaded server on 127.0.0.1 at a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return S3StandIn(endpoint_url=f"http://{host}:{port}", server=server)


@contextlib.contextmanager
def running_s3_stand_in() -> Iterator[S3StandIn]:
    """A moto server for the block, its credentials in ``os.environ``; stopped after."""
    stand_in = start_s3_stand_in()
    saved = {name: os.environ.get(name) for name in stand_in.env()}
    os.environ.update(stand_in.env())
    try:
        yield stand_in
    finally:
        stand_in.server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def make_boto3_client(endpoint_url: str):
    """A boto3 S3 client for the stand-in (the builder's direct S3 writes and deletes)."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=DEMO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DEMO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
