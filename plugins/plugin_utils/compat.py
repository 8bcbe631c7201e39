# -*- coding: utf-8 -*-
# Copyright: zerodowntime.rolling contributors
# Apache License 2.0 (see the collection's LICENSE)
"""What differs between the ansible-core versions the collection supports.

The action plugins run their Go modules themselves (binary.py), through
ActionBase methods that have no public equivalent. Where those differ
between the tested versions (2.14 and 2.19), the difference is handled here
and nowhere else, by looking for the feature, never by comparing versions:

- 2.19 parses a module's result with the module's serialization profile,
  ``_parse_returned_data(res, profile)``; 2.14 takes ``res`` alone.
- 2.19 writes a binary module's arguments with the profile's JSON encoder,
  which knows the data-tagged values templating now produces; before it,
  Ansible used a plain ``json.dumps``.

The collection's modules are binaries without module metadata: ansible-core
gives those the ``legacy`` profile, and so does this module.
"""

from __future__ import annotations

import inspect
import json

try:
    from ansible.module_utils.common.json import Direction, get_module_encoder
except ImportError:  # ansible-core before 2.19: no serialization profiles
    Direction = get_module_encoder = None

PROFILE = 'legacy'


def _takes(method, name):
    """Whether method (bound) has a parameter called name."""
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def parse_returned_data(action, res):
    """Parse a module's result as ActionBase._execute_module would."""
    if _takes(action._parse_returned_data, 'profile'):
        return action._parse_returned_data(res, PROFILE)
    return action._parse_returned_data(res)


def module_args_json(value):
    """Serialize the arguments for a binary module as ansible-core would."""
    if get_module_encoder is None:
        return json.dumps(value)
    return json.dumps(value, cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE))
