"""The Rule base class: code, name, severity, confidence, a sectioned docstring, and ``check``."""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, ClassVar, Iterable, Iterator

from graphaudit.findings import Confidence, Finding, Fixup, Location, Severity
from graphaudit.names import common_scope, name_list, plural  # noqa: F401  (rules use them)

if TYPE_CHECKING:
    from graphaudit.analysis import Analyses
    from graphaudit.artifact import Artifact

#: The sections every rule docstring has, in this order.
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix-up", "Evidence")
_SECTION_RE = re.compile(r"^## (.+?)\s*$", re.M)


#: Formats whose whole graph and saver `graphaudit fix` rewrites (format values, as the Artifact names them).
REWRITABLE_GRAPHS = frozenset({"graphdef", "graphdef_text", "metagraph", "saved_model_v1"})


def graph_rewritable(artifact: "Artifact") -> bool:
    """Whether `graphaudit fix` can rewrite this artifact's graph (and the checkpoint beside it)."""
    return artifact.format.value in REWRITABLE_GRAPHS


def restored_under_its_key(artifact: "Artifact", name: str) -> bool:
    """Whether loading the artifact reads variable ``name`` from the checkpoint under its ``checkpoint_key``:
    a restore op restores it, or (no restore op) a TF1 Saver keys it by name."""
    var = artifact.variables[name]
    has_restore = any(m.restore_op for m in artifact.meta_graphs if m.graph == var.graph)
    return bool(var.checkpoint_key) and (var.restored is True or not has_restore)


def collection_trainable(artifact: "Artifact", names: Iterable[str]) -> bool:
    """Whether a MetaGraph's TRAINABLE_VARIABLES collection alone marks these variables trainable."""
    return artifact.format.value in ("metagraph", "saved_model_v1") and all(
        artifact.variables[n].trainable_source == "TRAINABLE_VARIABLES collection"
        for n in names if artifact.variables[n].trainable)


class Rule:
    """Base class. Subclasses set the class attributes and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    #: The symptom in one line, with code, for the README's rule table (docs.readme_table).
    headline: ClassVar[str] = ""
    severity: ClassVar[Severity]
    confidence: ClassVar[Confidence] = Confidence.HIGH
    #: The rule judges stored values or checkpoint keys: an artifact read without them
    #: (`Artifact.values_missing`) is reported as not checked by it.
    needs_values: ClassVar[bool] = False
    #: Every fix-up snippet template the rule's findings can print (graphaudit/rules/snippets.py).
    fixup_templates: ClassVar[tuple] = ()

    def check(self, artifact: "Artifact", facts: "Analyses") -> Iterator[Finding]:
        raise NotImplementedError

    # -- construction helpers ------------------------------------------------------------
    def finding(self, artifact: "Artifact", message: str, *, fixup: Fixup, graph: str = "", scope: str = "",
                nodes: Iterable[str] = (), variables: Iterable[str] = (), evidence: Iterable[str] = (),
                severity: Severity | None = None, confidence: Confidence | None = None) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            confidence=confidence or self.confidence,
            message=message,
            location=Location(artifact=artifact.path, graph=graph, scope=scope,
                              nodes=tuple(nodes), variables=tuple(sorted(variables))),
            evidence=tuple(evidence),
            fixup=fixup,
        )

    @classmethod
    def example_snippets(cls) -> list:
        """The fix-up snippets rendered for the docs' example: its "Use instead" and "Fix-up" code."""
        return []

    # -- documentation -------------------------------------------------------------------
    @classmethod
    def summary(cls) -> str:
        doc = inspect.getdoc(cls) or ""
        return doc.split("\n", 1)[0].strip()

    @classmethod
    def sections(cls) -> dict[str, str]:
        """The docstring's ``## Section`` bodies, keyed by title."""
        doc = inspect.getdoc(cls) or ""
        parts = _SECTION_RE.split(doc)
        out: dict[str, str] = {}
        for title, body in zip(parts[1::2], parts[2::2]):
            out[title.strip()] = body.strip("\n").rstrip()
        return out

    @classmethod
    def missing_sections(cls) -> list[str]:
        present = cls.sections()
        return [s for s in DOC_SECTIONS if not present.get(s)]
