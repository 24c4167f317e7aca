"""State machines for device apps, as pydoover's ``pydoover.state`` provides them.

``StateMachine`` is the ``transitions`` library's ``AsyncMachine`` whose states understand
``timeout`` (seconds) and ``on_timeout`` (what to call when the state has lasted that long).
An app declares its states and transitions as lists of dicts, hands itself over as the
``model``, and ``transitions`` adds to it a ``state`` attribute, one coroutine per trigger
(``await self.start()``), ``is_<state>()`` checks, ``may_<trigger>()`` and the
``to_<state>()`` shortcuts. Model methods named ``on_enter_<state>``, ``on_exit_<state>`` and
``on_timeout_<state>`` are called on their own; callbacks may be ``def`` or ``async def``::

    class PumpState:
        state: str

        states = [
            {"name": "off"},
            {"name": "starting", "timeout": 30, "on_timeout": "start_failed"},
            {"name": "running"},
            {"name": "error"},
        ]
        transitions = [
            {"trigger": "start", "source": "off", "dest": "starting"},
            {"trigger": "started", "source": "starting", "dest": "running"},
            {"trigger": "start_failed", "source": "starting", "dest": "error"},
        ]

        def __init__(self) -> None:
            self.state_machine = StateMachine(
                states=self.states,
                transitions=self.transitions,
                model=self,
                initial="off",
                queued=True,
            )

        async def on_enter_running(self) -> None: ...

A trigger that is not allowed from the current state raises :class:`MachineError`, unless
the machine (or the state) was made with ``ignore_invalid_triggers=True``, when it is dropped
and the state stays as it was (with ``queued=True`` the trigger's return value is ``True``
either way, so check ``state``). Timeouts run as tasks on the event loop the state was
entered on and are cancelled when the state is left.

``SyncStateMachine`` is the same for apps whose ``setup``/``main_loop`` are plain ``def``:
triggers are ordinary methods, the machine is locked so a timeout (fired from a timer
thread) and the app's thread do not interleave, and callbacks must be plain ``def``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from transitions import MachineError, State
from transitions.extensions.asyncio import AsyncMachine, AsyncState, AsyncTimeout
from transitions.extensions.locking import LockedMachine
from transitions.extensions.states import Timeout

if TYPE_CHECKING:  # aliases that exist only in the library's stubs
    from transitions.core import CallbacksArg, StateConfig

__all__ = [
    "MachineError",
    "StateMachine",
    "SyncStateMachine",
    "SyncTimeoutState",
    "TimeoutState",
]


class TimeoutState(AsyncTimeout):
    """An async state that also takes ``timeout`` and ``on_timeout``.

    ``dynamic_methods`` lists the model methods bound by name (``on_enter_<state>``, ...);
    the timeout mixin names only its own, so the state's are added back here.
    """

    dynamic_methods = [*AsyncState.dynamic_methods, *AsyncTimeout.dynamic_methods]  # noqa: RUF012


class SyncTimeoutState(Timeout):
    """A plain state that also takes ``timeout`` and ``on_timeout`` (run from a timer thread)."""

    dynamic_methods = [*State.dynamic_methods, *Timeout.dynamic_methods]  # noqa: RUF012


class StateMachine(AsyncMachine):
    """``transitions.extensions.asyncio.AsyncMachine`` with ``timeout``/``on_timeout`` states.

    Takes ``AsyncMachine``'s arguments: ``model``, ``states``, ``transitions``, ``initial``,
    ``queued``, ``ignore_invalid_triggers``, ``send_event``, ``auto_transitions``, ...
    """

    # TimeoutState is an AsyncState; the library's stubs declare this attribute as the nested
    # variant's state class, which the flat machine does not use.
    state_cls = TimeoutState  # type: ignore[assignment]

    def add_states(
        self,
        states: Sequence[StateConfig] | StateConfig,
        on_enter: CallbacksArg = None,
        on_exit: CallbacksArg = None,
        ignore_invalid_triggers: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().add_states(_copied(states), on_enter, on_exit, ignore_invalid_triggers, **kwargs)


class SyncStateMachine(LockedMachine):
    """``StateMachine`` for synchronous apps: plain trigger methods, thread-timer timeouts."""

    state_cls = SyncTimeoutState

    def add_states(
        self,
        states: Sequence[StateConfig] | StateConfig,
        on_enter: CallbacksArg = None,
        on_exit: CallbacksArg = None,
        ignore_invalid_triggers: bool | None = None,
        **kwargs: Any,
    ) -> None:
        # The same copy as StateMachine's: its zero-argument super() cannot be shared.
        super().add_states(_copied(states), on_enter, on_exit, ignore_invalid_triggers, **kwargs)


def _copied(states: Sequence[StateConfig] | StateConfig) -> Sequence[StateConfig] | StateConfig:
    """Shallow copies of dict state configs.

    ``transitions`` writes the machine's ``ignore_invalid_triggers`` into each dict it is
    given; apps keep ``states`` on the class, so without a copy the first machine's setting
    would stick to every later instance.
    """
    if isinstance(states, dict):
        return dict(states)
    if isinstance(states, list | tuple):
        return [dict(state) if isinstance(state, dict) else state for state in states]
    return states
