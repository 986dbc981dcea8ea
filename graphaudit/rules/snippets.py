"""Fix-up snippets: code templates rendered with a finding's names, and the names they may assume."""

from __future__ import annotations

import re
from string import Template
from typing import Iterable, Sequence

from graphaudit.records import dataclass

#: The names a snippet may use without defining them. The test suite defines exactly these when it
#: executes every snippet (tests/test_fixup_snippets.py); docs/fixup-snippets.md lists them.
ASSUMED: dict[str, str] = {
    "tf": "`import tensorflow as tf`",
    "tf_keras": "`import tf_keras`: Keras 2, the Keras of `tf.compat.v1` graphs",
    "keras": "`import keras`: Keras 3, which `tf.keras` is since TF 2.16 (or `tf_keras` for a `TF2 (tf_keras or Keras 3)` snippet)",
    "images": "the image batch the backbone reads: a `tf.compat.v1.placeholder` (TF1) or a `keras.Input` (TF2)",
    "weights": "the path of the backbone's Keras `.h5` weights file (what `weights=\"imagenet\"` downloads)",
    "sess": "TF1: the `tf.compat.v1.Session` that runs your graph",
    "backbone": "the pretrained Keras model as your code built it",
    "loss": "TF1: the scalar loss your train op minimizes",
    "checkpoint": "TF1: the checkpoint prefix your artifact is saved to, or restores from",
}

#: How every snippet starts: a comment naming the TensorFlow world it is for. A fix-up's code is
#: these snippets, one after the other; `split` finds them again by these headers.
HEADER_RE = re.compile(r"^# (TF1|TF2|pyproject\.toml)\b.*$", re.M)


@dataclass(frozen=True)
class Snippet:
    """One runnable alternative: a constant header (its identity) and the rendered code."""

    header: str
    code: str

    def text(self) -> str:
        return f"# {self.header}\n{self.code.rstrip()}\n"


@dataclass(frozen=True)
class SnippetTemplate:
    """A snippet whose code names (`$arch`, `$scope`...) are filled in from a finding."""

    header: str
    code: str

    def render(self, **names: str) -> Snippet:
        return Snippet(self.header, Template(self.code).substitute(**names))


def join(snippets: Iterable[Snippet]) -> str:
    """A fix-up's `code`: the snippets separated by blank lines."""
    return "\n".join(s.text() for s in snippets)


def split(code: str) -> list[Snippet]:
    """The snippets of a fix-up's `code`, by their headers."""
    starts = [m.start() for m in HEADER_RE.finditer(code)]
    if code.strip() and (not starts or code[:starts[0]].strip()):
        raise ValueError(f"fix-up code must start with a `# TF1 ...`, `# TF2 ...` or `# pyproject.toml ...` "
                         f"header; found: {code.strip().splitlines()[0]!r}")
    out = []
    for start, end in zip(starts, [*starts[1:], len(code)]):
        header, _, body = code[start:end].partition("\n")
        out.append(Snippet(header[2:], body.strip("\n") + "\n"))
    return out


_FENCE_RE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)


def fenced_blocks(markdown: str) -> list[str]:
    """The bodies of the python code blocks of a docstring section."""
    return [body for lang, body in _FENCE_RE.findall(markdown) if lang in ("python", "")]


# -- names from the finding ----------------------------------------------------------------------

# A numbered block in a Keras application's layer names: `block5_conv4`, `block_16_project`,
# `conv5_block3_1_conv` (stage `conv5`), `block7a_expand_conv`.
_BLOCK_RE = re.compile(r"^([A-Za-z]+_?)(\d+)([a-z]?)_")


def constructor(architecture: str | None) -> tuple[str, str] | None:
    """The `keras.applications` function and its leading arguments for a catalogue variant:
    "MobileNetV2 alpha=0.35" -> ("MobileNetV2", "alpha=0.35, "); None when it is unknown."""
    if not architecture:
        return None
    name, *options = architecture.split()
    args = []
    for option in options:
        key, eq, value = option.partition("=")
        args.append(f"{key}={value}" if eq else f"{key}=True")
    return name, "".join(a + ", " for a in args)


def finetune_patterns(variables: Sequence[str], scope: str = "") -> list[str]:
    """The layer-name patterns of the blocks the variables are in: `block5_*` (VGG19),
    `block_16_*` (MobileNetV2), `conv5_*` (ResNet50), under the group's scope; a layer outside
    numbered blocks gives its own name (`Conv_1/*`)."""
    prefix = f"{scope}/" if scope else ""
    found: dict[str, tuple] = {}
    for name in variables:
        relative = name[len(prefix):] if prefix and name.startswith(prefix) else name
        layer = relative.split("/", 1)[0]
        m = _BLOCK_RE.match(layer)
        if m:
            found[f"{prefix}{m.group(1)}{m.group(2)}{m.group(3)}_*"] = (0, int(m.group(2)), m.group(3))
        else:
            found[f"{prefix}{layer}/*" if "/" in relative else name] = (1, 0, layer)
    return sorted(found, key=lambda p: (found[p], p))


#: A tf_keras or Keras 3 VGG19 without its top, built at the root scope: what the docs' fix-up
#: code is rendered for (`Rule.example_snippets`), and what the test suite builds to run it.
VGG19_VARIABLES: tuple[str, ...] = tuple(sorted(
    f"block{b}_conv{c}/{w}" for b, convs in enumerate((2, 2, 4, 4, 4), 1)
    for c in range(1, convs + 1) for w in ("kernel", "bias")))
