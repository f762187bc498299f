"""Configuration: validation against the JSON schema, and per-category views."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from mmpcbench import families
from mmpcbench.grpo.schedule import ScheduleError, check_schedule, for_task

SCHEMA_FILE = "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


def schema() -> dict:
    return yaml.safe_load(resources.files("mmpcbench.schemas").joinpath(SCHEMA_FILE).read_text())


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(config: dict) -> dict:
    """Raise :class:`ConfigError` naming the first bad key (the deepest error), else return ``config``.
    The config's ``extensions`` are imported first: they may add members to the families."""
    if isinstance(config, dict) and isinstance(config.get("extensions"), list):
        families.load_extensions(config["extensions"])
    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(config))
    if not errors:
        _check_categories(config)
        _resolve_adapters(config)
        _check_models(config)
        _check_grpo(config)
        _check_methods(config)
        _check_members(config)
        _fill_resource_defaults(config)
        return config
    error = max(errors, key=lambda e: len(e.absolute_path))
    while error.context:  # anyOf/allOf: report the most specific cause
        error = max(error.context, key=lambda e: len(e.absolute_path))
    where = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        unexpected = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = sorted(error.schema.get("properties", {}))
        raise ConfigError(f"config key '{where}': unknown key(s) {unexpected}; known keys here: {known}")
    raise ConfigError(f"config key '{where}': {error.message}")


def resource_blocks(config: dict) -> dict[str, dict]:
    """Every ``resources`` block of the config by where it is (``diffusion``, ``models.<name>``, ...)."""
    blocks = {name: section["resources"] for name, section in config.items()
              if isinstance(section, dict) and isinstance(section.get("resources"), dict)}
    blocks.update({f"models.{name}": entry["resources"] for name, entry in config.get("models", {}).items()})
    return blocks


def _fill_resource_defaults(config: dict) -> None:
    """Give every ``resources`` block the schema's defaults for the keys it leaves out (``cpus_per_task``)."""
    properties = schema()["$defs"]["resources"]["properties"]
    defaults = {key: spec["default"] for key, spec in properties.items() if "default" in spec}
    for block in resource_blocks(config).values():
        for key, value in defaults.items():
            block.setdefault(key, value)


def _check_models(config: dict) -> None:
    unknown = sorted(set(config["completion"]["models"]) - set(config.get("models", {})))
    if unknown:
        raise ConfigError(
            f"config key 'completion.models': {unknown} are not in the registry 'models'; "
            f"known: {sorted(config.get('models', {}))}"
        )
    for name, entry in config.get("models", {}).items():
        if "teach" in entry and not entry.get("build_tiny"):
            raise ConfigError(f"config key 'models.{name}.teach': only a model the pipeline builds (build_tiny: true) "
                              f"is taught")


def _resolve_adapters(config: dict) -> None:
    """An entry over a base (a GRPO adapter, ``base`` + ``adapter: grpo``; or the base served, ``base`` +
    ``engine``) takes every setting of its base entry that it does not set itself; its base must be a
    registry entry of its own (named if not)."""
    registry = config.get("models", {})
    for name, entry in registry.items():
        if "base" not in entry:
            continue
        base = registry.get(entry["base"])
        if base is None or "base" in base:
            raise ConfigError(f"config key 'models.{name}.base': {entry['base']!r} is not a registry entry with "
                              f"weights of its own; known: {sorted(n for n, e in registry.items() if 'base' not in e)}")
        resolved = {**copy.deepcopy(base), **entry}
        resolved.pop("build_tiny", None)  # the base is built (demo), the adapter is trained
        resolved.pop("teach", None)
        registry[name] = resolved


def model_kind(config: dict, name: str) -> str:
    """How a completion model's rows are read in the tables: ``model`` (a model of its own: Tables 4/5,
    Figure 3's polygons and Table 6's best MLLM are over these alone), ``adapter`` (a GRPO adapter of a
    base) or ``variant`` (an entry over a ``base`` that is itself among the completion models — the same
    weights run another way, e.g. served: shown, marked ‡, never averaged in, or the base would count
    twice)."""
    entry = config["models"][name]
    if entry.get("adapter") == "grpo":
        return "adapter"
    return "variant" if entry.get("base") in config["completion"]["models"] else "model"


