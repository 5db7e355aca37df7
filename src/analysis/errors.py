"""The errors every layer raises, and how a notebook shows them.

Nothing here knows about the report runner: analysis modules raise these, the runner
and the CLI recognise them.
"""

from __future__ import annotations

#: The first word of a notebook's error line when the analysis did not apply.
NOT_APPLICABLE = "NotApplicable"


class DataError(ValueError):
    """A problem with the user's data, phrased as one line that says how to fix it."""


class NotApplicable(ValueError):
    """An analysis that cannot run on this data (no repeat buyers, history too short ...).

    Raise it with a reason in words. In a notebook it stops execution and shows the
    reason as a note instead of a traceback; the runner reports the notebook as
    "not applicable" (not as a failure: the run still exits 0) and its HTML keeps
    every section up to that point. It is a ``ValueError``, so library callers
    that catch ``ValueError`` keep working.

    ``advice`` (optional) tells the analyst what to change, naming the parameter
    (``"pass --param holdout_days=60"``): it is part of the error line the runner
    prints, and of the note in notebooks and reports with code, but reports for
    business readers (``--no-input``) show the reason in words only.
    """

    def __init__(self, reason: str, advice: str | None = None):
        self.reason, self.advice = str(reason), advice
        super().__init__(f"{reason}; {advice}" if advice else str(reason))

    def _render_traceback_(self):  # IPython's hook: what to show instead of a traceback
        from IPython.display import Markdown, display

        from analysis.text import for_analyst, md_text, tr

        lead = tr("This analysis cannot run on this data.")
        advice = f" {for_analyst(md_text(self.advice))}" if self.advice else ""
        display(Markdown(f"> **{lead}** {md_text(self.reason)}{advice}"))
        return [f"{NOT_APPLICABLE}: " + tr("the analysis stops here (reason above).")]


def is_not_applicable(error: str | None) -> bool:
    """Whether a notebook's error line (from the runner) is a :class:`NotApplicable`."""
    return bool(error) and error.startswith(f"{NOT_APPLICABLE}:")
