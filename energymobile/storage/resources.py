"""Dagster resources: one per external system, configured per deployment, never per asset."""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from energymobile.storage.landing import Landing, open_landing
from energymobile.storage.object_store import ObjectStore, open_object_store
from energymobile.storage.warehouse import Warehouse


class S3ClientResource(dg.ConfigurableResource):
    """The S3 client settings: dagster-aws's `S3Resource` builds the client, imported only when
    a client is wanted. Importing dagster_aws costs ~1.5 s (its package imports its components
    and Dagster's test utilities), which a deployment without S3 must not pay at every start."""

    region_name: str | None = Field(
        default=None, description="AWS region; credentials stay in the standard AWS environment"
    )

    def get_client(self) -> Any:
        from dagster_aws.s3 import S3Resource

        return S3Resource(region_name=self.region_name).get_client()


class LandingResource(dg.ConfigurableResource):
    """Where the technicians drop each cohort's files."""

    location: str = Field(description="A folder, or s3://bucket/prefix (ENERGYMOBILE_LANDING)")
    s3: S3ClientResource | None = Field(
        default=None,
        description="S3 client settings for an s3:// location; credentials stay in the "
        "standard AWS environment",
    )

    def open(self) -> Landing:
        return open_landing(self.location, s3=self.s3)


class ObjectStoreResource(dg.ConfigurableResource):
    """Where archives and exports go."""

    url: str = Field(
        description="file:///folder or s3://bucket[/prefix] (ENERGYMOBILE_OBJECT_STORE)"
    )
    s3: S3ClientResource | None = Field(
        default=None,
        description="S3 client settings for an s3:// URL; credentials stay in the standard "
        "AWS environment",
    )

    def open(self) -> ObjectStore:
        return open_object_store(self.url, s3=self.s3)


class WarehouseResource(dg.ConfigurableResource):
    """The SQL warehouse; the URL may hold a password, so pass it as an EnvVar."""

    url: str = Field(description="SQLAlchemy URL (ENERGYMOBILE_DATABASE_URL)")
    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            self._warehouse = Warehouse(self.url)
        return self._warehouse

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._warehouse is not None:
            self._warehouse.dispose()


class CohortRulesResource(dg.ConfigurableResource):
    """Bounds the asset checks apply to every cohort."""

    max_shortfall_hours: int = Field(
        description="Hours of maintenance allowed at the end of a cohort "
        "(ENERGYMOBILE_MAX_SHORTFALL_HOURS)"
    )
