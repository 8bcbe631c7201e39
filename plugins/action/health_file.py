# -*- coding: utf-8 -*-
# Runs the health_file Go binary built for the target's platform.
from __future__ import annotations
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.binary import BinaryModuleAction


class ActionModule(BinaryModuleAction):
    module_name = 'health_file'
