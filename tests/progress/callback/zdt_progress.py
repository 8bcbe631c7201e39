# -*- coding: utf-8 -*-
# A test-only callback: when ZDT_PROGRESS_FILE names a file, append one line
# per task start and per host result to it, so that a test that runs out of
# time can say which step each host was in (the json stdout callback writes
# nothing until the play ends). tests/ansibletest enables it.
from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'zdt_progress'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get('ZDT_PROGRESS_FILE', '')

    def _write(self, **event):
        if not self._path:
            return
        event['time'] = time.time()
        with open(self._path, 'a', encoding='utf-8') as f:
            f.write(json.dumps(event) + '\n')

    def v2_runner_on_start(self, host, task):
        self._write(event='start', host=host.get_name(), task=task.get_name())

    def _result(self, result, status):
        self._write(event=status, host=result._host.get_name(), task=result._task.get_name())

    def v2_runner_on_ok(self, result):
        self._result(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._result(result, 'unreachable')
