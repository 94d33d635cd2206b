"""The Pulumi program: validate config, check Segment, build the stack's resources, export what users note down.

``__main__.py`` calls :func:`run`. Order matters and is the promise to users:
1. all configuration is validated (nothing is registered if anything is wrong);
2. read-only checks against Segment (space exists, Flex events seen);
3. resources are registered;
4. outputs, including ``manualSteps``: what is left to do by hand and whether it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pulumi

from flex_program.adoption import planned_changes
from flex_program.config import (
    NAMESPACE,
    ConfigError,
    Program,
    load_program_config,
    pulumi_config_getter,
    stack_file_name,
    unread_namespace_warnings,
)
from flex_program.debug_lines import send_debug_lines_in_background
from flex_program.preflight import Preflight, PreflightError, run_preflight
from flex_program.provider_start import start_provider_early
from flex_program.traits import required_schema
from flex_program.unified_profiles import UnifiedProfiles
from segment_provider.api import ClientSettings, SegmentClient
from segment_provider.api.errors import SegmentError
from segment_provider.resources.base import client_tuning, quick_exit_teardown

PREDICTIONS = [
    {
        "step": "Create the prediction 'Likelihood to churn'",
        "how": "Unify → Traits → Create → Predictions → Likelihood to churn: target event 'Flex - Engagement "
        "Initiated', 'will not perform', at least once in 90 days. Needs 100 users who did and 100 who did not, "
        "and history of 3 times the window; results take up to 48 h.",
    },
    {
        "step": "Create the prediction 'Predicted LTV'",
        "how": "Unify → Traits → Create → Predictions → Predicted LTV: a purchase event with a revenue property "
        "and currency (default USD). Flex events carry no purchases: connect a commerce source first.",
    },
]


def load() -> Program:
    get, is_secret = pulumi_config_getter()
    keys = all_config_keys()
    stack_file = stack_file_name(pulumi.get_stack())
    for warning in unread_namespace_warnings(keys, stack_file):
        pulumi.log.warn(warning)
    return load_program_config(
        get, is_secret, pulumi.get_stack(), project_dir(), keys=keys, stack_file=stack_file, deploying=True
    )


def project_dir() -> Path:
    """The folder of the Pulumi.yaml being deployed: the engine runs the program there (its ``main`` is that
    folder). Never this package's install folder, which a plain ``pip install`` puts in site-packages."""
    return Path.cwd().resolve()


def all_config_keys() -> list[str]:
    """Every config key the engine handed the program (the SDK keeps them in its config context)."""
    from pulumi.runtime import config as runtime_config

    return sorted({*runtime_config.CONFIG.get(), *runtime_config.get_config_env()})


def client_for(program: Program) -> SegmentClient:
    """The client of the read-only checks, tuned by the same ``segment:`` keys as the providers' clients."""
    stack = program.stack
    token = stack.segment_token.get_secret_value() if stack.segment_token else None
    segment = pulumi.Config("segment")
    tuning = client_tuning(lambda key: segment.get(key.partition(":")[2]))
    return SegmentClient(
        ClientSettings.resolve(token=token, region=stack.region, endpoint=stack.endpoint, **tuning)
    )


def preflight_for(program: Program, client: SegmentClient) -> Preflight:
    required = {trait_id: required_schema(spec) for trait_id, spec in program.traits.items()}
    return run_preflight(
        client,
        space_slug=program.stack.space.slug,
        space_name=program.stack.space.name,
        required=required,
        check_events=program.definitions.traits.require_flex_events,
        trait_names={trait_id: spec.name for trait_id, spec in program.traits.items()},
        environment=program.stack.environment,
        source_slugs={
            f"{NAMESPACE}:salesforce.sourceSlug": program.stack.salesforce.source_slug,
            f"{NAMESPACE}:reverseEtl.sourceSlug": program.stack.reverse_etl.source_slug,
        },
    )


def sentence(text: str) -> str:
    """``text`` ended as a sentence (a reason may end with its own question mark)."""
    return text if text.endswith((".", "?")) else f"{text}."


