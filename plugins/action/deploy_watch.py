# -*- coding: utf-8 -*-
# Runs the deploy_watch Go binary built for the target's platform.
from __future__ import annotations
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils.binary import BinaryModuleAction


class ActionModule(BinaryModuleAction):
    module_name = 'deploy_watch'

    def needs_cloud_build(self, args):
        # The host build holds deploy_watch for providers haproxy and none;
        # the cloud providers' signals need the SDKs of the full build.
        return args.get('provider') in ('hetzner', 'aws')
