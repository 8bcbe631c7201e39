# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""The play's strategy, which decides whether a drain may wait for capacity.

Under ``free`` and ``host_pinned`` the hosts of a batch move on their own, so
a drain refused by min_healthy can wait for an earlier host of the batch to
register again. Under ``linear`` (and ``debug``) every host of the batch runs
the drain task before any runs the next one: a wait would only use up the
timeout. ansible-core exposes no public way to ask a task for its play's
strategy: 2.19 has ``Task.get_play()``, 2.14 does not, and both keep the play
on the task's nearest Block; this module is the one place that reads it.
"""

from __future__ import annotations

# Strategies whose hosts move on their own (mitogen's keep the names).
INDEPENDENT = frozenset(('free', 'host_pinned', 'mitogen_free', 'mitogen_host_pinned'))

WAIT_OPTION = 'wait_for_capacity'


def play_strategy(task):
    """Return the strategy of the play task belongs to, or None if it cannot
    be found (or is an unrendered template)."""
    play = None
    get_play = getattr(task, 'get_play', None)
    if get_play is not None:  # ansible-core 2.19
        try:
            play = get_play()
        except AttributeError:  # a parent chain without a Block
            play = None
    else:  # 2.14: the nearest Block holds the play
        parent, depth = getattr(task, '_parent', None), 0
        while parent is not None and depth < 100:
            if hasattr(parent, '_play'):
                play = parent._play
                break
            parent, depth = getattr(parent, '_parent', None), depth + 1
    strategy = getattr(play, 'strategy', None)
    if not isinstance(strategy, str) or '{{' in strategy:
        return None
    return strategy


def waits_for_capacity(strategy):
    """Whether a drain may wait for capacity under strategy (a name such as
    free or ansible.builtin.free; None when unknown)."""
    if not strategy:
        return False
    name = strategy
    if name.startswith('ansible.builtin.'):
        name = name[len('ansible.builtin.'):]
    return name in INDEPENDENT


def set_wait_for_capacity(task):
    """Set the task's wait_for_capacity from its play's strategy, unless
    the task sets it."""
    if WAIT_OPTION not in task.args:
        task.args[WAIT_OPTION] = waits_for_capacity(play_strategy(task))
