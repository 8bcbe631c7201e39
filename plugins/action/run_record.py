# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""Read a rolling deploy's run record on the controller (plugin_utils.record)."""
from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.zerodowntime.rolling.plugins.plugin_utils import record

SPEC = {'name': {'type': 'str', 'required': True}}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars)
        checked = ArgumentSpecValidator(SPEC).validate(self._task.args)
        if checked.error_messages:
            raise AnsibleActionFail('run_record: %s' % '; '.join(checked.error_messages))
        name = checked.validated_parameters['name']
        try:
            rec = record.read(name)
        except record.RecordError as e:
            raise AnsibleActionFail(str(e))
        hosts = {}
        for host, h in sorted(((rec or {}).get('hosts') or {}).items(), key=lambda kv: kv[1].get('order', 0)):
            hosts[host] = {'state': record.host_state(h), 'order': h.get('order', 0),
                           'restore': h.get('restore') or [],
                           'steps': ['%s %s%s' % (e['phase'], e['step'], '' if e['ok'] else ' (failed)')
                                     for e in h.get('events', [])]}
        undo = record.undo_hosts(rec)
        result.update(changed=False, path=record.record_path(name), found=rec is not None, hosts=hosts,
                      undo=undo, run=(rec or {}).get('run'), started=(rec or {}).get('started'),
                      msg=('no run record named %s' % name if rec is None
                           else '%d host(s) still on the new version: %s' % (len(undo), ', '.join(undo))
                           if undo else 'every host the run touched is back on the old version'))
        return result
