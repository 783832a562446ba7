"""The tests' S3 on a moto server: the buckets, and two identities with credential checking on.

The pipeline's identity holds exactly the least-privilege policy of docs/s3.md (and reaches
the pipeline through the standard AWS variables, as in production); the admin's is allowed
everything and is used by tests only to drop landing files and inspect buckets. Each test works
under its own prefix of the shared buckets (the `s3_prefix` fixture).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import boto3

from energymobile.storage.s3 import least_privilege_policy

S3_BUCKET = "energymobile-test"
S3_LANDING_BUCKET = "energymobile-landing-test"
S3_ABSENT_BUCKET = "energymobile-absent"
"""Granted by the pipeline's policy but never created: the missing-bucket case."""
S3_REGION = "eu-west-1"
S3_TESTS_PREFIX = "tests"

Credentials = dict[str, str]
"""boto3 keyword arguments: aws_access_key_id, aws_secret_access_key."""


class MotoS3:
    """The running server: its endpoint, the pipeline's credentials and an admin client."""

    def __init__(
        self, endpoint: str, access_key_id: str, secret_access_key: str, admin: Any
    ) -> None:
        self.endpoint = endpoint
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.admin = admin
        """A boto3 S3 client allowed everything (s3:*), for test set-up and inspection."""

    def object_bytes(self, bucket: str, key: str) -> bytes:
        return self.admin.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def provision(endpoint: str) -> tuple[Credentials, Credentials]:
    """Create the buckets and the two IAM users (before auth is on), then switch auth on.
    Returns (pipeline, admin) credentials."""
    bootstrap = {
        "endpoint_url": endpoint,
        "region_name": S3_REGION,
        "aws_access_key_id": "bootstrap",
        "aws_secret_access_key": "bootstrap",
    }
    s3 = boto3.client("s3", **bootstrap)
    for bucket in (S3_BUCKET, S3_LANDING_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": S3_REGION})
    iam = boto3.client("iam", **bootstrap)
    policies = {
        "pipeline": least_privilege_policy(
            object_stores=[
                f"s3://{S3_BUCKET}/{S3_TESTS_PREFIX}",
                f"s3://{S3_ABSENT_BUCKET}/{S3_TESTS_PREFIX}",
            ],
            landings=[f"s3://{S3_LANDING_BUCKET}/{S3_TESTS_PREFIX}"],
        ),
        "admin": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        },
    }
    credentials = {}
    for user, policy in policies.items():
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=user, PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        credentials[user] = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",  # no more unauthenticated requests from now on
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
    return credentials["pipeline"], credentials["admin"]


def admin_client(endpoint: str, admin: Credentials) -> Any:
    """The admin's boto3 S3 client on the server."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=S3_REGION, **admin)