def adapter_entries(config: dict) -> dict[str, dict]:
    """The registry's GRPO adapter entries among the completion models: name -> entry."""
    return {name: config["models"][name] for name in config["completion"]["models"]
            if config["models"][name].get("adapter") == "grpo"}


def _check_grpo(config: dict) -> None:
    grpo = config["grpo"]
    if grpo["base"] not in config.get("models", {}) or "base" in config["models"][grpo["base"]]:
        raise ConfigError(f"config key 'grpo.base': {grpo['base']!r} is not a registry entry with weights of its own; "
                          f"known: {sorted(n for n, e in config.get('models', {}).items() if 'base' not in e)}")
    passes = grpo.get("passes")
    if isinstance(passes, dict) and set(passes) != set(grpo.get("tasks", [])):
        raise ConfigError(f"config key 'grpo.passes': per task, it names {sorted(passes)}, but grpo.tasks is "
                          f"{grpo.get('tasks')}: give every task its passes")
    try:
        for task in grpo.get("tasks", []):
            check_schedule(for_task(grpo, task))
    except ScheduleError as error:
        raise ConfigError(f"config key 'grpo': {error}") from None
    for name, entry in adapter_entries(config).items():
        if entry["base"] != grpo["base"]:
            raise ConfigError(f"config key 'models.{name}.base': {entry['base']!r}, but GRPO trains 'grpo.base' "
                              f"{grpo['base']!r}")
        if entry["base"] not in config["completion"]["models"]:
            raise ConfigError(f"config key 'completion.models': the GRPO adapter {name!r} is compared with its base "
                              f"{entry['base']!r}, which must complete too")
        if set(grpo["tasks"]) != {"i2t", "t2i"}:
            raise ConfigError(f"config key 'grpo.tasks': the adapter {name!r} completes both tasks, so GRPO must "
                              f"train both, not {grpo['tasks']}")


def _check_methods(config: dict) -> None:
    """``completion.controls`` and ``completion.baselines`` name registered methods of that kind."""
    from mmpcbench.completion.methods import BORROWING, NUMBERED, borrowing_method

    for key, kind in (("controls", "control"), ("baselines", "baseline")):
        for name in config["completion"][key]:
            try:
                method = borrowing_method(name)
            except ValueError as error:
                raise ConfigError(f"config key 'completion.{key}': {error}") from None
            if method.kind != kind:
                known = sorted(n for n, m in BORROWING.items() if m.kind == kind)
                known += [f"{prefix}<P>" for prefix, made in NUMBERED.items() if made.kind == kind]
                raise ConfigError(f"config key 'completion.{key}': {name!r} is a {method.kind}, not a {kind}; "
                                  f"known {kind}s: {known}")


def _check_members(config: dict) -> None:
    """Every family member the config names is declared in ``mmpcbench.families`` (or an extension)."""
    recbench, metrics, encoders = config["recbench"], config["metrics"], config["encoders"]
    named = [
        (families.RECOMMENDERS, "recbench.recommenders", recbench["recommenders"]),
        (families.IMPUTATIONS, "recbench.imputations", recbench["imputations"]),
        (families.TEXT_ENCODERS, "encoders.text.family", [encoders["text"]["family"]]),
        (families.IMAGE_ENCODERS, "encoders.image.family", [encoders["image"]["family"]]),
        (families.TASKS, "grpo.tasks", config["grpo"]["tasks"]),
    ]
    if "clip" in metrics.get("image", {}):
        named.append((families.IMAGE_ENCODERS, "metrics.image.clip.family", [metrics["image"]["clip"]["family"]]))
    for name, entry in config.get("models", {}).items():
        if "family" in entry:
            named.append((families.MLLM_FAMILIES, f"models.{name}.family", [entry["family"]]))
        if "engine" in entry:
            named.append((families.ENGINES, f"models.{name}.engine", [entry["engine"]]))
        if "serve" in entry:
            named.append((families.SERVERS, f"models.{name}.serve", [entry["serve"]]))
    for registry, where, names in named:
        if registry.unknown(names):
            raise ConfigError(f"config key '{where}': {registry.unknown_message(names)}")
    for name, entry in config.get("models", {}).items():
        family = families.MLLM_FAMILIES[entry["family"]] if "family" in entry else None
        if family and entry.get("dtype") in family.refused_dtypes:
            raise ConfigError(f"config key 'models.{name}.dtype': {family.refused_dtypes[entry['dtype']]}")
        _check_engine(name, entry)


