"""Reverse ETL models: the SQL whose rows become Segment Profiles identifies.

Natural key: name within its Reverse ETL source. Segment cannot move a model to another source, so a
``source_id`` change replaces it. Segment wraps the query in a CTE, so it must be exactly one statement: ``check``
judges it with :func:`segment_provider.model_sql.query_problem`, in the warehouse's dialect, the same check the
program runs before it registers anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pulumi
import pydantic

from segment_provider.api.models import ReverseEtlModel as ApiModel
from segment_provider.model_sql import query_problem
from segment_provider.resources.base import (
    FoundInputs,
    ResourceInputs,
    SegmentProvider,
    SegmentResource,
    checked_before,
    only_changed,
    resource_props,
)

MAX_QUERY_LENGTH = 65_535
MAX_IDENTIFIER_COLUMN_LENGTH = 191


def inputs_from_api(remote: ApiModel) -> FoundInputs:
    """The model as ``ReverseEtlModel`` inputs."""
    inputs = {
        "source_id": remote.source_id,
        "name": remote.name,
        "description": remote.description,
        "enabled": remote.enabled,
        "query": remote.query,
        "query_identifier_column": remote.query_identifier_column,
    }
    return FoundInputs(inputs)


class ReverseEtlModelInputs(ResourceInputs):
    source_id: str = pydantic.Field(min_length=1)
    name: str = pydantic.Field(min_length=1, max_length=100)
    description: str = ""
    enabled: bool = True
    warehouse_type: Literal["snowflake", "bigquery", "postgres", "redshift"] | None = None
    """The SQL dialect the query is read in (the source's warehouse); not sent, Segment knows its source."""
    query: str = pydantic.Field(max_length=MAX_QUERY_LENGTH)
    query_identifier_column: str = pydantic.Field(min_length=1, max_length=MAX_IDENTIFIER_COLUMN_LENGTH)

    @pydantic.field_validator("query")
    @classmethod
    def _one_select(cls, query: str, info: pydantic.ValidationInfo) -> str:
        warehouse_type = info.data.get("warehouse_type")
        if checked_before(info, query=query, warehouse_type=warehouse_type):
            # Reading SQL needs sqlglot, a large import, in a provider process that a no-op preview starts anew;
            # the program checks a raw query on every run itself.
            return query
        problem = query_problem(query, warehouse_type)
        if problem:
            raise ValueError(problem)
        return query


class ReverseEtlModelProvider(SegmentProvider[ReverseEtlModelInputs, ApiModel]):
    kind = "ReverseEtlModel"
    inputs_model = ReverseEtlModelInputs
    replace_on = frozenset({"source_id"})
    # Segment makes a second model with the same name on a source without complaint: looked up before a create.
    unique_key = False
    # Only how the query is read: a stack deployed before it was an input must not show a change.
    ignored_in_diff: ClassVar[frozenset[str]] = SegmentProvider.ignored_in_diff | {"warehouse_type"}

    def describe(self, inputs: ReverseEtlModelInputs) -> str:
        return f"'{inputs.name}' on source {inputs.source_id}"

    def find_existing(self, inputs: ReverseEtlModelInputs) -> ApiModel | None:
        matches = [
            m
            for m in self.client.list_reverse_etl_models()
            if m.name == inputs.name and m.source_id == inputs.source_id
        ]
        return self.single_match(matches, inputs)

    def create_remote(self, inputs: ReverseEtlModelInputs) -> ApiModel:
        return self.client.create_reverse_etl_model(
            source_id=inputs.source_id,
            name=inputs.name,
            description=inputs.description,
            enabled=inputs.enabled,
            query=inputs.query,
            query_identifier_column=inputs.query_identifier_column,
        )

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiModel:
        return self.client.get_reverse_etl_model(id_)

    def update_remote(
        self, id_: str, inputs: ReverseEtlModelInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiModel:
        return self.client.update_reverse_etl_model(
            id_,
            **only_changed(
                inputs, changed, "name", "description", "enabled", "query", "query_identifier_column"
            ),
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.delete_reverse_etl_model(id_)

    def observed(self, remote: ApiModel, desired: Mapping[str, Any]) -> dict[str, Any]:
        return inputs_from_api(remote).inputs

    def resource_id(self, remote: ApiModel) -> str:
        return remote.id

    def computed_outputs(self, remote: ApiModel) -> dict[str, Any]:
        return {
            "model_id": remote.id,
            "app_url": self.links.url("reverse-etl", "models", remote.id),
        }


class ReverseEtlModel(SegmentResource, module="segment", name="ReverseEtlModel"):
    """A Reverse ETL model on a warehouse source."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        model_id: pulumi.Output[str]
        app_url: pulumi.Output[str]

    OUTPUTS = ("model_id", "app_url")

    def __init__(
        self,
        resource_name: str,
        *,
        source_id: pulumi.Input[str],
        name: pulumi.Input[str],
        query: pulumi.Input[str],
        query_identifier_column: pulumi.Input[str],
        description: pulumi.Input[str] = "",
        enabled: pulumi.Input[bool] = True,
        warehouse_type: str | None = None,
        adopt: bool = False,
        adopt_id: str | None = None,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "environment": environment,
            "source_id": source_id,
            "name": name,
            "description": description,
            "enabled": enabled,
            "warehouse_type": warehouse_type,
            "query": query,
            "query_identifier_column": query_identifier_column,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(ReverseEtlModelProvider(), resource_name, resource_props(inputs, self.OUTPUTS), opts)