def manual_steps(
    program: Program, preflight: Preflight, setup: UnifiedProfiles
) -> pulumi.Output[list[dict[str, Any]]]:
    """The ordered checklist of what Segment's API cannot do, each with whether it is done."""
    stack = program.stack
    waiting_for_flex = sorted(set(preflight.waiting) - preflight.misspelt)

    def checklist(salesforce_authorized: bool) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = [
            {
                "step": "Create the Unify space",
                "status": "done",
                "how": f"space '{preflight.space.slug}' exists",
            },
            {
                "step": "Set identity resolution rules (add phone and email identifiers)",
                "status": "check",
                "how": "Unify settings → Identity resolution; the API cannot read or set them. Phone numbers must "
                "be E.164.",
            },
            {
                "step": "Authorize the Salesforce source",
                "status": "done" if salesforce_authorized else "todo",
                "how": "open the Salesforce source in the Segment app (output appUrls.salesforceSource) → Authenticate; the user "
                "needs API access and 'View all'. The first sync can take up to 72 h.",
            },
            {
                "step": "Generate the Profile API token and store it",
                "status": "done" if stack.profile_api_token else "todo",
                "how": "Unify settings → API access → Generate token; then "
                "`pulumi config set --secret profileApiToken` (it asks for the value)",
            },
            {
                "step": "Connect the space to Flex in the Twilio Console",
                "status": "check",
                "how": "Twilio Console → Flex → Unified Profiles: enter the spaceId output and the Profile API token",
            },
            {
                "step": "Complete one Flex interaction so Flex events reach the space",
                "status": "todo" if waiting_for_flex else "check" if preflight.kept else "done",
                "how": "handle one call or conversation in Flex; then run `pulumi up` again to create the "
                f"computed traits that wait for it ({', '.join(waiting_for_flex) or 'none'})",
            },
        ]
        if preflight.misspelt:
            steps.append(
                {
                    "step": "Correct the event names the space has never seen",
                    "status": "todo",
                    "how": sentence(
                        "; ".join(f"{t}: {preflight.waiting[t]}" for t in sorted(preflight.misspelt))
                    )
                    + f" Fix them in {program.stack.definitions_file}, then run `pulumi up` again",
                }
            )
        if not preflight.profiles_source_found and not stack.engage_space_write_key:
            steps.append(
                {
                    "step": "Provide the Profiles source write key",
                    "status": "todo",
                    "how": "the space's internal Profiles source was not found (the token needs Source Admin to see "
                    "write keys): `pulumi config set --secret engageSpaceWriteKey` (it asks for the value)",
                }
            )
        steps.extend({**p, "status": "todo"} for p in PREDICTIONS)
        return steps

    return setup.salesforce.authorized.apply(lambda authorized: checklist(bool(authorized)))


def export_outputs(program: Program, preflight: Preflight, setup: UnifiedProfiles) -> None:
    stack = program.stack
    pulumi.export("workspaceId", setup.space.workspace_id)
    pulumi.export("workspaceSlug", setup.space.workspace_slug)
    pulumi.export("spaceId", setup.space.space_id)
    pulumi.export("spaceSlug", setup.space.space_slug)
    pulumi.export(
        "profileApiToken",
        pulumi.Output.secret(stack.profile_api_token.get_secret_value()) if stack.profile_api_token else None,
    )
    pulumi.export("salesforceSourceId", setup.salesforce.source_id)
    pulumi.export("warehouseId", setup.warehouse.warehouse_id)
    pulumi.export("reverseEtlSourceId", setup.reverse_etl_source.source_id)
    pulumi.export("modelId", setup.model.model_id)
    pulumi.export("profilesDestinationId", setup.profiles_destination.destination_id)
    pulumi.export("mappingId", setup.mapping.subscription_id)
    pulumi.export(
        "computedTraits",
        {
            trait_id: {"id": t.trait_id, "key": t.key, "status": t.status}
            for trait_id, t in setup.traits.items()
        },
    )
    pulumi.export("waitingTraits", dict(sorted(preflight.waiting.items())))
    pulumi.export(
        "appUrls",
        {
            "space": setup.space.app_url,
            "salesforceSource": setup.salesforce.app_url,
            "warehouse": setup.warehouse.app_url,
            "reverseEtlSource": setup.reverse_etl_source.app_url,
            "model": setup.model.app_url,
            "profilesDestination": setup.profiles_destination.app_url,
            "mapping": setup.mapping.app_url,
        },
    )
    pulumi.export("manualSteps", manual_steps(program, preflight, setup))


