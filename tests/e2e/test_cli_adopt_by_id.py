"""Adoption by Segment id under the real ``pulumi`` CLI: two objects share the stack's name, the up stops naming
both ids and the ``adoptIds`` key, and naming one adopts exactly that one."""

from __future__ import annotations

import json

from segment_emulator import Emulator
from tests.e2e.conftest import NS, SECRETS, CliStack, stack_file
from tests.e2e.test_cli_lifecycle import client


def test_two_warehouses_with_the_stacks_name_stop_the_up_and_naming_one_by_id_adopts_it(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    config = stack_file()["warehouse"]
    credentials = json.loads(SECRETS[f"{NS}:warehouseCredentials"])
    segment = client(flex_emulator)
    made = [
        segment.create_warehouse(
            metadata_id=segment.catalog.warehouse_by_slug(config["type"]).id,
            name=config["name"],
            settings={**config["settings"], **credentials},
            enabled=True,
            disconnect_all_sources=True,
        )
        for _ in range(2)
    ]

    stopped = cli_stack.pulumi("up", "--stack", "dev", "--yes", check=False)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0
    assert made[0].id in output and made[1].id in output and "adoptIds" in output, output
    assert len(flex_emulator.store.warehouses) == 2, "no third warehouse"

    cli_stack.pulumi("config", "set", "--path", "--stack", "dev", f"{NS}:adoptIds.warehouse", made[1].id)
    flex_emulator.clear_requests()
    cli_stack.up()

    assert cli_stack.resource("warehouse")["id"] == made[1].id
    assert "createWarehouse" not in {r.operation_id for r in flex_emulator.requests}
    assert len(flex_emulator.store.warehouses) == 2
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")
