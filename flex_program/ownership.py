"""One environment, one stack, one space: the rules that keep a dev stack off prod's objects, checked before any call.

* A stack's environment comes from its name: stack ``dev`` is dev and stack ``prod`` is prod; any other name must
  set ``environment``, and a name that says ``dev`` or ``prod`` (``dev-alice``, ``prod-eu``) must not contradict it.
* No two stack files of the project name the same space, source slug, source name or warehouse name: dev and prod
  never share a Segment object (everything else hangs off those: models and the destination off the Reverse ETL
  source, its mapping off the destination, computed traits off the space).
* A non-prod stack never uses a prod space: one a prod stack file names, or one whose slug or name says prod.

Segment's side of the same rule (the ``environment:<env>`` label of each source) is enforced by the providers,
see :mod:`segment_provider.resources.source`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's C parser when PyYAML was built with it (about 10x faster: each run reads every stack file of the
# project), else PyYAML's own; both read the same documents.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ENVIRONMENTS = ("dev", "prod")
PROD = "prod"
_PROD_WORDS = {"prod", "production"}
_DEV_WORDS = {"dev", "development"}


def words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w}


def environment_of_stack(stack_name: str) -> str | None:
    """The environment a stack's name gives (``dev``, ``prod``), None when the name says neither."""
    found = words(stack_name)
    says_prod, says_dev = bool(found & _PROD_WORDS), bool(found & _DEV_WORDS)
    if says_prod == says_dev:
        return None
    return PROD if says_prod else "dev"


def environment_problem(stack_name: str, configured: Any) -> str | None:
    """Why ``environment: configured`` cannot be the environment of stack ``stack_name`` (None when it can)."""
    named = environment_of_stack(stack_name)
    if configured is None or named is None or configured == named:
        return None
    return (
        f"is '{configured}', but stack '{stack_name}' is the {named} stack: a stack's environment follows its "
        f"name. Remove environment from Pulumi.{stack_name}.yaml (or set it to {named}); to deploy "
        f"{configured}, select the {configured} stack (`pulumi up --stack {configured}`)"
    )


@dataclass(frozen=True)
class Claim:
    """One Segment object a stack names: its config key, what kind of name it is, and the value."""

    key: str
    kind: str
    value: str

    @property
    def identity(self) -> tuple[str, str]:
        # Names are compared as Segment's app shows them: case and surrounding spaces do not make them different.
        return self.kind, self.value.strip().casefold()


# Config key (under the project namespace) → (field path, kind). Kinds that share a namespace in Segment share
# a kind (two sources cannot share a slug, whichever role each has in its stack).
CLAIMED = (
    ("space", "slug", "space slug"),
    ("space", "name", "space name"),
    ("salesforce", "sourceSlug", "source slug"),
    ("salesforce", "name", "source name"),
    ("reverseEtl", "sourceSlug", "source slug"),
    ("reverseEtl", "name", "source name"),
    ("warehouse", "name", "warehouse name"),
)


def claims(namespace: str, values: Mapping[str, Any]) -> list[Claim]:
    """The objects a stack's config names; ``values`` maps each top-level config key to its (decoded) value."""
    found = []
    for key, field, kind in CLAIMED:
        section = values.get(key)
        value = section.get(field) if isinstance(section, Mapping) else None
        if isinstance(value, str) and value.strip():
            found.append(Claim(f"{namespace}:{key}.{field}", kind, value))
    return found


@dataclass(frozen=True)
class OtherStack:
    name: str
    file: str
    environment: str | None
    claims: list[Claim]


def other_stacks(project_dir: Path, namespace: str, own_stack: str) -> tuple[list[OtherStack], list[str]]:
    """The project's other stack files (``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``) and the files that could
    not be read. Only plain values are read: secrets stay ciphertext."""
    stacks, unreadable = [], []
    for path in sorted(project_dir.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        if name == own_stack or not path.is_file():
            continue
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            unreadable.append(path.name)
            continue
        config = document.get("config") if isinstance(document, Mapping) else None
        if not isinstance(config, Mapping):
            config = {}
        values = {
            str(k).partition(":")[2]: v for k, v in config.items() if str(k).startswith(f"{namespace}:")
        }
        configured = values.get("environment")
        environment = configured if configured in ENVIRONMENTS else environment_of_stack(name)
        stacks.append(OtherStack(name, path.name, environment, claims(namespace, values)))
    return stacks, unreadable


def conflicts(
    own: Iterable[Claim], environment: str, others: Iterable[OtherStack]
) -> Iterator[tuple[str, str]]:
    """(config key, problem) for each object this stack shares with another stack, or a prod space it uses."""
    others = list(others)
    for claim in own:
        sharing = [o for o in others if any(c.identity == claim.identity for c in o.claims)]
        for other in sharing:
            if claim.kind.startswith("space") and environment != PROD and other.environment == PROD:
                yield (
                    claim.key,
                    (
                        f"'{claim.value}' is the prod space ({other.file} names it): a {environment} stack never "
                        "uses prod's space. Point this stack at its own space (create it in the Segment app first)"
                    ),
                )
            else:
                yield (
                    claim.key,
                    f"'{claim.value}' is also the {claim.kind} of stack '{other.name}' ({other.file}): two "
                    f"stacks never share a Segment object. Give this stack its own {claim.kind} (e.g. one with "
                    f"'{environment}' in it)",
                )
        prod_words = words(claim.value) & _PROD_WORDS
        if not sharing and claim.kind.startswith("space") and environment != PROD and prod_words:
            yield (
                claim.key,
                f"'{claim.value}' reads as a production space, and this is a {environment} stack: point it "
                "at its own non-production space (a space whose slug and name do not say prod)",
            )
