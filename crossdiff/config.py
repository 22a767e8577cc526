"""Configuration: `configs/base.yaml` ⊕ a stage file ⊕ `key=value` overrides, in struct mode.

`base.yaml` holds every key once with its default and a comment. A stage file and the command
line may only change existing keys; an unknown key is a `UserError` naming the closest known key.
A stage file may build on another one with a top-level `extends: other.yaml` (a path relative to
the file's folder): base.yaml ⊕ the parent (itself possibly extending another) ⊕ the file ⊕ the
command line. `extends` is a loading directive, not a setting: it never appears in the merged config.
An override key that exists in exactly one section may be written without its section
(`lr=1e-5` means `train.lr=1e-5`), so the seed's commands (`test_checkpoint=...`) keep working.
The merged config is read-only: derived values live in the runtime, never written back.
"""

from __future__ import annotations

import argparse
import difflib
import weakref
from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig, OmegaConf

from crossdiff.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
# Number-valued keys that also accept a word (checked by the code that reads them).
NUMBER_OR_WORD = {"test.test_limit": {"full"}}
BASE_CONFIG = CONFIG_DIR / "base.yaml"
EXTENDS = "extends"  # top-level key of a stage file naming the stage file it builds on


def load_config(cfg_path: str | Path | None = None, overrides: Iterable[str] = ()) -> DictConfig:
    """Return the merged, read-only config for `cfg_path` (a stage file) and `overrides` (`key=value`)."""
    base = _load_yaml(BASE_CONFIG)
    known = _flat_keys(base)
    cfg = base
    if cfg_path is not None:
        for path, stage in _stage_chain(Path(cfg_path)):
            _check_keys(_flat_keys(stage), known, source=str(path))
            cfg = OmegaConf.merge(cfg, stage)
    dotlist = [_qualify(item, known) for item in overrides]
    if dotlist:
        try:
            cli = OmegaConf.from_dotlist(dotlist)
        except Exception as e:  # YAML syntax of a value
            raise UserError(f"a command-line override is not valid YAML ({' '.join(dotlist)}): {e}") from e
        _check_types(cli, base)
        cfg = OmegaConf.merge(cfg, cli)
    OmegaConf.set_struct(cfg, True)
    OmegaConf.set_readonly(cfg, True)
    _remember_command_line(cfg, [item.split("=", 1)[0] for item in dotlist])
    return cfg


# The keys each load_config result got from the command line, by object (configs are read-only and
# unhashable): "unless you set it" must hold even when the value set equals the default.
_COMMAND_LINE: dict[int, tuple[weakref.ref, frozenset[str]]] = {}


def _remember_command_line(cfg: DictConfig, keys: list[str]) -> None:
    ident = id(cfg)
    _COMMAND_LINE[ident] = (weakref.ref(cfg, lambda _: _COMMAND_LINE.pop(ident, None)), frozenset(keys))


def keep_command_line(source: DictConfig, derived: DictConfig) -> DictConfig:
    """`derived` (a config built from `source`) remembers the command-line keys of `source`; returns it."""
    _remember_command_line(derived, list(command_line_keys(source)))
    return derived


def command_line_keys(cfg: DictConfig) -> frozenset[str]:
    """The dotted keys (`diffusion.guidance_scale`) the `key=value` overrides of load_config set for `cfg`."""
    ref, keys = _COMMAND_LINE.get(id(cfg), (None, frozenset()))
    return keys if ref is not None and ref() is cfg else frozenset()


def config_parser(description: str, default_cfg: str) -> argparse.ArgumentParser:
    """The command line every config-driven entry script shares: `--cfg FILE key=value ...`."""
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0])
    parser.add_argument("--cfg", default=default_cfg, help=f"stage config file (default: {default_cfg})")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    return parser


def to_yaml(cfg: DictConfig) -> str:
    """The resolved config as YAML text (what every run writes next to its outputs)."""
    return OmegaConf.to_yaml(cfg, resolve=True)


def section_kwargs(section: DictConfig) -> dict:
    """A config section as plain keyword arguments for a builder (config stops at the builders)."""
    return OmegaConf.to_container(section, resolve=True)


def stage_parent(path: str | Path) -> Path | None:
    """The stage file `path` extends (resolved against its folder), or None."""
    return _pop_extends(_load_yaml(Path(path)), Path(path))


