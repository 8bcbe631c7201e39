# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
# Documentation only: the work is done on the controller by plugins/action/run_record.py.

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: run_record
short_description: Read which hosts a rolling deploy moved to the new version
version_added: 0.2.0
description:
  - The role M(zerodowntime.rolling.deploy) keeps a record of each rollout on the controller, in
    C(~/.ansible/zerodowntime_rolling/runs/NAME.json) (directory 0700, file 0600; symlinks refused).
    For every host it touched it holds each step and its outcome, in order, and how the drain found the
    host registered. This reads it and says which hosts are still on the new version.
  - A rollout replaces the record of the same name when it starts; records untouched for 30 days are
    removed.
  - The playbook C(zerodowntime.rolling.undo) uses it to roll those hosts back, last touched first.
  - Runs on the controller only; the hosts are not contacted.
author: zerodowntime.rolling contributors (@zerodowntime)
options:
  name:
    description:
      - The run name, the role's C(deploy_run_name) (by default the play's C(deploy_hosts) pattern, else the
        play's name).
    type: str
    required: true
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  platform:
    support: full
    platforms: [controller]
    description: Runs on the controller, where the record is kept; the hosts are not contacted.
seealso:
  - module: zerodowntime.rolling.deploy_watch
'''

EXAMPLES = r'''
- name: Which hosts did the last rollout of "web" leave on the new version?
  zerodowntime.rolling.run_record:
    name: web
  register: last_run
'''

RETURN = r'''
path:
  description: The record file.
  returned: always
  type: str
found:
  description: Whether there is a record of that name.
  returned: always
  type: bool
undo:
  description: The hosts still on the new version, last touched first.
  returned: always
  type: list
  elements: str
hosts:
  description:
    - Per host touched, C(state) (C(new), C(old) or C(untouched)), C(order), C(restore) (the drain's
      restore entries) and C(steps) (phase, step and outcome, in order).
  returned: always
  type: dict
run:
  description: The id of the ansible-playbook run that wrote the record.
  returned: when found
  type: str
started:
  description: When that run started (seconds since the epoch).
  returned: when found
  type: float
'''
