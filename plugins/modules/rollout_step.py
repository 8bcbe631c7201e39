# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the work is done by plugins/action/rollout_step.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: rollout_step
short_description: Run one step of the deploy role (internal to the role)
version_added: 0.3.0
description:
  - The role M(zerodowntime.rolling.deploy) runs the steps before a host's deploy step as the items of one
    task, and those after it as the items of another, each item on its own host with C(delegate_to). This
    runs the step one item names, with the collection module that does it, as if the task had named that
    module. Playbooks call the modules themselves; this is the role's.
  - An item runs only once every earlier item of its loop succeeded; the items after a failed one are
    returned skipped. ansible-core runs a loop's items one after another in one worker process; an item
    that finds no word of its predecessors there refuses to run.
  - The options of the module group C(zerodowntime.rolling.rolling) (from C(module_defaults)) go to the
    steps run by M(zerodowntime.rolling.lb_drain), M(zerodowntime.rolling.lb_register) and
    M(zerodowntime.rolling.deploy_watch), and to no other.
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  step:
    description:
      - The step. C(check) checks the role's inputs and that the host answers (and writes the deploy token
        when one is set); C(baseline), C(reserve), C(fail_health), C(drain_haproxy_ahead), C(drain_haproxy),
        C(drain_lb), C(verify), C(pass_health), C(register_haproxy_ahead), C(register_haproxy),
        C(register_lb) and C(watch) run a module; C(pause) waits; C(plan) prints the check-mode plan.
    type: str
    required: true
    choices: [check, baseline, reserve, fail_health, drain_haproxy_ahead, drain_haproxy, drain_lb, verify,
              pass_health, register_haproxy_ahead, register_haproxy, register_lb, watch, pause, plan]
  args:
    description:
      - The options of the step's module, or of the step itself.
    type: dict
    default: {}
  item_index:
    description:
      - The item's index in its loop (C(loop_control.index_var)).
    type: int
    required: true
  label:
    description:
      - How the item is named in messages.
    type: str
attributes:
  check_mode:
    support: full
    description: Each step's module runs in check mode; the pause does not wait.
  diff_mode:
    support: none
    description: The steps' modules show no diff.
  platform:
    support: full
    platforms: [posix]
    description: Runs each step's module on the item's host.
notes:
  - Internal to the role M(zerodowntime.rolling.deploy); its options may change between releases.
seealso:
  - module: zerodowntime.rolling.lb_drain
  - module: zerodowntime.rolling.haproxy_maint
  - module: zerodowntime.rolling.deploy_verify
'''

EXAMPLES = r'''
# Internal to the role: see roles/deploy/tasks/out.yml and back.yml.
- name: Take the host out
  zerodowntime.rolling.rollout_step:
    step: "{{ item[0] }}"
    args: "{{ lookup('ansible.builtin.vars', '_deploy_args_' ~ item[0]) }}"
    item_index: "{{ _deploy_item }}"
  loop: [[check, web-1], [drain_haproxy, lb-1]]
  loop_control:
    index_var: _deploy_item
  delegate_to: "{{ item[1] }}"
'''

RETURN = r'''
zdt_step:
  description: The role step the item is part of (check, baseline, drain, verify, register, watch, pause, plan).
  returned: always
  type: str
zdt_module:
  description: The module that ran the step.
  returned: when a module ran
  type: str
zdt_host:
  description: The host the item ran on.
  returned: always
  type: str
zdt_label:
  description: How the item is named.
  returned: always
  type: str
zdt_end:
  description: The check ended the host untouched (deploy_rollback_scope all, the rollout is being undone).
  returned: when the check ends the host
  type: bool
'''
