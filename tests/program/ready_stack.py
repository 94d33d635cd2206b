"""A dev stack brought to "ready" against the emulator: deployed through the engine stand-in, then the manual
steps and the passing of time done by hand (OAuth, first warehouse load, a Reverse ETL sync, live traits, a profile).

The doctor and the promotion tests start from here.
"""

from __future__ import annotations

import json
import time

from flex_tools.demo import DEMO_SECRETS, stack_config
from segment_emulator import Emulator
from segment_provider.api import ClientSettings, SegmentClient
from tests.conftest import SESSION_PACING_ENV
from tests.harness import REPO_ROOT, ProgramEngine, ProviderServer

MAIN = REPO_ROOT / "__main__.py"
NS = "flex-unified-profiles"
SAMPLE_USER = "0011x00000FlexDemo"
GUIDE_TRAIT_KEYS = [
    "total_inbounds",
    "frequent_inbound_channel",
    "total_outbounds",
    "last_known_service_agent",
    "last_interaction_duration",
    "sentiment_in_last_interaction",
]
"""The keys of the six computed traits of Segment's Flex guide, as definitions.yaml switches them all on."""
SPACES = {"dev": "unified-profiles-dev", "prod": "unified-profiles-prod"}
SECRET_KEYS = frozenset({*DEMO_SECRETS, f"{NS}:profileApiToken"})


def stack_engine(server: ProviderServer, emulator: Emulator, stack: str = "dev") -> ProgramEngine:
    """The stack as committed, pointed at the emulator (Public API and Profile API), with the sample user set."""
    emulator.seed_flex_events(SPACES[stack])
    config = stack_config(emulator.url, stack, emulator.token)
    config[f"{NS}:profileApiToken"] = emulator.profile_api_token()
    config[f"{NS}:verify"] = json.dumps({"sampleUserId": SAMPLE_USER})
    config[f"{NS}:profileApi"] = json.dumps({"endpoint": emulator.url})
    return ProgramEngine(server, stack=stack, config=config, secret_keys=SECRET_KEYS)


def deploy(server: ProviderServer, emulator: Emulator) -> ProgramEngine:
    """The dev stack's `pulumi up` through the engine stand-in, after Flex events reached the space."""
    engine = stack_engine(server, emulator)
    result = engine.up(MAIN)
    assert result.failures == []
    return engine


def finish_the_manual_steps(emulator: Emulator) -> None:
    """What people and time do after `up`: OAuth, the first loads, a sync, computed traits, a real profile."""
    store = emulator.store
    with emulator.store_lock:
        salesforce = store.source_by_slug("flex_dev_salesforce")
        retl = store.source_by_slug("flex_dev_reverse_etl")
        assert salesforce is not None and retl is not None
        # Segment adds instance-url to the source's settings once the OAuth is done in the app.
        salesforce["settings"]["instance-url"] = "https://acme.my.salesforce.com"
        (warehouse,) = store.warehouses.values()
        (model,) = store.models.values()
        (mapping,) = store.subscriptions.values()
        for trait in store.computed_traits.values():
            trait["status"] = "Live"
    emulator.record_warehouse_sync(warehouse["id"], salesforce["id"], count=1250)
    emulator.seed_profile(SAMPLE_USER, {"name": "Acme Support", "phone": "+15555550123"})
    client = SegmentClient(
        ClientSettings.resolve(token=emulator.token, endpoint=emulator.url, env=SESSION_PACING_ENV)
    )
    sync = client.create_manual_sync(
        source_id=retl["id"], model_id=model["id"], subscription_id=mapping["id"]
    )
    for _ in range(200):  # the emulator finishes a manual sync after 10 s x time_scale
        if client.get_sync_status(model["id"], sync.sync_id).sync_status == "SUCCESS":
            return
        time.sleep(0.02)
    raise AssertionError("the manual sync never finished")