def quiet_cancelled_registrations() -> None:
    """When one resource fails, the engine cancels the registrations still in flight. Pulumi's Python SDK turns
    each CANCELLED answer into a bare ``Exception``, which its runner prints as "Program failed with an unhandled
    exception" and a traceback below the real error; it already makes UNAVAILABLE (the engine gone) a
    ``RunError``, one line. The same here for CANCELLED, so the user sees the error that stopped the run."""
    import grpc
    from pulumi.runtime import settings

    to_exception = settings.grpc_error_to_exception
    if getattr(to_exception, "quiet_cancelled", False):
        return

    def without_traceback(exn: grpc.RpcError) -> Exception:
        if exn.code() == grpc.StatusCode.CANCELLED:
            return pulumi.RunError("stopped: the error above cancelled the deployment")
        return to_exception(exn)

    without_traceback.quiet_cancelled = True  # type: ignore[attr-defined]
    without_traceback.sdk_original = to_exception  # type: ignore[attr-defined]
    settings.grpc_error_to_exception = without_traceback


def run() -> None:
    quick_exit_teardown()
    send_debug_lines_in_background()
    quiet_cancelled_registrations()
    try:
        program = load()
        client = client_for(program)
        # In an update, the Segment objects' provider process starts while the preflight reads (a preview's
        # started as the program did: provider_start.py).
        start_provider_early()
        preflight = preflight_for(program, client)
        # Listed first, so a preview shows every difference an adoption will PATCH before `up` makes it.
        adoption = planned_changes(program, client, preflight.space.id)
    except (ConfigError, PreflightError, SegmentError) as error:
        raise pulumi.RunError(str(error)) from None
    for change in adoption:
        pulumi.log.warn(change)
    for trait_id, reason in sorted(preflight.waiting.items()):
        fix = (
            f"Correct the event name in {program.stack.definitions_file} (the space has seen the one named; "
            "this is no wait for Flex)"
            if trait_id in preflight.misspelt
            else "Connect the space to Flex and complete one interaction"
        )
        pulumi.log.warn(
            f"computed trait {trait_id} waits: {sentence(reason)} {fix}, then run `pulumi up` again."
        )
    for trait_id, reason in sorted(preflight.kept.items()):
        pulumi.log.warn(
            f"computed trait {trait_id} already exists in Segment, but the space does not report what it needs "
            f"({reason}). It is kept as it is, not deleted. Check the space's Flex connection in the Twilio "
            "Console; nothing needs to be done once Flex events arrive again."
        )
    setup = UnifiedProfiles("flex-unified-profiles", program, preflight)
    export_outputs(program, preflight, setup)
    urns = [resource.urn for resource in setup.segment_objects()]
    pulumi.run(lambda: registrations_answered(urns))


async def registrations_answered(urns: Iterable[pulumi.Output[str]]) -> None:
    """Returns once the engine has answered the registration of each resource whose URN is given, failed ones
    included.

    After the program, Pulumi's Python SDK waits for every Output it tracks (about a dozen per resource) by
    calling ``asyncio.wait`` on all those still pending each time one of them resolves: at 500 traits, 1,400
    rounds over 6,000 Outputs, most of the program's CPU in an up from empty. Awaited here first, as the SDK's
    ``pulumi.run`` entry point allows, the registrations cost one callback each, and the SDK's rounds then find
    nothing left to wait for. Failures are not raised here: the SDK reports each after the program, as before."""
    await asyncio.gather(*(urn.future() for urn in urns), return_exceptions=True)
