"""The conda env files, checked statically (conda cannot be solved here): each is valid YAML, pins every
package, and lists every third-party package the scripts of its rules need to import: the script's own
imports and, through the mmpcbench modules it imports, their module-level imports (what ``import``
runs). Imports inside library functions are lazy by design (torch only where a model runs) and are not
followed: a rule that calls such a function needs its env to list the package, which review checks."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

RULE = re.compile(r"^\s*rule (\w+):", re.M)
CONDA = re.compile(r'conda:\s*\n\s*"\.\./(envs/[\w.]+)"')
SCRIPT = re.compile(r'script:\s*\n\s*"\.\./(workflow_scripts/[\w.]+)"')
STDLIB = set(sys.stdlib_module_names)
# imported only by the demo's tiny-model builders and the optional open_clip/timm encoder families
# through their own packages; mapped import name -> distribution name where they differ
ALIASES = {"PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image", "yaml": "pyyaml",
           "open_clip": "open_clip_torch", "bert_score": "bert-score", "torch_fidelity": "torch-fidelity",
           "cv2": "opencv-python-headless"}


def _rules():
    """(rule, env file, script) for every rule with a script."""
    out = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m.group(1)) for m in RULE.finditer(text)] + [(len(text), None)]
        for (start, name), (end, _) in zip(starts, starts[1:]):
            body = text[start:end]
            conda, script = CONDA.search(body), SCRIPT.search(body)
            if script:
                out.append((name, conda.group(1) if conda else None, script.group(1)))
    return out


def _imports(path: Path, seen: set[str], top_level_only: bool = False) -> set[str]:
    """Top-level names of the third-party modules ``path`` imports, following mmpcbench modules (whose
    module-level imports only are counted)."""
    found = set()
    tree = ast.parse(path.read_text())
    nodes = [n for stmt in tree.body for n in ast.walk(stmt) if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef))] \
        if top_level_only else ast.walk(tree)
    for node in nodes:
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == "mmpcbench":
                for candidate in (REPO / (name.replace(".", "/") + ".py"), REPO / name.replace(".", "/") / "__init__.py"):
                    if candidate.exists() and str(candidate) not in seen:
                        seen.add(str(candidate))
                        found |= _imports(candidate, seen, top_level_only=True)
            elif top not in STDLIB and top not in ("snakemake", "conftest"):
                found.add(top)
    return found


def _distribution(module: str) -> str:
    if module in ALIASES:
        return ALIASES[module]
    return importlib.metadata.packages_distributions().get(module, [module])[0]


def _env_packages(env: dict) -> dict[str, str]:
    packages = {}
    for item in env["dependencies"]:
        for spec in item["pip"] if isinstance(item, dict) else [item]:
            name, _, version = spec.partition("==") if "==" in spec else spec.partition("=")
            packages[re.sub(r"[-_.]+", "-", name.lower())] = version
    return packages


RULES = _rules()


def test_every_rule_with_a_script_names_an_env_file():
    assert RULES and all(env for _, env, _ in RULES), [rule for rule, env, _ in RULES if not env]


@pytest.mark.parametrize("env_file", sorted(p.name for p in (REPO / "envs").glob("*.yaml")))
def test_env_file_is_valid_and_pins_every_package(env_file):
    env = yaml.safe_load((REPO / "envs" / env_file).read_text())
    assert env["channels"] and env["dependencies"]
    for name, version in _env_packages(env).items():
        assert version or name == "pip", f"{env_file}: {name} is not pinned"


@pytest.mark.parametrize("rule,env_file,script", RULES, ids=[rule for rule, _, _ in RULES])
def test_env_lists_every_package_its_rule_imports(rule, env_file, script):
    listed = _env_packages(yaml.safe_load((REPO / env_file).read_text()))
    imported = _imports(REPO / script, set())
    missing = sorted(d for d in {_distribution(m) for m in imported} if re.sub(r"[-_.]+", "-", d.lower()) not in listed)
    assert not missing, f"rule {rule}: {env_file} lacks {missing}"
