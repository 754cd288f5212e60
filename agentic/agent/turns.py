"""The loop's model seam: where the next turn of the conversation comes from.

`LiveModel` asks the provider through the Caller (rate limit, retries), under the budget; the
recorded-turns model of a re-driven run (agentic.agent.recorded) answers from a tape and hands
over to a live one when the tape runs out. Either way the turn is charged to the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agentic.agent.caller import Caller
from agentic.agent.conversation import Conversation
from agentic.journal.records import Journal
from agentic.models.base import Turn
from agentic.policy.budget import Budget


class Answerer(Protocol):
    """Answers the conversation so far with the model's next turn (journaled and charged)."""

    @property
    def name(self) -> str: ...

    def answer(self, talk: Conversation, step: int) -> Turn: ...


def journal_response(journal: Journal, budget: Budget, turn: Turn, step: int, recorded: str | None = None) -> None:
    """The `model.response` record; `recorded`: the run whose tape the turn came from."""
    extra = {"recorded": recorded} if recorded is not None else {}
    journal.append("model.response", {**turn.to_dict(), **extra, "budget": budget.to_dict()}, step=step)


@dataclass
class LiveModel:
    """The provider's model, asked through the Caller; each call checked against the budget first."""

    caller: Caller

    @property
    def name(self) -> str:
        return self.caller.model.name

    def answer(self, talk: Conversation, step: int) -> Turn:
        journal, budget = self.caller.journal, self.caller.budget
        talk.send(journal, self.name, step, budget.output_cap)
        prompt_tokens = talk.estimate()
        budget.before_model_call(prompt_tokens)
        turn = self.caller.complete(talk.messages, talk.specs, step, prompt_tokens)
        turn.cost_usd = budget.price.cost(turn.usage) if budget.price is not None else None
        budget.charge(turn.usage, turn.cost_usd)
        journal_response(journal, budget, turn, step)
        return turn
