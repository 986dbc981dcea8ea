"""``--format junit``: JUnit XML as ruff writes it: a testsuite per artifact, a failing testcase per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from graphaudit.findings import Report
from graphaudit.reporters.base import Reporter
from graphaudit.reporters.escaping import escape


def junit_tree(report: Report) -> ET.Element:
    # Every string from an artifact goes through escape(): XML 1.0 cannot carry control characters.
    root = ET.Element("testsuites", name="graphaudit")
    total = failures = errors = 0
    for art in report.artifacts:
        path = escape(art.path)
        suite = ET.SubElement(root, "testsuite", name=path)
        cases = fails = errs = 0
        if art.error:
            case = ET.SubElement(suite, "testcase", name="unreadable", classname=path)
            ET.SubElement(case, "error", message=escape(art.error))
            cases, errs = cases + 1, errs + 1
        for f in art.findings:
            case = ET.SubElement(suite, "testcase", name=f"graphaudit.{f.code}", classname=path)
            failure = ET.SubElement(case, "failure", message=escape(f"{f.code} {f.message}"),
                                    type=f.severity.value)
            where = f.location.graph + (f"/{f.location.scope}" if f.location.scope else "")
            failure.text = "\n".join(escape(line) for line in (
                f"{f.name} ({f.severity.value}, {f.confidence.value} confidence) in {where or 'the artifact'}",
                *f.evidence, *((f"fix: {f.fixup.title}",) if f.fixup.title else ())))
            cases, fails = cases + 1, fails + 1
        if not art.error and not art.findings:
            ET.SubElement(suite, "testcase", name="no findings", classname=path)
            cases += 1
        suite.set("tests", str(cases))
        suite.set("failures", str(fails))
        suite.set("errors", str(errs))
        total, failures, errors = total + cases, failures + fails, errors + errs
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(errors))
    return root


class JunitReporter(Reporter):
    def stop(self, report: Report) -> None:
        tree = junit_tree(report)
        ET.indent(tree)
        self.stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        self.stream.write(ET.tostring(tree, encoding="unicode"))
        self.stream.write("\n")
