"""Assignments as data: find a spec by id or path, validate it, and answer questions about it."""

from __future__ import annotations

import functools
import os
import importlib.util
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from grader.pack import PACK_VARIABLE, PROJECT, SCHEMAS, Pack, current_pack  # noqa: F401  (re-exported)

# The demo pack: the six shipped assignments, found beside the package when it runs from a checkout.
SPECS = PROJECT / "specs"
REFERENCES = PROJECT / "reference"
EXAMPLES = PROJECT / "submissions_example"
SUPPORT = PROJECT / "support"
DEFAULT_SPEC = "rnn-seq2one"
# Feedback is meant to be acted on, so results and checks show at once; the grader's own log is for staff.
VISIBILITY = {"results": "visible", "checks": "visible", "stdout": "hidden"}


class SpecError(Exception):
    """A spec that cannot be found or does not follow spec.schema.json; the text says which."""


class NoPack(SpecError):
    """No assignment pack to look in: an installed grader ships none, and none was named."""


def no_pack_message() -> str:
    if os.environ.get(PACK_VARIABLE):
        return (f"{PACK_VARIABLE}={os.environ[PACK_VARIABLE]} is not an assignment pack (it has no specs/ folder); "
                "point it at one, or make one with `grade new-pack DIR`")
    return ("no assignment pack: this grader is installed without assignments of its own. Point it at a "
            f"course's pack with --pack DIR (or {PACK_VARIABLE}=DIR), or make one with `grade new-pack DIR`")


def _pack_of(spec_file: Path) -> Pack:
    """The pack a spec file belongs to: the folder above its specs/ when that holds a reference/."""
    root = spec_file.absolute().parent.parent
    return Pack(root) if (root / "reference").is_dir() else current_pack()


@dataclass
class Spec:
    data: dict
    path: Path
    pack: Pack = field(default_factory=current_pack)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def version(self) -> str:
        return self.data["version"]

    @property
    def seed(self) -> int:
        return self.data["seed"]

    @property
    def title(self) -> str:
        return self.data["title"]

    @property
    def summary(self) -> str:
        """One line for `grade --list-specs`: the spec's own `summary`, else its title."""
        return self.data.get("summary", self.title)

    @property
    def model(self) -> dict:
        """The class-style interface (`RNN` with methods); empty for a function-style spec."""
        return self.data.get("model", {})

    @property
    def functions(self) -> dict:
        """The function-style interface: module-level functions, their arguments and what they return."""
        return self.data.get("functions", {})

    @property
    def examples(self) -> Path:
        """Where this spec's examples and their expectations.json live: submissions_example/<id>/, or
        submissions_example/ itself for the default spec (whose examples came first)."""
        own = self.pack.examples / self.id
        return own if own.is_dir() or self.id != DEFAULT_SPEC else self.pack.examples

    @property
    def marker(self) -> str:
        """What a file that is meant for this spec contains: `class RNN`, or `def <its first function>`."""
        return f"class {self.model['class']}" if self.model else f"def {next(iter(self.functions))}"

    def support_modules(self) -> dict[str, str]:
        """Modules the assignment gives students to import (`rnn_utils`): name -> source, from the
        folder the spec names under support/; the child installs them before loading a submission."""
        folder = self.support_folder
        if folder is None:
            return {}
        return {p.stem: p.read_text() for p in sorted(folder.glob("*.py"))}

    @property
    def support_folder(self) -> Path | None:
        folder = self.data.get("support")
        return self.pack.support / folder if folder else None

    @property
    def skeleton(self) -> Path | None:
        """The code the assignment gives students (`skeleton`, a path under specs/), which the
        similarity check takes out of every submission; None when the spec names none."""
        name = self.data.get("skeleton")
        if not name:
            return None
        beside = self.path.parent / name  # a spec kept outside specs/ may bring its own
        return beside if beside.is_file() else self.pack.specs / name

    @property
    def checks(self) -> list[dict]:
        return self.data["checks"]

    @property
    def configs(self) -> list[dict]:
        return self.data["configs"]

    @property
    def max_score(self) -> float:
        return float(sum(c["points"] for c in self.checks))

    @property
    def parameters(self) -> list[str]:
        return list(self.model["parameters"])

    def visibility(self, of: str) -> str:
        """When students see `results`, `checks` or `stdout` (Gradescope's values); see VISIBILITY."""
        return self.data.get("visibility", {}).get(of, VISIBILITY[of])

    def setting(self, check: dict, key: str):
        """A check's setting (tolerance, eps, calls, ...), or its kind's default from the schema."""
        return check[key] if key in check else _check_defaults()[check["kind"]][key]

    def check_visibility(self, check: dict) -> str:
        return check.get("visibility", self.visibility("checks"))

    def gradient_key(self, name: str) -> str:
        return self.model["gradient_key"].format(name=name)

    def shape(self, dims: list, config: dict) -> tuple[int, ...]:
        """A shape from size names (looked up in the configuration) and literal integers."""
        return tuple(d if isinstance(d, int) else int(config[d]) for d in dims)

    def parameter_shapes(self, config: dict) -> dict[str, tuple[int, ...]]:
        return {name: self.shape(dims, config) for name, dims in self.model["parameters"].items()}

    def constructor_args(self, config: dict) -> list[int]:
        return [int(config[s]) for s in self.model["sizes"]]

    def members(self) -> dict[str, list[str]]:
        """What the interface check asks the child to describe: the class and its methods, the functions."""
        members = {self.model["class"]: ["__init__", *self.model["methods"]]} if self.model else {}
        members.update({name: [] for name in self.model.get("functions", {})})
        members.update({name: [] for name in self.functions})
        return members

    @cached_property
    def reference(self):
        """The reference module, loaded in the grader's process only (never in a submission's)."""
        path = self.reference_path
        module_spec = importlib.util.spec_from_file_location(f"grader_reference_{self.id.replace('-', '_')}", path)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module

    @property
    def reference_path(self) -> Path:
        return self.pack.references / self.data["reference"]

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the spec as loaded and of its reference: what a report's scores depend on."""
        import hashlib
        digest = hashlib.sha256(json.dumps(self.data, sort_keys=True).encode())
        digest.update(self.reference_path.read_bytes())
        for name, source in sorted(self.support_modules().items()):
            digest.update(name.encode() + source.encode())
        return digest.hexdigest()

    def limits(self):
        from grader.sandbox.process import Limits
        return Limits(**self.data.get("limits", {}))


