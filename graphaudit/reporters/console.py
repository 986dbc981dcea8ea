"""The terminal report: findings grouped by artifact, each with its fix-up title, then a summary."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from graphaudit.findings import ArtifactResult, Finding, Report, Severity
from graphaudit.reporters.base import Reporter, docs_url
from graphaudit.reporters.escaping import escape, escape_lines

STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _ticks(text: str) -> Text:
    """Render `identifiers` in bold; the backticks stay, so plain output keeps them apart."""
    text = escape(text)
    out = Text()
    parts = text.split("`")
    for k, part in enumerate(parts):
        if k % 2 and k < len(parts) - 1:
            out.append(f"`{part}`", style="bold")
        else:
            out.append(part if k % 2 == 0 else f"`{part}")
    return out


class ConsoleReporter(Reporter):
    def __init__(self, stream, *, show_fixes: bool = False, color: bool | None = None, verbose: bool = False,
                 quiet: bool = False, **kw) -> None:
        super().__init__(stream, show_fixes=show_fixes)
        self.verbose = verbose
        self.quiet = quiet
        self.console = Console(file=stream, highlight=False, soft_wrap=True,
                               force_terminal=color, no_color=color is False)

    def handle(self, result: ArtifactResult) -> None:
        c = self.console
        if result.error:
            # Findings made before a rule or reader stopped are still shown below the error.
            c.print(Text.assemble((escape(result.path), "bold"), ": ", ("error", "bold red"), ": ",
                                  _ticks(result.error)))
        if result.warning:
            c.print(Text.assemble((escape(result.path), "bold"), ": ", ("warning", "bold yellow"), ": ",
                                  _ticks(result.warning)))
            return
        for note in () if self.quiet else result.notes:  # what could not be checked, e.g. no checkpoint
            c.print(Text.assemble((escape(result.path), "bold"), ": ", ("note", "cyan"), ": ", _ticks(note)))
        if not result.findings:
            if self.verbose and not result.error:
                s = result.stats
                hidden = f", {result.hidden} hidden by the baseline" if result.hidden else ""
                c.print(Text.assemble((escape(result.path), "bold"), ": ",
                                      ("no new findings" if result.hidden else "clean", "green"),
                                      f" ({result.format}, {s.nodes:,} nodes, {s.variables:,} variables{hidden})"))
            return
        s = result.stats
        c.print(Text.assemble((escape(result.path), "bold underline"),
                              f"  ({result.format}, {s.nodes:,} nodes, {s.variables:,} variables)"))
        for f in result.findings:
            self._finding(f)
        c.print()

    def _finding(self, f: Finding) -> None:
        c = self.console
        loc = f.location
        graph = "" if loc.graph in ("", "graph") else f"in `{loc.graph}`"
        where = " ".join(p for p in (graph, f"`{loc.scope}`" if loc.scope else "") if p)
        # The code links to the rule's page on terminals that show hyperlinks (as ruff does).
        head = Text.assemble("  ", (f.code, f"bold link {docs_url(f.code)}"), " ", (f.severity.value, STYLES[f.severity]),
                             f" [{f.name}]", *((" ", _ticks(where)) if where else ()))
        c.print(head)
        c.print(Text.assemble("    ", _ticks(f.message)))
        if f.fixup.title:
            c.print(Text.assemble("    ", ("fix: ", "green"), _ticks(f.fixup.title)))
        if self.show_fixes:
            if f.fixup.detail:
                c.print(Text.assemble("    ", _ticks(f.fixup.detail)))
            if f.fixup.title:
                c.print(Text.assemble("    ", ("applies: ", "dim"), _ticks("automatic: `graphaudit fix` repairs the artifact"
                                      if f.fixup.automatic else "manual: change the code that built the artifact")))
            for line in f.evidence:
                c.print(Text.assemble("    ", ("evidence: ", "dim"), _ticks(line)))
            c.print(Text.assemble("    ", ("docs: ", "dim"), docs_url(f.code)))
            if f.fixup.code:
                code = escape_lines(f.fixup.code.rstrip())
                if c.is_terminal:
                    from rich.syntax import Syntax  # pygments: ~30 ms, only when code is shown

                    c.print(Syntax(code, "python", theme="ansi_dark", padding=(0, 4), word_wrap=True,
                                   background_color="default"))
                else:  # piped or saved: plain lines, never cropped to a terminal width
                    c.print(Text("\n".join("    " + line if line else "" for line in code.splitlines())))

    def stop(self, report: Report) -> None:
        if self.quiet:
            return
        counts = report.counts()
        total = sum(counts.values())
        parts = [f"{len(report.artifacts)} artifact{'s' if len(report.artifacts) != 1 else ''} checked"]
        if total:
            detail = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items() if n)
            parts.append(f"{total} finding{'s' if total != 1 else ''} ({detail})")
        else:
            parts.append("no findings")
        if report.errors:
            parts.append(f"{len(report.errors)} unreadable")
        if report.warnings:
            parts.append(f"{len(report.warnings)} not read (see the warnings)")
        for code, n in report.silenced:
            parts.append(f"{n} silenced by {escape(code)}")
        if report.baseline_hidden:
            n = report.baseline_hidden
            parts.append(f"{n} finding{'s' if n != 1 else ''} hidden by the baseline")
        self._skipped(report)
        style = "bold red" if not report else "bold green"
        self.console.print(Text(", ".join(parts), style=style))
        if total and not self.show_fixes:
            self.console.print(Text("Run with --show-fixes for fix-up code, or `graphaudit explain CODE`.", style="dim"))

    def _skipped(self, report: Report) -> None:
        """What a folder search passed over: one line, or every file by kind with --verbose."""
        n = report.skipped_count
        if n:
            hint = "" if self.verbose else " (--verbose lists them)"
            what = "files that are not TensorFlow artifacts" if n != 1 else "file that is not a TensorFlow artifact"
            self.console.print(Text(f"skipped {n:,} {what}{hint}", style="dim"))
        if not self.verbose:
            return
        if report.baseline_stale:
            n = len(report.baseline_stale)
            self.console.print(Text(f"{n} baseline entr{'ies' if n != 1 else 'y'} no finding matched "
                                    "(fixed, or changed; --write-baseline refreshes the file):", style="dim"))
            for entry in report.baseline_stale:
                self.console.print(Text(f"    {escape(entry)}", style="dim"))
        for kind, paths in report.skipped:
            self.console.print(Text(f"  {kind}: {len(paths):,}", style="dim"))
            for path in paths:
                self.console.print(Text(f"    {path}", style="dim"))
        if report.excluded:
            self.console.print(Text(f"excluded {len(report.excluded):,} paths:", style="dim"))
            for item in report.excluded:
                self.console.print(Text(f"    {item}", style="dim"))