# the keys that only the openai engine reads
SERVED_KEYS = ("serve", "serve_executable", "serve_args", "startup_timeout_s", "stop_timeout_s", "max_model_len",
               "base_url", "served_model", "api_key_env", "concurrency", "timeout_s", "retries", "backoff_s",
               "backoff_max_s", "image_max_pixels", "image_format")


def _check_engine(name: str, entry: dict) -> None:
    """A served entry names its endpoint (``base_url``) or the server its job starts (``serve``), not
    both; it is not a GRPO adapter; the in-process engine takes none of the served keys."""
    where = f"config key 'models.{name}"
    if entry.get("engine", "transformers") != "openai":
        stray = [key for key in SERVED_KEYS if key in entry]
        if stray:
            raise ConfigError(f"{where}': {stray} are settings of a served entry (engine: openai), not of engine "
                              f"{entry.get('engine', 'transformers')!r}")
        return
    if entry.get("adapter"):
        raise ConfigError(f"{where}.engine': a GRPO adapter completes in-process; serve its base instead")
    if bool(entry.get("serve")) == bool(entry.get("base_url")):
        raise ConfigError(f"{where}': a served entry needs either base_url (an endpoint that is already running) or "
                          f"serve (a server its job starts: {sorted(families.SERVERS)}), not "
                          f"{'both' if entry.get('serve') else 'neither'}")
    if not entry.get("serve"):
        for key in ("serve_executable", "serve_args", "startup_timeout_s", "max_model_len"):
            if key in entry:
                raise ConfigError(f"{where}.{key}': only an entry whose job starts its server (serve) takes it")
    generation = entry.get("generation", {})
    from mmpcbench.completion.served import REQUEST_FIELDS  # no torch: served.py imports PIL and httpx only lazily

    unknown = sorted(set(generation) - set(REQUEST_FIELDS) - {"do_sample"})
    if unknown:
        raise ConfigError(f"{where}.generation': {unknown} have no chat-completion request field; known: "
                          f"{sorted(REQUEST_FIELDS) + ['do_sample']}")


def _check_categories(config: dict) -> None:
    """The categories are known ones (:mod:`mmpcbench.data.categories`), and so are their overrides'."""
    from mmpcbench.data.categories import known_categories

    known = known_categories(config)
    unknown = [name for name in config["categories"] if name not in known]
    if unknown:
        source = "the demo's vocabulary" if "demo" in config else "Amazon Reviews 2023"
        raise ConfigError(f"config key 'categories': unknown categor{'y' if len(unknown) == 1 else 'ies'} "
                          f"{unknown}; known in {source}: {list(known)}")
    overrides = config["selection"].get("category_overrides", {})
    unknown = sorted(set(overrides) - set(config["categories"]))
    if unknown:
        raise ConfigError(
            f"config key 'selection.category_overrides': categories {unknown} are not in 'categories'"
        )


def load_config(path: str | Path) -> dict:
    config = yaml.safe_load(Path(path).read_text())
    return validate_config(config)


def selection_for(config: dict, category: str) -> dict:
    """The ``selection`` section for one category, with its overrides applied (nested keys merged)."""
    base = copy.deepcopy(config["selection"])
    override = base.pop("category_overrides", {}).get(category, {})
    for key, value in override.items():
        if isinstance(value, dict):
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return base