def _validated_marker(schema: bytes, data: dict) -> Path | None:
    """A file whose existence records that this spec passed this schema (both hashed into its name).
    GRADER_CACHE=off turns the cache off."""
    import hashlib
    import os

    if os.environ.get("GRADER_CACHE") == "off":
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnn-grader" / "valid-specs"
    digest = hashlib.sha256(schema + json.dumps(data, sort_keys=True).encode()).hexdigest()
    return root / digest


@functools.cache
def _check_defaults() -> dict:
    return json.loads((SCHEMAS / "spec.schema.json").read_text())["x-check-defaults"]


def available(pack: Pack | None = None) -> list[Spec]:
    """Every spec of the pack (the current one by default): the default first, then by id."""
    pack = pack or current_pack()
    found = [load(p) for p in _spec_files(pack)]
    return sorted(found, key=lambda s: (s.id != DEFAULT_SPEC, s.id))


def _spec_files(pack: Pack) -> list[Path]:
    return sorted(p for p in pack.specs.glob("*.json") if not p.name.endswith(".schema.json"))


def load(name_or_path: str | Path = DEFAULT_SPEC) -> Spec:
    """A spec by id (a file under the current pack's specs/) or by path to a JSON file (whose pack is the
    folder above its specs/), validated against the engine's schema."""
    path, pack = Path(name_or_path), None
    if not path.suffix == ".json" or not path.exists():
        pack = current_pack()
        candidate = pack.specs / f"{name_or_path}.json"
        if not candidate.exists():
            if not pack.specs.is_dir():
                raise NoPack(no_pack_message())
            known = ", ".join(sorted((p.stem for p in _spec_files(pack)), key=lambda i: (i != DEFAULT_SPEC, i)))
            raise SpecError(f"no spec named {str(name_or_path)!r}; known specs: {known}")
        path = candidate
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from None
    pack = pack or _pack_of(path)
    validate(data, where=str(path), pack=pack)
    return Spec(data, path, pack)


def validate(data: dict, where: str = "spec", pack: Pack | None = None) -> None:
    pack = pack or current_pack()
    schema_text = (SCHEMAS / "spec.schema.json").read_bytes()
    marker = _validated_marker(schema_text, data)
    if marker is None or not marker.exists():
        import jsonschema  # ~50 ms to import: paid once per spec and schema, not per grade

        schema = json.loads(schema_text)
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            at = "/".join(str(p) for p in first.path) or "(top level)"
            raise SpecError(f"{where}: {at}: {first.message}")
        if marker is not None:
            try:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
            except OSError:
                pass  # no cache: validate every time
    names = [c["name"] for c in data["checks"]]
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: check names must be unique")
    if "support" in data and not (pack.support / data["support"]).is_dir():
        raise SpecError(f"{where}: support folder {data['support']} not found under {pack.support}")
    if not (pack.references / data["reference"]).exists():
        raise SpecError(f"{where}: reference {data['reference']} not found under {pack.references}")
    functions = data.get("functions", {})
    for name, function in functions.items():
        named = function.get("calls", []) + ([function["backward_of"]] if "backward_of" in function else [])
        if any(other not in functions for other in named):
            raise SpecError(f"{where}: function {name} names a function the spec does not describe")
        inputs = functions[function["backward_of"]]["args"] if "backward_of" in function else function["args"]
        if any(arg not in data.get("inputs", {}) for arg in inputs):
            raise SpecError(f"{where}: function {name} takes an argument that `inputs` does not describe")
    for check in data["checks"]:
        if any(i >= len(data["configs"]) for i in check.get("configs", [])):
            raise SpecError(f"{where}: check {check['name']} names a config that does not exist")
        if check["kind"].startswith("function_"):
            function = functions.get(check["function"])
            if function is None:
                raise SpecError(f"{where}: check {check['name']} names a function the spec does not describe")
            named = check.get("outputs", []) + ([check["gradient"]] if "gradient" in check else [])
            if any(n not in function["returns"] for n in named):
                raise SpecError(f"{where}: check {check['name']} names an output {check['function']} does not return")
            if check["kind"] == "function_gradient" and check["gradient"] not in function.get("gradients", {}):
                raise SpecError(f"{where}: check {check['name']}: {check['function']} has no `gradients` entry "
                                f"for {check['gradient']}")
