# -*- coding: utf-8 -*-
# Runs the haproxy_maint Go binary built for the target's platform.
from __future__ import annotations
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.binary import BinaryModuleAction
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.strategy import set_wait_for_capacity


class ActionModule(BinaryModuleAction):
    module_name = 'haproxy_maint'

    def run(self, tmp=None, task_vars=None):
        # wait_for_capacity, unless given, follows the play's strategy.
        set_wait_for_capacity(self._task)
        return super(ActionModule, self).run(tmp, task_vars)
