"""The documentation and the project file say what the code does."""

from pathlib import Path

import yaml

from components import docs
from components.config_schema import KEYS, NAMESPACE

ROOT = Path(__file__).resolve().parent.parent


def test_readme_configuration_reference_matches_the_schema():
    readme = (ROOT / "README.md").read_text()
    assert f"{docs.START}\n{docs.reference()}\n{docs.END}" in readme, "run: python -m components.docs --write"


def test_every_key_and_field_is_documented_with_a_description():
    """In the reference too: the keys of each entry of a list of objects (`promotion.targets[].region`)."""
    reference = docs.reference()

    def walk(path, schema):
        assert schema.get("description"), f"{path} has no description"
        assert f"| `{path}` |" in reference, f"{path} is not in the README's configuration reference"
        for name, sub in schema.get("properties", {}).items():
            walk(f"{path}.{name}", sub)
        for name, sub in (
            (schema.get("items", {}) if schema.get("type") == "array" else {}).get("properties", {}).items()
        ):
            walk(f"{path}[].{name}", sub)

    for key, schema in KEYS.items():
        walk(f"{NAMESPACE}:{key}", schema)


def test_pulumi_yaml_declares_the_scalar_keys_as_the_schema_does():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == NAMESPACE
    assert project["runtime"]["name"] == "python"
    declared = project["config"]
    scalar_keys = {k for k, s in KEYS.items() if s.get("type") in ("string", "boolean", "integer")}
    assert set(declared) == scalar_keys
    for key in scalar_keys:
        assert declared[key]["type"] == KEYS[key]["type"]
        assert declared[key].get("default") == KEYS[key].get("default")
        assert declared[key]["description"]


def test_stack_files_use_only_known_keys():
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        config = yaml.safe_load(stack_file.read_text())["config"]
        ours = {k.split(":", 1)[1] for k in config if k.startswith(f"{NAMESPACE}:")}
        assert ours <= set(KEYS), f"{stack_file.name}: unknown keys {ours - set(KEYS)}"


def test_the_readme_library_example_runs_and_builds_a_v2_pipeline():
    import re

    from components.testing import run_program

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Import the components", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    run = run_program(lambda: exec(compile(code, "README.md", "exec"), {}), {"aws:region": "eu-west-1"})  # noqa: S102
    pipeline = run.one("aws:codepipeline/pipeline:Pipeline").inputs
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Build", "Deploy"]
    assert run.outputs == {"pipeline": "shop"}
    users = next(
        s
        for s in run.one("aws:kms/keyPolicy:KeyPolicy").json_input("policy")["Statement"]
        if s["Sid"] == "OnlyThePipelineRolesUseIt"
    )
    assert len(users["Principal"]["AWS"]) == 3  # pipeline, deploy action and build roles


def test_the_readme_layout_names_every_module_of_the_library():
    layout = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    modules = sorted(p.name for p in (ROOT / "components").glob("*.py") if p.name != "__init__.py")
    missing = [m for m in modules if m not in layout]
    assert not missing, f"README layout does not mention {missing}"


def test_the_aws_settings_the_program_reads_are_documented():
    from components.settings import PROVIDER_SETTINGS

    readme = (ROOT / "README.md").read_text()
    for key in ["region", *PROVIDER_SETTINGS]:
        assert f"`aws:{key}`" in readme, f"aws:{key} is read by components/settings.py but not in the README"