def _stage_chain(path: Path) -> list[tuple[Path, DictConfig]]:
    """The stage files from the root ancestor down to `path`, each without its `extends` key."""
    chain: list[tuple[Path, DictConfig]] = []
    while path is not None:
        if any(path.resolve() == seen.resolve() for seen, _ in chain):
            cycle = " -> ".join(str(p) for p, _ in chain) + f" -> {path}"
            raise UserError(f"config files extend each other in a cycle: {cycle}; remove one '{EXTENDS}:'")
        stage = _load_yaml(path)
        parent = _pop_extends(stage, path)
        chain.append((path, stage))
        path = parent
    return chain[::-1]


def _pop_extends(stage: DictConfig, path: Path) -> Path | None:
    """Remove the `extends` key of a stage file; the parent path it names, checked to exist."""
    if EXTENDS not in stage:
        return None
    name = stage.pop(EXTENDS)
    if not isinstance(name, str) or not name.strip():
        raise UserError(f"{path}: '{EXTENDS}' must name a config file (e.g. {EXTENDS}: demo_base.yaml), got {name!r}")
    parent = path.parent / name
    if not parent.is_file():
        raise UserError(f"{path}: '{EXTENDS}: {name}' names a file that does not exist ({parent}); "
                        f"the path is relative to the folder of {path.name}")
    return parent


def _load_yaml(path: Path) -> DictConfig:
    if not path.is_file():
        raise UserError(f"config file not found: {path} (stage configs live in {CONFIG_DIR})")
    try:
        cfg = OmegaConf.load(path)
    except Exception as e:  # yaml syntax errors carry line numbers
        raise UserError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(cfg, DictConfig):
        raise UserError(f"{path}: a config file must be a mapping of keys to values")
    return cfg


def _flat_keys(cfg: DictConfig, prefix: str = "") -> list[str]:
    keys = []
    for key, value in cfg.items_ex(resolve=False):
        name = f"{prefix}{key}"
        keys.append(name)
        if isinstance(value, DictConfig):
            keys.extend(_flat_keys(value, prefix=f"{name}."))
    return keys


def _closest(key: str, known: list[str]) -> str:
    leaf = key.split(".")[-1]
    candidates = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if not candidates:
        candidates = [k for k in known if k.split(".")[-1] in difflib.get_close_matches(leaf, [k.split(".")[-1] for k in known], n=1, cutoff=0.5)]
    return f"; did you mean '{candidates[0]}'?" if candidates else ""


def _check_keys(keys: list[str], known: list[str], source: str) -> None:
    for key in keys:
        if key not in known:
            raise UserError(f"{source}: unknown config key '{key}'{_closest(key, known)} (every key is listed in {BASE_CONFIG})")


def _qualify(item: str, known: list[str]) -> str:
    """Turn `key=value` into `section.key=value` when `key` names exactly one leaf."""
    if "=" not in item:
        raise UserError(f"command-line override '{item}' must look like key=value")
    key, value = item.split("=", 1)
    key = key.strip().lstrip("+")
    if key in known:
        return f"{key}={value}"
    matches = [k for k in known if k.endswith(f".{key}")]
    if len(matches) == 1:
        return f"{matches[0]}={value}"
    if len(matches) > 1:
        raise UserError(f"override '{key}' is ambiguous: write one of {', '.join(matches)}")
    raise UserError(f"unknown config key '{key}'{_closest(key, known)} (every key is listed in {BASE_CONFIG})")


def _check_types(cli: DictConfig, base: DictConfig, prefix: str = "") -> None:
    """Reject overrides whose type cannot stand for the default's (e.g. batch_size=abc)."""
    for key, value in cli.items_ex(resolve=False):
        default = base.get(key)
        name = f"{prefix}{key}"
        if isinstance(value, DictConfig) and isinstance(default, DictConfig):
            _check_types(value, default, prefix=f"{name}.")
        elif default is None or value is None:
            continue
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise UserError(f"config key '{name}' expects true/false, got {value!r}")
        elif value in NUMBER_OR_WORD.get(name, ()):
            continue
        elif isinstance(default, (int, float)) and not isinstance(default, bool) and not isinstance(value, (int, float)):
            raise UserError(f"config key '{name}' expects a number, got {value!r}")
        elif isinstance(default, float) and isinstance(value, bool):
            raise UserError(f"config key '{name}' expects a number, got {value!r}")
