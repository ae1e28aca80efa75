"""Effective-policy resolution, conflicts, the KV document format and policy-file loading."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from argoai_core.errors import ConfigError, InvalidInputError
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec, Severity
from argoai_core.policy_set import NamedPolicy, PolicySet, StaticPolicyProvider, load_policy_file

HEAD = "apiVersion: argoai.dev/v1alpha1\nkind: ReviewPolicy\n"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def named(name: str, **spec: object) -> NamedPolicy:
    return NamedPolicy(name, PolicySpec.model_validate(spec))


def sample_set() -> PolicySet:
    return PolicySet.of(
        [
            named("ops/default", maxComments=5),
            named("ops/acme", scope={"orgs": ["acme"]}, maxComments=10),
            named("ops/acme-api", scope={"repos": ["acme/api"]}, maxComments=30),
            named("ops/acme-glob", scope={"repos": ["acme/web-*"]}, maxComments=40),
        ]
    )


def test_repo_beats_org_beats_default() -> None:
    """A repo-level policy wins over the org-level one, which wins over the cluster default."""
    policies = sample_set()
    assert policies.resolve("acme", "api").max_comments == 30
    assert policies.resolve("acme", "web-shop").max_comments == 40
    assert policies.resolve("acme", "other").max_comments == 10
    assert policies.resolve("globex", "x").max_comments == 5


def test_matching_is_case_insensitive() -> None:
    """GitHub names are case-insensitive, so globs match regardless of case."""
    assert sample_set().resolve("ACME", "Api").max_comments == 30


def test_builtin_defaults_when_nothing_matches() -> None:
    """With no cluster default and no match, the built-in PolicySpec defaults apply."""
    policies = PolicySet.of([named("a", scope={"orgs": ["acme"]}, maxComments=3)])
    assert policies.resolve("other", "repo") == PolicySpec()
    assert PolicySet().resolve("x", "y") == PolicySpec()


def test_more_specific_glob_wins_within_a_level() -> None:
    """An exact repo glob beats a wildcard one of the same level, whatever the names."""
    policies = PolicySet.of(
        [
            named("a-wild", scope={"repos": ["acme/*"]}, maxComments=1),
            named("z-exact", scope={"repos": ["acme/api"]}, maxComments=2),
        ]
    )
    assert policies.resolve("acme", "api").max_comments == 2
    assert policies.resolve("acme", "web").max_comments == 1
    assert policies.conflicts() == []


def test_conflicts_reported_and_resolved_by_name() -> None:
    """Same-level policies with overlapping equally specific globs are a conflict; the first name wins."""
    policies = PolicySet.of(
        [
            named("b", scope={"orgs": ["acme"]}, maxComments=2),
            named("a", scope={"orgs": ["ACME"]}, maxComments=1),
            named("d1"),
            named("d2"),
        ]
    )
    conflicts = policies.conflicts()
    assert {(c.first, c.second) for c in conflicts} == {("a", "b"), ("d1", "d2")}
    assert "a (ACME) and b (acme) are both org-level" in next(c for c in conflicts if c.level == 1).message()
    assert policies.resolve("acme", "x").max_comments == 1


def test_json_round_trip_is_deterministic() -> None:
    """The KV document round-trips and the same set always serialises to the same bytes."""
    policies = sample_set()
    data = policies.to_json()
    assert orjson.loads(data)["version"] == 1
    assert PolicySet.from_json(data) == policies
    assert PolicySet.of(reversed(list(policies))).to_json() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not json", "not JSON"),
        (b'{"version": 2, "policies": []}', "version 2 is not supported"),
        (b'{"version": 1, "policies": [{"name": "x", "spec": {"maxComments": 1000}}]}', "entry 0"),
    ],
)
def test_unreadable_documents_are_refused(data: bytes, message: str) -> None:
    """Malformed JSON, an unknown version or an invalid spec raise InvalidInputError."""
    with pytest.raises(InvalidInputError, match=message):
        PolicySet.from_json(data)


def test_static_provider_resolves_by_repo_ref() -> None:
    """The static provider answers policy_for(RepoRef) from its set."""
    provider = StaticPolicyProvider(sample_set())
    repo = RepoRef(host="api.github.com", owner="acme", name="api")
    assert provider.policy_for(repo).max_comments == 30


def test_load_policy_file_reads_every_document(tmp_path: Path) -> None:
    """A multi-document policy file becomes a set keyed namespace/name (bare name without namespace)."""
    path = tmp_path / "policies.yaml"
    path.write_text(
        f"{HEAD}metadata: {{name: base}}\nspec: {{minSeverity: major}}\n---\n"
        f"{HEAD}metadata: {{name: acme, namespace: ops}}\nspec: {{scope: {{orgs: [acme]}}}}\n---\n"
    )
    policies = load_policy_file(path)
    assert policies.names() == ["base", "ops/acme"]
    assert policies.resolve("other", "x").min_severity is Severity.MAJOR


def test_load_examples_directory_files() -> None:
    """Every sample under examples/ is a valid policy file."""
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert files
    for path in files:
        assert len(load_policy_file(path)) >= 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"{HEAD}metadata: {{name: ok}}\n---\n{HEAD}metadata: {{name: bad}}\nspec: {{maxComments: 500}}\n",
            "document 2 (ReviewPolicy 'bad'): spec.maxComments: Input should be less than or equal to 100",
        ),
        (
            HEAD + "metadata: {name: m}\nspec: {model: gpt-5}\n",
            "document 1 (ReviewPolicy 'm'): spec: model: model names are provider-specific",
        ),
        (
            HEAD + "metadata: {name: s}\nspec: {scope: {orgs: [a], repos: [a/b]}}\n",
            "spec.scope: scope lists either orgs or repos, not both",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            "document 1 (ReviewPolicy 'c'): apiVersion",
        ),
        (
            f"{HEAD}metadata: {{name: d}}\n---\n{HEAD}metadata: {{name: d}}\n",
            "repeated: d",
        ),
        ("a: [unclosed\n", "not valid YAML"),
    ],
)
def test_load_policy_file_errors_name_document_and_field(tmp_path: Path, text: str, expected: str) -> None:
    """Each problem in a policy file is a ConfigError naming the document and the field."""
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policy_file(path)
    assert expected in str(info.value)
    assert str(info.value).startswith("ARGOAI_POLICY_FILE")


def test_missing_policy_file_is_a_config_error(tmp_path: Path) -> None:
    """A policy file that cannot be read is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy_file(tmp_path / "absent.yaml")
