"""Evaluations: scenarios run several times, their statistics and the reports of them.

The public surface the CLI uses; the modules hold one job each (`stats`, `compare`, `summaryfile`,
`junit`, `markdown`, `table`, `html`, `scenarios`, `runner` and its helpers).
"""

from agentic.eval.compare import Comparison as Comparison
from agentic.eval.compare import compare as compare
from agentic.eval.html import eval_page as eval_page
from agentic.eval.html import write_html as write_html
from agentic.eval.junit import write_junit as write_junit
from agentic.eval.markdown import markdown as markdown
from agentic.eval.markdown import write_markdown as write_markdown
from agentic.eval.stats import Attempt as Attempt
from agentic.eval.stats import EvalSummary as EvalSummary
from agentic.eval.stats import pass_at_k as pass_at_k
from agentic.eval.stats import pass_hat_k as pass_hat_k
from agentic.eval.stats import summarize as summarize
from agentic.eval.stats import wilson_interval as wilson_interval
from agentic.eval.summaryfile import dump_summary as dump_summary
from agentic.eval.summaryfile import dumps_summary as dumps_summary
from agentic.eval.summaryfile import load_summary as load_summary
from agentic.eval.summaryfile import loads_summary as loads_summary
from agentic.eval.table import render_table as render_table
from agentic.eval.text import headline as headline
